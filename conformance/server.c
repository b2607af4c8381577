/*
 * The server under test for the Connect conformance suite.
 *
 * Reads one size-delimited ServerCompatRequest from stdin, starts the
 * ConformanceService on 127.0.0.1 (TLS when asked) with the libmicrohttpd
 * adapter, writes a size-delimited ServerCompatResponse to stdout, and
 * serves until SIGTERM/SIGINT arrives.
 *
 * Handlers decode requests with the call's codec (proto or JSON), then run
 * the response plan the request describes on a worker thread (so that
 * delays never block the server), acting on the call through
 * connectc_server_call_run() as any asynchronous handler would.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "connectc/codec.h"
#include "connectc/json_codec.h"
#include "connectc/microhttpd.h"
#include "connectrpc/conformance/v1/server_compat.pb-c.h"
#include "connectrpc/conformance/v1/service.connect.h"
#include "connectrpc/conformance/v1/service.pb-c.h"

#define TYPE_PREFIX "type.googleapis.com/"

static connectc_type_registry *registry;
static connectc_codec *json_codec;

static const connectc_codec *codec_of(connectc_server_call *s) {
  const char *name = connectc_server_call_codec(s);
  return name && strcmp(name, "json") == 0 ? json_codec : connectc_codec_proto();
}

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(uint32_t ms) {
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
  }
}

/* ---- per-call state ---- */

typedef struct any_bytes {
  uint8_t *data;
  size_t len;
} any_bytes;

typedef struct cstate {
  const connectrpc_conformance_v1_conformance_service_method *method;
  connectc_server_call *call;
  ProtobufCMessage *first;  /* the first request, decoded */
  any_bytes *requests;      /* every request, as proto bytes */
  size_t n_requests;
  int failed;
} cstate;

static void *call_new(void *route_data, connectc_server_call *call) {
  cstate *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->method = route_data;
  c->call = call;
  return c;
}

static void call_del(void *route_data, void *call_data) {
  (void)route_data;
  cstate *c = call_data;
  if (!c) return;
  connectc_message_free(c->first, NULL);
  for (size_t i = 0; i < c->n_requests; i++) free(c->requests[i].data);
  free(c->requests);
  free(c);
}

static int on_message(connectc_server_call *s, const uint8_t *data, size_t len, void *ud) {
  cstate *c = ud;
  const connectc_codec *codec = codec_of(s);
  ProtobufCMessage *m = NULL;
  connectc_error e;
  connectc_error_init(&e, NULL);
  if (codec->unmarshal(codec, c->method->input, data, len, NULL, NULL, &m, &e) != CONNECTC_OK) {
    connectc_server_call_finish(s, &e);
    connectc_error_reset(&e);
    c->failed = 1;
    return 1;
  }
  connectc_error_reset(&e);
  any_bytes *r = realloc(c->requests, (c->n_requests + 1) * sizeof *r);
  if (!r) {
    connectc_message_free(m, NULL);
    return 1;
  }
  c->requests = r;
  size_t n = protobuf_c_message_get_packed_size(m);
  r[c->n_requests].data = malloc(n ? n : 1);
  r[c->n_requests].len = protobuf_c_message_pack(m, r[c->n_requests].data);
  c->n_requests++;
  if (!c->first) c->first = m;
  else connectc_message_free(m, NULL);
  return 0;
}

/* ---- building responses ---- */

static void add_headers(connectc_headers *h, Connectrpc__Conformance__V1__Header **hs, size_t n) {
  for (size_t i = 0; i < n; i++)
    for (size_t k = 0; k < hs[i]->n_value; k++) {
      const char *name = hs[i]->name;
      size_t nl = strlen(name);
      if (nl > 4 && strcmp(name + nl - 4, "-bin") == 0) {
        /* Values given for -bin headers are already base64 text. */
        connectc_headers_adds(h, name, hs[i]->value[k]);
      } else {
        connectc_headers_adds(h, name, hs[i]->value[k]);
      }
    }
}

/* Builds the RequestInfo of a call; the caller frees it with free_info. */
typedef struct info_storage {
  Connectrpc__Conformance__V1__ConformancePayload__RequestInfo info;
  Connectrpc__Conformance__V1__Header *headers;
  Connectrpc__Conformance__V1__Header **header_ptrs;
  char **values;
  Google__Protobuf__Any *anys;
  Google__Protobuf__Any **any_ptrs;
  Connectrpc__Conformance__V1__ConformancePayload__ConnectGetInfo get_info;
  char *type_url;
} info_storage;

static void build_info(cstate *c, info_storage *st) {
  memset(st, 0, sizeof *st);
  Connectrpc__Conformance__V1__ConformancePayload__RequestInfo init =
      CONNECTRPC__CONFORMANCE__V1__CONFORMANCE_PAYLOAD__REQUEST_INFO__INIT;
  st->info = init;
  /* One Header per name, with every value of that name in order. */
  const connectc_headers *h = connectc_server_call_request_headers(c->call);
  st->headers = calloc(h->len + 1, sizeof *st->headers);
  st->header_ptrs = calloc(h->len + 1, sizeof *st->header_ptrs);
  st->values = calloc(h->len + 1, sizeof *st->values);
  size_t nh = 0, nv = 0;
  for (size_t i = 0; i < h->len; i++) {
    int seen = 0;
    for (size_t j = 0; j < i && !seen; j++) seen = strcmp(h->items[j].name, h->items[i].name) == 0;
    if (seen) continue;
    Connectrpc__Conformance__V1__Header hi = CONNECTRPC__CONFORMANCE__V1__HEADER__INIT;
    st->headers[nh] = hi;
    st->headers[nh].name = h->items[i].name;
    st->headers[nh].value = &st->values[nv];
    for (size_t j = i; j < h->len; j++) {
      if (strcmp(h->items[j].name, h->items[i].name) != 0) continue;
      st->values[nv++] = h->items[j].value;
      st->headers[nh].n_value++;
    }
    st->header_ptrs[nh] = &st->headers[nh];
    nh++;
  }
  st->info.n_request_headers = nh;
  st->info.request_headers = st->header_ptrs;
  int64_t d = connectc_server_call_deadline(c->call);
  if (d >= 0) {
    st->info._timeout_ms_case = CONNECTRPC__CONFORMANCE__V1__CONFORMANCE_PAYLOAD__REQUEST_INFO___TIMEOUT_MS_TIMEOUT_MS;
    int64_t left = d - now_ms();
    st->info.timeout_ms = left > 0 ? left : 0;
  }
  size_t tl = strlen(TYPE_PREFIX) + strlen(c->method->input->name) + 1;
  st->type_url = malloc(tl);
  snprintf(st->type_url, tl, "%s%s", TYPE_PREFIX, c->method->input->name);
  st->anys = calloc(c->n_requests + 1, sizeof *st->anys);
  st->any_ptrs = calloc(c->n_requests + 1, sizeof *st->any_ptrs);
  for (size_t i = 0; i < c->n_requests; i++) {
    Google__Protobuf__Any a = GOOGLE__PROTOBUF__ANY__INIT;
    st->anys[i] = a;
    st->anys[i].type_url = st->type_url;
    st->anys[i].value.data = c->requests[i].data;
    st->anys[i].value.len = c->requests[i].len;
    st->any_ptrs[i] = &st->anys[i];
  }
  st->info.n_requests = c->n_requests;
  st->info.requests = st->any_ptrs;
  if (connectc_server_call_is_get(c->call)) {
    Connectrpc__Conformance__V1__ConformancePayload__ConnectGetInfo gi =
        CONNECTRPC__CONFORMANCE__V1__CONFORMANCE_PAYLOAD__CONNECT_GET_INFO__INIT;
    st->get_info = gi;
    st->info.connect_get_info = &st->get_info;
  }
}

static void free_info(info_storage *st) {
  free(st->headers);
  free(st->header_ptrs);
  free(st->values);
  free(st->anys);
  free(st->any_ptrs);
  free(st->type_url);
}

/* Sends one response message {payload {data, request_info?}} of the
 * method's output type (all ConformanceService responses share that
 * shape: field 1 is the payload). */
static void send_payload(cstate *c, const ProtobufCBinaryData *data, int with_info) {
  Connectrpc__Conformance__V1__ConformancePayload p = CONNECTRPC__CONFORMANCE__V1__CONFORMANCE_PAYLOAD__INIT;
  info_storage st;
  if (data) p.data = *data;
  if (with_info) {
    build_info(c, &st);
    p.request_info = &st.info;
  }
  const ProtobufCMessageDescriptor *od = c->method->output;
  ProtobufCMessage *resp = calloc(1, od->sizeof_message);
  od->message_init(resp);
  const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(od, 1);
  *(Connectrpc__Conformance__V1__ConformancePayload **)((char *)resp + f->offset) = &p;
  const connectc_codec *codec = codec_of(c->call);
  uint8_t *bytes = NULL;
  size_t len = 0;
  connectc_error e;
  connectc_error_init(&e, NULL);
  if (codec->marshal(codec, resp, NULL, &bytes, &len, &e) == CONNECTC_OK) {
    connectc_server_call_send(c->call, bytes, len);
    connectc_free(NULL, bytes);
  } else {
    fprintf(stderr, "conformance server: marshal: %s\n", e.message ? e.message : "?");
    connectc_server_call_finish(c->call, &e);
  }
  connectc_error_reset(&e);
  free(resp);
  if (with_info) free_info(&st);
}

/* Finishes with the requested error; details plus the request info. */
static void finish_error(cstate *c, const Connectrpc__Conformance__V1__Error *err, int with_info) {
  connectc_error e;
  connectc_error_init(&e, NULL);
  connectc_code code = (connectc_code)err->code;
  if ((unsigned)code < 1 || (unsigned)code > 16) code = CONNECTC_CODE_UNKNOWN;
  const char *msg = err->_message_case ? err->message : NULL;
  connectc_error_set_message(&e, code, msg, msg ? strlen(msg) : 0);
  for (size_t i = 0; i < err->n_details; i++) {
    const char *url = err->details[i]->type_url;
    const char *slash = url ? strrchr(url, '/') : NULL;
    connectc_error_add_detail(&e, slash ? slash + 1 : (url ? url : ""), err->details[i]->value.data,
                              err->details[i]->value.len);
  }
  if (with_info) {
    info_storage st;
    build_info(c, &st);
    size_t n = protobuf_c_message_get_packed_size(&st.info.base);
    uint8_t *buf = malloc(n ? n : 1);
    protobuf_c_message_pack(&st.info.base, buf);
    connectc_error_add_detail(&e, "connectrpc.conformance.v1.ConformancePayload.RequestInfo", buf, n);
    free(buf);
    free_info(&st);
  }
  connectc_server_call_finish(c->call, &e);
  connectc_error_reset(&e);
}

/* ---- response plans (run on a worker thread) ---- */

static void do_unary(connectc_server_call *s, void *arg) {
  (void)s;
  cstate *c = arg;
  if (connectc_server_call_is_finished(c->call)) return;
  const Connectrpc__Conformance__V1__UnaryResponseDefinition *def = NULL;
  if (c->first) {
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(c->first->descriptor, 1);
    def = *(Connectrpc__Conformance__V1__UnaryResponseDefinition **)((char *)c->first + f->offset);
  }
  if (def) {
    add_headers(connectc_server_call_response_headers(c->call), def->response_headers,
                def->n_response_headers);
    add_headers(connectc_server_call_response_trailers(c->call), def->response_trailers,
                def->n_response_trailers);
  }
  if (def && def->response_case == CONNECTRPC__CONFORMANCE__V1__UNARY_RESPONSE_DEFINITION__RESPONSE_ERROR) {
    finish_error(c, def->error, 1);
    return;
  }
  const ProtobufCBinaryData *data =
      def && def->response_case == CONNECTRPC__CONFORMANCE__V1__UNARY_RESPONSE_DEFINITION__RESPONSE_RESPONSE_DATA
          ? &def->response_data
          : NULL;
  send_payload(c, data, 1);
  connectc_server_call_finish(c->call, NULL);
}

static const Connectrpc__Conformance__V1__StreamResponseDefinition *stream_def(cstate *c) {
  if (!c->first) return NULL;
  unsigned num = c->method == &connectrpc_conformance_v1_conformance_service_method_bidi_stream ? 1 : 1;
  const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(c->first->descriptor, num);
  return *(Connectrpc__Conformance__V1__StreamResponseDefinition **)((char *)c->first + f->offset);
}

static void do_stream_headers(connectc_server_call *s, void *arg) {
  (void)s;
  cstate *c = arg;
  if (connectc_server_call_is_finished(c->call)) return;
  const Connectrpc__Conformance__V1__StreamResponseDefinition *def = stream_def(c);
  if (def) {
    add_headers(connectc_server_call_response_headers(c->call), def->response_headers,
                def->n_response_headers);
    add_headers(connectc_server_call_response_trailers(c->call), def->response_trailers,
                def->n_response_trailers);
  }
  connectc_server_call_flush_headers(c->call);
}

typedef struct send_arg {
  cstate *c;
  size_t i;
} send_arg;

static void do_stream_send(connectc_server_call *s, void *arg) {
  (void)s;
  send_arg *a = arg;
  if (connectc_server_call_is_finished(a->c->call)) return;
  const Connectrpc__Conformance__V1__StreamResponseDefinition *def = stream_def(a->c);
  send_payload(a->c, &def->response_data[a->i], a->i == 0);
}

static void do_stream_finish(connectc_server_call *s, void *arg) {
  (void)s;
  cstate *c = arg;
  if (connectc_server_call_is_finished(c->call)) return;
  const Connectrpc__Conformance__V1__StreamResponseDefinition *def = stream_def(c);
  if (def && def->error) {
    finish_error(c, def->error, !def->n_response_data);
    return;
  }
  connectc_server_call_finish(c->call, NULL);
}

static void do_unimplemented(connectc_server_call *s, void *arg) {
  (void)arg;
  connectc_error e;
  connectc_error_init(&e, NULL);
  connectc_error_set(&e, CONNECTC_CODE_UNIMPLEMENTED, "%s is not implemented",
                     "connectrpc.conformance.v1.ConformanceService.Unimplemented");
  connectc_server_call_finish(s, &e);
  connectc_error_reset(&e);
}

static void *plan_thread(void *arg) {
  cstate *c = arg;
  connectc_server_call *s = c->call;
  const connectc_method_desc *m = &c->method->desc;
  if (c->method == &connectrpc_conformance_v1_conformance_service_method_unimplemented) {
    connectc_server_call_run(s, do_unimplemented, c);
  } else if (m->stream_type == CONNECTC_STREAM_UNARY || m->stream_type == CONNECTC_STREAM_CLIENT) {
    uint32_t delay = 0;
    if (c->first) {
      const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(c->first->descriptor, 1);
      const Connectrpc__Conformance__V1__UnaryResponseDefinition *def =
          *(Connectrpc__Conformance__V1__UnaryResponseDefinition **)((char *)c->first + f->offset);
      if (def) delay = def->response_delay_ms;
    }
    if (delay) sleep_ms(delay);
    connectc_server_call_run(s, do_unary, c);
  } else {
    connectc_server_call_run(s, do_stream_headers, c);
    const Connectrpc__Conformance__V1__StreamResponseDefinition *def = stream_def(c);
    size_t n = def ? def->n_response_data : 0;
    for (size_t i = 0; i < n; i++) {
      if (def->response_delay_ms) sleep_ms(def->response_delay_ms);
      send_arg a = {c, i};
      connectc_server_call_run(s, do_stream_send, &a);
    }
    connectc_server_call_run(s, do_stream_finish, c);
  }
  connectc_server_call_unref(s);
  return NULL;
}

static void on_end(connectc_server_call *s, void *ud) {
  cstate *c = ud;
  if (c->failed || connectc_server_call_is_finished(s)) return;
  connectc_server_call_ref(s);
  pthread_t t;
  if (pthread_create(&t, NULL, plan_thread, c) != 0) {
    connectc_server_call_unref(s);
    connectc_error e;
    connectc_error_init(&e, NULL);
    connectc_error_set(&e, CONNECTC_CODE_RESOURCE_EXHAUSTED, "cannot start a handler thread");
    connectc_server_call_finish(s, &e);
    connectc_error_reset(&e);
    return;
  }
  pthread_detach(t);
}

/* ---- stdin/stdout framing ---- */

static int read_full(int fd, void *buf, size_t n) {
  uint8_t *p = buf;
  while (n) {
    ssize_t r = read(fd, p, n);
    if (r <= 0) {
      if (r < 0 && errno == EINTR) continue;
      return -1;
    }
    p += r;
    n -= (size_t)r;
  }
  return 0;
}

static int write_full(int fd, const void *buf, size_t n) {
  const uint8_t *p = buf;
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w <= 0) {
      if (w < 0 && errno == EINTR) continue;
      return -1;
    }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

static volatile sig_atomic_t stop;
static void on_signal(int sig) {
  (void)sig;
  stop = 1;
}

int main(void) {
  uint8_t hdr[4];
  if (read_full(0, hdr, 4)) {
    fprintf(stderr, "conformance server: no ServerCompatRequest on stdin\n");
    return 1;
  }
  uint32_t n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
  if (n > 16 * 1024 * 1024) return 1;
  uint8_t *buf = malloc(n ? n : 1);
  if (read_full(0, buf, n)) return 1;
  Connectrpc__Conformance__V1__ServerCompatRequest *req =
      connectrpc__conformance__v1__server_compat_request__unpack(NULL, n, buf);
  free(buf);
  if (!req) return 1;

  registry = connectc_type_registry_new(NULL);
  connectrpc_conformance_v1_service__register_types(registry);
  json_codec = connectc_codec_json_new(registry, NULL);

  connectc_server_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.limits.recv_max_bytes = req->message_receive_limit ? req->message_receive_limit : 0;
  connectc_router *router = connectc_router_new(&cfg, NULL);
  for (size_t i = 0; i < CONNECTRPC_CONFORMANCE_V1_CONFORMANCE_SERVICE_METHOD_COUNT; i++) {
    const connectrpc_conformance_v1_conformance_service_method *m =
        connectrpc_conformance_v1_conformance_service_methods[i];
    connectc_route r = {&m->desc, {on_message, on_end, NULL}, call_new, call_del, (void *)(uintptr_t)m};
    connectc_router_add(router, &r);
  }
  connectc_mhd_config mcfg;
  memset(&mcfg, 0, sizeof mcfg);
  mcfg.threads = 4;
  char *cert = NULL, *key = NULL;
  if (req->use_tls && req->server_creds) {
    cert = calloc(1, req->server_creds->cert.len + 1);
    key = calloc(1, req->server_creds->key.len + 1);
    memcpy(cert, req->server_creds->cert.data, req->server_creds->cert.len);
    memcpy(key, req->server_creds->key.data, req->server_creds->key.len);
    mcfg.tls_cert_pem = cert;
    mcfg.tls_key_pem = key;
  }
  connectc_mhd_server *srv = NULL;
  int rv = connectc_mhd_start(&mcfg, router, &srv);
  if (rv != CONNECTC_OK) {
    fprintf(stderr, "conformance server: cannot start: %s\n", connectc_strerror(rv));
    return 1;
  }
  Connectrpc__Conformance__V1__ServerCompatResponse resp = CONNECTRPC__CONFORMANCE__V1__SERVER_COMPAT_RESPONSE__INIT;
  resp.host = "127.0.0.1";
  resp.port = connectc_mhd_port(srv);
  if (cert) {
    resp.pem_cert.data = (uint8_t *)cert;
    resp.pem_cert.len = strlen(cert);
  }
  size_t rn = connectrpc__conformance__v1__server_compat_response__get_packed_size(&resp);
  uint8_t *out = malloc(rn + 4);
  out[0] = (uint8_t)(rn >> 24);
  out[1] = (uint8_t)(rn >> 16);
  out[2] = (uint8_t)(rn >> 8);
  out[3] = (uint8_t)rn;
  connectrpc__conformance__v1__server_compat_response__pack(&resp, out + 4);
  if (write_full(1, out, rn + 4)) return 1;
  free(out);

  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
  /* Serve until the runner signals us (it closes stdin right after the
   * request, so EOF means nothing). */
  while (!stop) pause();
  connectc_mhd_stop(srv);
  connectc_router_del(router);
  connectc_codec_json_del(json_codec);
  connectc_type_registry_del(registry);
  connectrpc__conformance__v1__server_compat_request__free_unpacked(req, NULL);
  free(cert);
  free(key);
  return 0;
}
