/* The typed synchronous client layer over the client call and a transport. */
#include <string.h>

#include "buf.h"
#include "connectc/client.h"

void connectc_client_init(connectc_client *c, connectc_transport transport) {
  memset(c, 0, sizeof *c);
  c->transport = transport;
  c->codec = connectc_codec_proto();
}

void connectc_call_output_init(connectc_call_output *out, const connectc_allocator *alloc) {
  memset(out, 0, sizeof *out);
  out->alloc = *cc_alloc_or_default(alloc);
  connectc_headers_init(&out->headers, &out->alloc);
  connectc_headers_init(&out->trailers, &out->alloc);
  connectc_error_init(&out->error, &out->alloc);
}

void connectc_call_output_reset(connectc_call_output *out) {
  for (size_t i = 0; i < out->n_messages; i++) connectc_message_free(out->messages[i], &out->alloc);
  cc_free(&out->alloc, out->messages);
  out->messages = NULL;
  out->n_messages = 0;
  connectc_headers_reset(&out->headers);
  connectc_headers_reset(&out->trailers);
  connectc_error_reset(&out->error);
}

typedef struct invocation {
  const connectc_client *client;
  const ProtobufCMessageDescriptor *output;
  connectc_call_output *out;
  int decode_failed;
} invocation;

static int inv_headers(connectc_client_call *call, const connectc_headers *h, void *ud) {
  (void)call;
  invocation *inv = ud;
  return connectc_headers_append_all(&inv->out->headers, h) == CONNECTC_OK ? 0 : 1;
}

static int inv_message(connectc_client_call *call, const uint8_t *data, size_t len, void *ud) {
  (void)call;
  invocation *inv = ud;
  connectc_call_output *out = inv->out;
  const connectc_codec *codec = inv->client->codec;
  ProtobufCMessage *m = NULL;
  if (codec->unmarshal(codec, inv->output, data, len, NULL, &out->alloc, &m, &out->error) !=
      CONNECTC_OK) {
    inv->decode_failed = 1; /* keep the codec's error, not the cancel */
    return 1;
  }
  ProtobufCMessage **nm = cc_realloc(&out->alloc, out->messages, (out->n_messages + 1) * sizeof *nm);
  if (!nm) {
    connectc_message_free(m, &out->alloc);
    inv->decode_failed = 1;
    connectc_error_set(&out->error, CONNECTC_CODE_RESOURCE_EXHAUSTED, "out of memory keeping a response");
    return 1;
  }
  out->messages = nm;
  out->messages[out->n_messages++] = m;
  return 0;
}

static void inv_close(connectc_client_call *call, const connectc_error *err,
                      const connectc_headers *trailers, void *ud) {
  (void)call;
  invocation *inv = ud;
  if (!inv->decode_failed) connectc_error_copy(&inv->out->error, err);
  connectc_headers_append_all(&inv->out->trailers, trailers);
}

int connectc_client_invoke(const connectc_client *client, const connectc_method_desc *method,
                           const ProtobufCMessageDescriptor *output,
                           const ProtobufCMessage *const *requests, size_t n_requests,
                           const connectc_call_options *opts, connectc_call_output *out) {
  if (!client || !client->transport.perform || !client->codec || !method || !output || !out ||
      (n_requests && !requests))
    return CONNECTC_ERR_ARGUMENT;
  int one_request = method->stream_type == CONNECTC_STREAM_UNARY ||
                    method->stream_type == CONNECTC_STREAM_SERVER;
  if (one_request && n_requests != 1) return CONNECTC_ERR_ARGUMENT;
  connectc_client_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.procedure = method->procedure;
  cfg.stream_type = method->stream_type;
  cfg.codec = client->codec->name;
  cfg.send_compression = client->send_compression;
  cfg.limits = client->limits;
  cfg.timeout_ms = opts ? opts->timeout_ms : 0;
  cfg.use_get = client->use_get && method->no_side_effects &&
                method->stream_type == CONNECTC_STREAM_UNARY;
  invocation inv = {client, output, out, 0};
  connectc_client_callbacks cb = {inv_headers, inv_message, inv_close};
  int64_t now = client->transport.now_ms ? client->transport.now_ms(client->transport.ctx) : 0;
  connectc_client_call *call = NULL;
  int rv = connectc_client_call_new(&cfg, &cb, &inv, &out->alloc, now, &call);
  if (rv) return rv;
  for (size_t i = 0; rv == CONNECTC_OK && opts && opts->headers && i < opts->headers->len; i++) {
    const connectc_header *h = &opts->headers->items[i];
    rv = connectc_client_call_add_header(call, h->name, h->value);
  }
  for (size_t i = 0; rv == CONNECTC_OK && i < n_requests; i++) {
    uint8_t *bytes = NULL;
    size_t len = 0;
    rv = client->codec->marshal(client->codec, requests[i], &out->alloc, &bytes, &len, &out->error);
    if (rv == CONNECTC_OK) {
      rv = connectc_client_call_send(call, bytes, len);
      /* A send limit closes the call with the error already recorded. */
      if (rv == CONNECTC_ERR_LIMIT) rv = CONNECTC_OK;
    }
    cc_free(&out->alloc, bytes);
  }
  if (rv == CONNECTC_OK) rv = connectc_client_call_close_send(call);
  if (rv == CONNECTC_OK && !connectc_client_call_is_closed(call))
    rv = client->transport.perform(client->transport.ctx, call);
  connectc_client_call_del(call);
  return rv;
}
