/*
 * eliza_client: talks to eliza_server over HTTP/1.1 with libcurl.
 *
 *   eliza_client [base-url]   (default http://127.0.0.1:8080)
 *
 * One unary Say (with Connect GET, since Say has no side effects), one
 * server-streaming Introduce, and one bidirectional Converse (half-duplex:
 * everything is sent, then the answers are read). Exits non-zero if any
 * call fails.
 */
#include <stdio.h>
#include <string.h>

#include "connectc/codec.h"
#include "connectc/curl.h"
#include "eliza.connect.h"
#include "eliza.pb-c.h"

typedef struct printer {
  const ProtobufCMessageDescriptor *desc;
  const char *label;
  int ok;
} printer;

static int on_message(connectc_client_call *c, const uint8_t *data, size_t len, void *ud) {
  (void)c;
  printer *p = ud;
  const connectc_codec *codec = connectc_codec_proto();
  ProtobufCMessage *m = NULL;
  if (codec->unmarshal(codec, p->desc, data, len, NULL, NULL, &m, NULL) != CONNECTC_OK) return 1;
  /* Every Eliza response has `string sentence = 1`. */
  const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(p->desc, 1);
  const char *sentence = *(char *const *)((const char *)m + f->offset);
  printf("  %s <- %s\n", p->label, sentence);
  connectc_message_free(m, NULL);
  return 0;
}

static void on_close(connectc_client_call *c, const connectc_error *err,
                     const connectc_headers *trailers, void *ud) {
  (void)c;
  (void)trailers;
  printer *p = ud;
  p->ok = err->code == CONNECTC_CODE_OK;
  printf("  %s: %s%s%s\n", p->label, connectc_code_name(err->code), err->message ? ": " : "",
         err->message ? err->message : "");
}

static int run(connectc_curl *t, const connectc_method_desc *m, const ProtobufCMessageDescriptor *out,
               const char *label, const ProtobufCMessage *const *requests, int use_get) {
  printer p = {out, label, 0};
  connectc_client_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.procedure = m->procedure;
  cfg.stream_type = m->stream_type;
  cfg.codec = "proto";
  cfg.send_compression = CONNECTC_COMPRESSION_GZIP;
  cfg.limits.compress_min_bytes = 256; /* small messages go uncompressed */
  cfg.timeout_ms = 5000;
  cfg.use_get = use_get;
  connectc_client_callbacks cb = {NULL, on_message, on_close};
  connectc_client_call *call = NULL;
  if (connectc_client_call_new(&cfg, &cb, &p, NULL, connectc_curl_now_ms(), &call) != CONNECTC_OK)
    return 0;
  const connectc_codec *codec = connectc_codec_proto();
  for (size_t i = 0; requests[i]; i++) {
    uint8_t *bytes;
    size_t len;
    codec->marshal(codec, requests[i], NULL, &bytes, &len, NULL);
    connectc_client_call_send(call, bytes, len);
    connectc_free(NULL, bytes);
  }
  connectc_client_call_close_send(call);
  printf("%s (%s%s)\n", label, m->procedure, use_get ? ", GET" : "");
  connectc_curl_perform(t, call);
  connectc_client_call_del(call);
  return p.ok;
}

int main(int argc, char **argv) {
  const char *url = argc > 1 ? argv[1] : "http://127.0.0.1:8080";
  connectc_curl_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.base_url = url;
  connectc_curl *t = NULL;
  if (connectc_curl_new(&cfg, NULL, &t) != CONNECTC_OK) return 1;

  Connectrpc__Eliza__V1__SayRequest say = CONNECTRPC__ELIZA__V1__SAY_REQUEST__INIT;
  say.sentence = "Hello, Eliza";
  const ProtobufCMessage *say_reqs[] = {&say.base, NULL};

  Connectrpc__Eliza__V1__IntroduceRequest intro = CONNECTRPC__ELIZA__V1__INTRODUCE_REQUEST__INIT;
  intro.name = "Ada";
  const ProtobufCMessage *intro_reqs[] = {&intro.base, NULL};

  Connectrpc__Eliza__V1__ConverseRequest c1 = CONNECTRPC__ELIZA__V1__CONVERSE_REQUEST__INIT;
  Connectrpc__Eliza__V1__ConverseRequest c2 = CONNECTRPC__ELIZA__V1__CONVERSE_REQUEST__INIT;
  Connectrpc__Eliza__V1__ConverseRequest c3 = CONNECTRPC__ELIZA__V1__CONVERSE_REQUEST__INIT;
  c1.sentence = "I feel tired";
  c2.sentence = "because of the deadline";
  c3.sentence = "what should I do?";
  const ProtobufCMessage *conv_reqs[] = {&c1.base, &c2.base, &c3.base, NULL};

  int ok = 1;
  ok &= run(t, &connectrpc_eliza_v1_eliza_service_method_say.desc,
            &connectrpc__eliza__v1__say_response__descriptor, "Say", say_reqs, 1);
  ok &= run(t, &connectrpc_eliza_v1_eliza_service_method_introduce.desc,
            &connectrpc__eliza__v1__introduce_response__descriptor, "Introduce", intro_reqs, 0);
  ok &= run(t, &connectrpc_eliza_v1_eliza_service_method_converse.desc,
            &connectrpc__eliza__v1__converse_response__descriptor, "Converse", conv_reqs, 0);
  connectc_curl_del(t);
  printf("%s\n", ok ? "all calls succeeded" : "some calls failed");
  return ok ? 0 : 1;
}
