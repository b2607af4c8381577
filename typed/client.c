/* The typed synchronous client layer over the client call and a transport. */
#include <string.h>

#include "buf.h"
#include "connectc/client.h"
#include "proto_internal.h"

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
  out->cap_messages = 0;
  connectc_headers_reset(&out->headers);
  connectc_headers_reset(&out->trailers);
  connectc_error_reset(&out->error);
}

/* The client call configuration of one call of `method`. */
static void call_config(const connectc_client *client, const connectc_method_desc *method,
                        const connectc_call_options *opts, int async,
                        connectc_client_config *cfg) {
  memset(cfg, 0, sizeof *cfg);
  cfg->procedure = method->procedure;
  cfg->stream_type = method->stream_type;
  cfg->codec = client->codec->name;
  cfg->send_compression = client->send_compression;
  cfg->limits = client->limits;
  cfg->timeout_ms = opts ? opts->timeout_ms : 0;
  cfg->use_get = client->use_get && method->no_side_effects &&
                 method->stream_type == CONNECTC_STREAM_UNARY;
  cfg->interceptors = client->interceptors;
  cfg->n_interceptors = client->n_interceptors;
  cfg->on_stats = client->on_stats;
  cfg->stats_user_data = client->stats_user_data;
  cfg->protocol = client->protocol;
  /* Borrowed: the transport, driven by one thread, lends it to each call. */
  cfg->compress_ctx = client->transport.compress_ctx;
  /* Synchronous calls send everything first: half duplex by nature. */
  cfg->full_duplex = async && opts && opts->full_duplex;
}

static int add_option_headers(connectc_client_call *call, const connectc_call_options *opts) {
  int rv = CONNECTC_OK;
  for (size_t i = 0; rv == CONNECTC_OK && opts && opts->headers && i < opts->headers->len; i++)
    rv = connectc_client_call_add_header(call, opts->headers->items[i].name,
                                         opts->headers->items[i].value);
  return rv;
}

typedef struct invocation {
  const connectc_client *client;
  const ProtobufCMessageDescriptor *output;
  connectc_call_output *out;
  const connectc_call_options *opts;
  int decode_failed;
  size_t decoded, max_decoded; /* memory the collected messages took */
} invocation;

static int inv_headers(connectc_client_call *call, const connectc_headers *h, void *ud) {
  (void)call;
  invocation *inv = ud;
  if (inv->out->discard_metadata) return 0;
  return connectc_headers_append_all(&inv->out->headers, h) == CONNECTC_OK ? 0 : 1;
}

static int inv_message(connectc_client_call *call, const uint8_t *data, size_t len, void *ud) {
  (void)call;
  invocation *inv = ud;
  connectc_call_output *out = inv->out;
  const connectc_codec *codec = inv->client->codec;
  ProtobufCMessage *m = NULL;
  if (inv->opts && inv->opts->on_message) {
    /* One at a time: only the codec's own per-message limit applies. */
    if (codec->unmarshal(codec, inv->output, data, len, NULL, &out->alloc, &m, &out->error) !=
        CONNECTC_OK) {
      inv->decode_failed = 1;
      return 1;
    }
    return inv->opts->on_message(m, inv->opts->on_message_arg) != 0;
  }
  cc_budget budget;
  cc_budget_init(&budget, &out->alloc, inv->max_decoded - inv->decoded);
  connectc_codec_options copts = {.max_decoded_bytes = inv->max_decoded - inv->decoded};
  int rv = codec->unmarshal(codec, inv->output, data, len, &copts, &budget.alloc, &m, &out->error);
  inv->decoded += budget.used;
  /* The array of collected messages grows geometrically and counts too. */
  size_t ncap = out->cap_messages;
  if (rv == CONNECTC_OK && out->n_messages == ncap) {
    ncap = ncap ? ncap * 2 : 4;
    size_t grow = (ncap - out->cap_messages) * sizeof *out->messages;
    if (grow > inv->max_decoded - inv->decoded) rv = CONNECTC_ERR_LIMIT;
    else inv->decoded += grow;
  }
  if (rv != CONNECTC_OK && (budget.exceeded || rv == CONNECTC_ERR_LIMIT)) {
    connectc_message_free(m, &out->alloc);
    inv->decode_failed = 1;
    connectc_error_set(&out->error, CONNECTC_CODE_RESOURCE_EXHAUSTED,
                       "the response messages collected take more than %zu bytes of memory once "
                       "decoded (limits.decoded_max_bytes) after %zu messages: read a long stream "
                       "one message at a time with connectc_call_options.on_message",
                       inv->max_decoded, out->n_messages);
    return 1;
  }
  if (rv != CONNECTC_OK) {
    inv->decode_failed = 1; /* keep the codec's error, not the cancel */
    return 1;
  }
  if (ncap != out->cap_messages) {
    ProtobufCMessage **nm = cc_realloc(&out->alloc, out->messages, ncap * sizeof *nm);
    if (!nm) {
      connectc_message_free(m, &out->alloc);
      inv->decode_failed = 1;
      connectc_error_set(&out->error, CONNECTC_CODE_RESOURCE_EXHAUSTED,
                         "out of memory keeping a response");
      return 1;
    }
    out->messages = nm;
    out->cap_messages = ncap;
  }
  out->messages[out->n_messages++] = m;
  return 0;
}

static void inv_close(connectc_client_call *call, const connectc_error *err,
                      const connectc_headers *trailers, void *ud) {
  (void)call;
  invocation *inv = ud;
  if (!inv->decode_failed) connectc_error_copy(&inv->out->error, err);
  if (!inv->out->discard_metadata) connectc_headers_append_all(&inv->out->trailers, trailers);
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
  call_config(client, method, opts, 0, &cfg);
  size_t max_decoded = client->limits.decoded_max_bytes ? client->limits.decoded_max_bytes
                                                         : CONNECTC_DEFAULT_DECODED_MAX_BYTES;
  invocation inv = {client, output, out, opts, 0, 0, max_decoded};
  connectc_client_callbacks cb = {
      .on_headers = inv_headers, .on_message = inv_message, .on_close = inv_close};
  int64_t now = client->transport.now_ms ? client->transport.now_ms(client->transport.ctx) : 0;
  connectc_client_call *call = NULL;
  int rv = connectc_client_call_new(&cfg, &cb, &inv, &out->alloc, now, &call);
  if (rv) return rv;
  rv = add_option_headers(call, opts);
  for (size_t i = 0; rv == CONNECTC_OK && i < n_requests; i++) {
    uint8_t stack[CC_SMALL_MESSAGE], *bytes = NULL;
    const uint8_t *data = NULL;
    size_t len = 0;
    rv = cc_marshal_small(client->codec, requests[i], stack, sizeof stack, &out->alloc, &data, &len,
                          &bytes, &out->error);
    if (rv == CONNECTC_OK) {
      rv = connectc_client_call_send(call, data, len);
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

/* ------------------------------------------------------------------ */
/* Asynchronous streams                                                */
/* ------------------------------------------------------------------ */

struct connectc_async_call {
  connectc_client client; /* a copy: the options of this call */
  const ProtobufCMessageDescriptor *output;
  connectc_client_call *call;
  connectc_async_call_callbacks cb;
  void *user_data;
  void *typed;             /* copy of cb.typed */
  connectc_allocator alloc;
  connectc_error decode_error;
  int decode_failed;
  int started;             /* handed to the transport */
  int transport_holds;     /* started and not yet released by it */
  int user_released;       /* connectc_async_call_del was called */
  int depth;               /* our own calls into the core or transport in progress */
  int single_request;      /* unary or server streaming */
  int quiet;               /* inside connectc_async_call_new: no callbacks */
};

static void stream_free_now(connectc_async_call *s) {
  connectc_client_call_del(s->call);
  connectc_error_reset(&s->decode_error);
  cc_free(&s->alloc, s->typed);
  connectc_allocator a = s->alloc;
  cc_free(&a, s);
}

/* Frees the stream once nobody can reach it any more. */
static void stream_maybe_free(connectc_async_call *s) {
  if (s->user_released && !s->transport_holds && s->depth == 0) stream_free_now(s);
}

static void stream_released(void *arg) {
  connectc_async_call *s = arg;
  s->transport_holds = 0;
  stream_maybe_free(s);
}

static int st_headers(connectc_client_call *call, const connectc_headers *h, void *ud) {
  (void)call;
  connectc_async_call *s = ud;
  if (!s->user_released && s->cb.on_headers) s->cb.on_headers(s, h, s->user_data);
  return 0;
}

static int st_message(connectc_client_call *call, const uint8_t *data, size_t len, void *ud) {
  (void)call;
  connectc_async_call *s = ud;
  if (s->user_released) return 0;
  const connectc_codec *codec = s->client.codec;
  ProtobufCMessage *m = NULL;
  if (codec->unmarshal(codec, s->output, data, len, NULL, &s->alloc, &m, &s->decode_error) !=
      CONNECTC_OK) {
    s->decode_failed = 1; /* on_close reports the codec's error, not the cancel */
    return 1;
  }
  if (s->cb.on_message) s->cb.on_message(s, m, s->user_data);
  else connectc_message_free(m, &s->alloc);
  return 0;
}

static void st_close(connectc_client_call *call, const connectc_error *err,
                     const connectc_headers *trailers, void *ud) {
  (void)call;
  connectc_async_call *s = ud;
  if (s->quiet) return; /* a refused start: connectc_async_call_new reports it */
  if (s->cb.on_close)
    s->cb.on_close(s, s->decode_failed ? &s->decode_error : err, trailers, s->user_data);
}

/* Hands the call to the transport once its request head is known. */
static int stream_start(connectc_async_call *s) {
  if (s->started || connectc_client_call_is_closed(s->call)) return CONNECTC_OK;
  connectc_request_head head;
  if (connectc_client_call_request_head(s->call, &head) != CONNECTC_OK) return CONNECTC_OK;
  int rv = s->client.transport.start(s->client.transport.ctx, s->call, stream_released, s);
  if (rv != CONNECTC_OK) return rv;
  s->started = 1;
  s->transport_holds = 1;
  return CONNECTC_OK;
}

static void stream_wake(connectc_async_call *s) {
  if (s->transport_holds) s->client.transport.wake(s->client.transport.ctx, s->call);
}

int connectc_async_call_new(const connectc_client *client, const connectc_method_desc *method,
                               const ProtobufCMessageDescriptor *output,
                               const connectc_call_options *opts,
                               const connectc_async_call_callbacks *cb, void *user_data,
                               connectc_async_call **out) {
  if (!out) return CONNECTC_ERR_ARGUMENT;
  *out = NULL;
  if (!client || !client->codec || !method || !output || !cb || (cb->typed_size && !cb->typed))
    return CONNECTC_ERR_ARGUMENT;
  if (!client->transport.start || !client->transport.wake) return CONNECTC_ERR_UNSUPPORTED;
  const connectc_allocator *a = cc_alloc_or_default(client->alloc);
  connectc_async_call *s = cc_malloc(a, sizeof *s);
  if (!s) return CONNECTC_ERR_NOMEM;
  memset(s, 0, sizeof *s);
  s->client = *client;
  s->output = output;
  s->cb = *cb;
  s->user_data = user_data;
  s->alloc = *a;
  s->single_request = method->stream_type == CONNECTC_STREAM_UNARY ||
                      method->stream_type == CONNECTC_STREAM_SERVER;
  connectc_error_init(&s->decode_error, &s->alloc);
  if (cb->typed_size) {
    s->typed = cc_malloc(&s->alloc, cb->typed_size);
    if (!s->typed) {
      cc_free(&s->alloc, s);
      return CONNECTC_ERR_NOMEM;
    }
    memcpy(s->typed, cb->typed, cb->typed_size);
  }
  connectc_client_config cfg;
  call_config(client, method, opts, 1, &cfg);
  connectc_client_callbacks ccb = {
      .on_headers = st_headers, .on_message = st_message, .on_close = st_close};
  int64_t now = client->transport.now_ms ? client->transport.now_ms(client->transport.ctx) : 0;
  int rv = connectc_client_call_new(&cfg, &ccb, s, &s->alloc, now, &s->call);
  if (rv == CONNECTC_OK) rv = add_option_headers(s->call, opts);
  s->quiet = 1;
  if (rv == CONNECTC_OK) rv = stream_start(s);
  s->quiet = 0;
  if (rv != CONNECTC_OK) {
    stream_free_now(s);
    return rv;
  }
  *out = s;
  return CONNECTC_OK;
}

int connectc_async_call_send(connectc_async_call *s, const ProtobufCMessage *message) {
  if (!s || !message || s->user_released) return CONNECTC_ERR_ARGUMENT;
  if (connectc_client_call_is_closed(s->call)) return CONNECTC_ERR_STATE;
  s->depth++;
  uint8_t stack[CC_SMALL_MESSAGE], *bytes = NULL;
  const uint8_t *data = NULL;
  size_t len = 0;
  connectc_error e;
  connectc_error_init(&e, &s->alloc);
  int rv = cc_marshal_small(s->client.codec, message, stack, sizeof stack, &s->alloc, &data, &len,
                            &bytes, &e);
  if (rv == CONNECTC_OK) {
    rv = connectc_client_call_send(s->call, data, len);
  } else if (s->single_request) {
    /* The only request cannot be sent: that is the call's outcome. */
    connectc_client_call_fail(s->call, e.code != CONNECTC_CODE_OK ? e.code : CONNECTC_CODE_INTERNAL,
                              e.message ? e.message : "the request could not be marshaled");
  }
  connectc_error_reset(&e);
  cc_free(&s->alloc, bytes);
  if (rv == CONNECTC_OK) {
    rv = stream_start(s);
    if (rv != CONNECTC_OK)
      connectc_client_call_fail(s->call, CONNECTC_CODE_UNAVAILABLE,
                                "the transport could not start the call");
  }
  stream_wake(s);
  s->depth--;
  stream_maybe_free(s);
  return rv;
}

int connectc_async_call_close_send(connectc_async_call *s) {
  if (!s || s->user_released) return CONNECTC_ERR_ARGUMENT;
  s->depth++;
  int rv = connectc_client_call_close_send(s->call);
  stream_wake(s);
  s->depth--;
  stream_maybe_free(s);
  return rv;
}

void connectc_async_call_cancel(connectc_async_call *s) {
  if (!s || s->user_released) return;
  s->depth++;
  connectc_client_call_cancel(s->call);
  stream_wake(s);
  s->depth--;
  stream_maybe_free(s);
}

void connectc_async_call_del(connectc_async_call *s) {
  if (!s || s->user_released) return;
  s->depth++;
  if (!connectc_client_call_is_closed(s->call)) {
    connectc_client_call_cancel(s->call);
    stream_wake(s);
  }
  s->user_released = 1;
  s->depth--;
  stream_maybe_free(s);
}

int connectc_async_call_is_closed(const connectc_async_call *s) {
  return s ? connectc_client_call_is_closed(s->call) : 1;
}

const connectc_allocator *connectc_async_call_allocator(const connectc_async_call *s) {
  return &s->alloc;
}

const void *connectc_async_call_typed(const connectc_async_call *s) { return s->typed; }

void *connectc_async_call_user_data(const connectc_async_call *s) { return s->user_data; }
