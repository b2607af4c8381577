/*
 * The client under test for the Connect conformance suite.
 *
 * Reads size-delimited ClientCompatRequests from stdin, runs each as a
 * call with the libcurl adapter, or with the Mongoose transport given
 * `--transport mongoose` (up to CONCURRENCY at a time, one thread and one
 * transport each; Mongoose: one mg_mgr each), and writes a size-delimited
 * ClientCompatResponse per request to stdout, in completion order.
 *
 * Calls are made as an application would make them: through the generated
 * asynchronous stubs (service.connect.h: `<svc>_<rpc>__start` with typed
 * callbacks, `<svc>_<rpc>__send_request`) on a connectc_client, driven by the
 * transport's own poll loop. Messages are encoded with the requested codec
 * (proto or JSON) and compression; the protocol (Connect, gRPC, gRPC-Web),
 * the HTTP version (HTTP/1.1; HTTP/2 as h2c by prior knowledge, or h2 over
 * TLS through ALPN), TLS with the server's certificate and a client
 * certificate, timeouts, request headers, Connect GET, request delays and
 * the three cancellation timings are honoured. Full-duplex bidi streams
 * ping-pong as the suite's reference client does: send one request, wait
 * for one response, send the next.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "connectc/codec.h"
#include "connectc/curl.h"
#include "connectc/json_codec.h"
#include "connectrpc/conformance/v1/client_compat.pb-c.h"
#include "connectrpc/conformance/v1/service.connect.h"
#include "connectrpc/conformance/v1/service.pb-c.h"
#ifdef CONFORMANCE_MONGOOSE
#include "connectc/mongoose.h"
#include "mongoose.h"
#endif

#define CONCURRENCY 16
/* A call still running this long after its start (plus its timeout) is
 * abandoned and reported as a failure, so that one stuck call cannot make
 * the runner give up on the whole client (20 s without a result). */
#define WATCHDOG_MS 10000
#define TYPE_PREFIX "type.googleapis.com/"

typedef Connectrpc__Conformance__V1__ConformancePayload Payload;

static connectc_type_registry *registry;
static connectc_codec *json_codec;
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t run_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t run_cv = PTHREAD_COND_INITIALIZER;
static int running;
/* Job threads that finished their job and are exiting: joined by main, so
 * that none is still tearing down (libcurl's and OpenSSL's per-thread
 * state) when the process exits. */
static pthread_t finished[CONCURRENCY + 1];
static int n_finished;

/* ---- output ---- */

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

static void emit(const Connectrpc__Conformance__V1__ClientCompatResponse *resp) {
  size_t n = protobuf_c_message_get_packed_size(&resp->base);
  uint8_t *buf = malloc(n + 4);
  buf[0] = (uint8_t)(n >> 24);
  buf[1] = (uint8_t)(n >> 16);
  buf[2] = (uint8_t)(n >> 8);
  buf[3] = (uint8_t)n;
  protobuf_c_message_pack(&resp->base, buf + 4);
  pthread_mutex_lock(&out_mu);
  write_full(1, buf, n + 4);
  pthread_mutex_unlock(&out_mu);
  free(buf);
}

static void emit_error(const char *test_name, const char *message) {
  Connectrpc__Conformance__V1__ClientCompatResponse r = CONNECTRPC__CONFORMANCE__V1__CLIENT_COMPAT_RESPONSE__INIT;
  Connectrpc__Conformance__V1__ClientErrorResult e = CONNECTRPC__CONFORMANCE__V1__CLIENT_ERROR_RESULT__INIT;
  e.message = (char *)message;
  r.test_name = (char *)test_name;
  r.result_case = CONNECTRPC__CONFORMANCE__V1__CLIENT_COMPAT_RESPONSE__RESULT_ERROR;
  r.error = &e;
  emit(&r);
}

/* ---- header lists as conformance Headers ---- */

typedef struct header_list {
  Connectrpc__Conformance__V1__Header *items;
  Connectrpc__Conformance__V1__Header **ptrs;
  char **values;
  size_t n;
} header_list;

static void headers_to_list(const connectc_headers *h, header_list *out) {
  out->items = calloc(h->len + 1, sizeof *out->items);
  out->ptrs = calloc(h->len + 1, sizeof *out->ptrs);
  out->values = calloc(h->len + 1, sizeof *out->values);
  out->n = 0;
  size_t nv = 0;
  for (size_t i = 0; i < h->len; i++) {
    int seen = 0;
    for (size_t j = 0; j < i && !seen; j++) seen = strcmp(h->items[j].name, h->items[i].name) == 0;
    if (seen) continue;
    Connectrpc__Conformance__V1__Header init = CONNECTRPC__CONFORMANCE__V1__HEADER__INIT;
    Connectrpc__Conformance__V1__Header *hd = &out->items[out->n];
    *hd = init;
    hd->name = strdup(h->items[i].name);
    hd->value = &out->values[nv];
    for (size_t j = i; j < h->len; j++) {
      if (strcmp(h->items[j].name, h->items[i].name) != 0) continue;
      out->values[nv++] = strdup(h->items[j].value);
      hd->n_value++;
    }
    out->ptrs[out->n] = hd;
    out->n++;
  }
}

static void free_list(header_list *l) {
  for (size_t i = 0; i < l->n; i++) {
    free(l->items[i].name);
    for (size_t k = 0; k < l->items[i].n_value; k++) free(l->items[i].value[k]);
  }
  free(l->items);
  free(l->ptrs);
  free(l->values);
}

/* ---- the transport under test (--transport curl|mongoose) ---- */

static int use_mongoose;
#ifdef CONFORMANCE_MONGOOSE
/* Mongoose's log (and its hex dumps, written whatever the level) must not
 * reach stdout, which carries the results. */
static void mg_log_stderr(char c, void *param) {
  (void)param;
  fputc(c, stderr);
}
#endif

typedef struct transport {
  connectc_curl *curl;
#ifdef CONFORMANCE_MONGOOSE
  connectc_mg_client *mg;
  struct mg_mgr mgr;
#endif
} transport;

/* A transport for `cfg` (the curl settings; the Mongoose transport takes
 * the same ones). */
static int transport_new(transport *t, const connectc_curl_config *cfg, connectc_transport *out) {
  memset(t, 0, sizeof *t);
#ifdef CONFORMANCE_MONGOOSE
  if (use_mongoose) {
    connectc_mg_client_config m;
    memset(&m, 0, sizeof m);
    m.base_url = cfg->base_url;
    m.ca_pem = cfg->ca_pem;
    m.ca_pem_len = cfg->ca_pem_len;
    m.client_cert_pem = cfg->client_cert_pem;
    m.client_cert_pem_len = cfg->client_cert_pem_len;
    m.client_key_pem = cfg->client_key_pem;
    m.client_key_pem_len = cfg->client_key_pem_len;
    mg_mgr_init(&t->mgr);
    int rv = connectc_mg_client_new(&m, &t->mgr, NULL, &t->mg);
    if (rv == CONNECTC_OK) *out = connectc_mg_client_transport(t->mg);
    return rv;
  }
#endif
  int rv = connectc_curl_new(cfg, NULL, &t->curl);
  if (rv == CONNECTC_OK) *out = connectc_curl_transport(t->curl);
  return rv;
}

static int64_t transport_now(void) {
#ifdef CONFORMANCE_MONGOOSE
  if (use_mongoose) return connectc_mg_now_ms();
#endif
  return connectc_curl_now_ms();
}

static void transport_poll(transport *t, int wait_ms) {
#ifdef CONFORMANCE_MONGOOSE
  if (use_mongoose) {
    connectc_mg_client_poll(t->mg, wait_ms);
    return;
  }
#endif
  connectc_curl_poll(t->curl, wait_ms);
}

/* Lets go of every call, then frees the transport. */
static void transport_del(transport *t) {
#ifdef CONFORMANCE_MONGOOSE
  if (use_mongoose) {
    connectc_mg_client_del(t->mg);
    mg_mgr_free(&t->mgr);
    return;
  }
#endif
  connectc_curl_del(t->curl);
}

/* ---- one call ---- */

typedef enum kind { K_UNKNOWN, K_UNARY, K_IDEMPOTENT, K_SERVER, K_CLIENT, K_BIDI, K_UNIMPLEMENTED } kind;

typedef struct job {
  Connectrpc__Conformance__V1__ClientCompatRequest *req;
  int threaded; /* runs on a thread of its own, which main joins */
  kind k;
  /* results */
  connectc_headers resp_headers;
  connectc_headers trailers;
  Payload **payloads;
  size_t n_payloads;
  size_t n_responses;
  int closed;
  connectc_error err;
  uint32_t cancel_after; /* cancel once this many responses arrived; 0 = never */
} job;

static void on_headers(connectc_async_call *st, const connectc_headers *h, void *ud) {
  (void)st;
  job *j = ud;
  connectc_headers_append_all(&j->resp_headers, h);
}

static void on_close(connectc_async_call *st, const connectc_error *err,
                     const connectc_headers *trailers, void *ud) {
  (void)st;
  job *j = ud;
  j->closed = 1;
  connectc_error_copy(&j->err, err);
  connectc_headers_append_all(&j->trailers, trailers);
}

/* Keeps the payload of one response (every ConformanceService response has
 * one; a response without it counts as an empty one) and frees the rest. */
static void take_payload(connectc_async_call *st, job *j, ProtobufCMessage *response,
                         Payload **slot) {
  Payload *p = NULL;
  if (slot) {
    p = *slot;
    *slot = NULL;
    if (!p) {
      p = malloc(sizeof *p);
      if (p) connectrpc__conformance__v1__conformance_payload__init(p);
    }
  }
  connectc_message_free(response, connectc_async_call_allocator(st));
  j->n_responses++;
  if (p) {
    Payload **np = realloc(j->payloads, (j->n_payloads + 1) * sizeof *np);
    if (np) {
      j->payloads = np;
      j->payloads[j->n_payloads++] = p;
    } else {
      connectc_message_free(&p->base, NULL);
    }
  }
  if (j->cancel_after && j->n_responses >= j->cancel_after) connectc_async_call_cancel(st);
}

#define ON_RESPONSE(fn, Type)                                            \
  static void fn(connectc_async_call *st, Type *response, void *ud) { \
    take_payload(st, ud, &response->base, &response->payload);          \
  }
ON_RESPONSE(on_unary, Connectrpc__Conformance__V1__UnaryResponse)
ON_RESPONSE(on_idempotent, Connectrpc__Conformance__V1__IdempotentUnaryResponse)
ON_RESPONSE(on_server_stream, Connectrpc__Conformance__V1__ServerStreamResponse)
ON_RESPONSE(on_client_stream, Connectrpc__Conformance__V1__ClientStreamResponse)
ON_RESPONSE(on_bidi_stream, Connectrpc__Conformance__V1__BidiStreamResponse)

static void on_no_payload(connectc_async_call *st, ProtobufCMessage *response, void *ud) {
  take_payload(st, ud, response, NULL);
}
static void on_unimplemented(connectc_async_call *st,
                             Connectrpc__Conformance__V1__UnimplementedResponse *response, void *ud) {
  on_no_payload(st, &response->base, ud);
}

static const connectrpc_conformance_v1_conformance_service_unary__callbacks unary_cb = {
    .on_headers = on_headers, .on_response = on_unary, .on_close = on_close};
static const connectrpc_conformance_v1_conformance_service_idempotent_unary__callbacks idempotent_cb = {
    .on_headers = on_headers, .on_response = on_idempotent, .on_close = on_close};
static const connectrpc_conformance_v1_conformance_service_server_stream__callbacks server_stream_cb = {
    .on_headers = on_headers, .on_response = on_server_stream, .on_close = on_close};
static const connectrpc_conformance_v1_conformance_service_client_stream__callbacks client_stream_cb = {
    .on_headers = on_headers, .on_response = on_client_stream, .on_close = on_close};
static const connectrpc_conformance_v1_conformance_service_bidi_stream__callbacks bidi_stream_cb = {
    .on_headers = on_headers, .on_response = on_bidi_stream, .on_close = on_close};
static const connectrpc_conformance_v1_conformance_service_unimplemented__callbacks unimplemented_cb = {
    .on_headers = on_headers, .on_response = on_unimplemented, .on_close = on_close};

static kind kind_of(const char *procedure, const ProtobufCMessageDescriptor **input) {
  static const struct {
    const connectrpc_conformance_v1_conformance_service__method_type *m;
    kind k;
  } known[] = {
      {&connectrpc_conformance_v1_conformance_service_unary__method, K_UNARY},
      {&connectrpc_conformance_v1_conformance_service_idempotent_unary__method, K_IDEMPOTENT},
      {&connectrpc_conformance_v1_conformance_service_server_stream__method, K_SERVER},
      {&connectrpc_conformance_v1_conformance_service_client_stream__method, K_CLIENT},
      {&connectrpc_conformance_v1_conformance_service_bidi_stream__method, K_BIDI},
      {&connectrpc_conformance_v1_conformance_service_unimplemented__method, K_UNIMPLEMENTED},
  };
  for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
    if (strcmp(known[i].m->desc.procedure, procedure) == 0) {
      *input = known[i].m->input;
      return known[i].k;
    }
  *input = &google__protobuf__empty__descriptor; /* an unknown method: bytes pass through */
  return K_UNKNOWN;
}

static connectc_stream_type stream_type_of(const Connectrpc__Conformance__V1__ClientCompatRequest *req) {
  switch (req->stream_type) {
    case CONNECTRPC__CONFORMANCE__V1__STREAM_TYPE__STREAM_TYPE_CLIENT_STREAM: return CONNECTC_STREAM_CLIENT;
    case CONNECTRPC__CONFORMANCE__V1__STREAM_TYPE__STREAM_TYPE_SERVER_STREAM: return CONNECTC_STREAM_SERVER;
    case CONNECTRPC__CONFORMANCE__V1__STREAM_TYPE__STREAM_TYPE_HALF_DUPLEX_BIDI_STREAM:
    case CONNECTRPC__CONFORMANCE__V1__STREAM_TYPE__STREAM_TYPE_FULL_DUPLEX_BIDI_STREAM: return CONNECTC_STREAM_BIDI;
    default: return CONNECTC_STREAM_UNARY;
  }
}

static int64_t opts_timeout_ms(const Connectrpc__Conformance__V1__ClientCompatRequest *req) {
  return req->_timeout_ms_case ? (int64_t)req->timeout_ms : 0;
}

static connectc_protocol client_protocol(const Connectrpc__Conformance__V1__ClientCompatRequest *req) {
  switch (req->protocol) {
    case CONNECTRPC__CONFORMANCE__V1__PROTOCOL__PROTOCOL_GRPC: return CONNECTC_PROTOCOL_GRPC;
    case CONNECTRPC__CONFORMANCE__V1__PROTOCOL__PROTOCOL_GRPC_WEB: return CONNECTC_PROTOCOL_GRPC_WEB;
    default: return CONNECTC_PROTOCOL_CONNECT;
  }
}

/* Starts the call through the generated stub of its method. Unary-like
 * methods take their (only) request here. */
static int start_call(job *j, const connectc_client *client, const char *procedure,
                      const connectc_call_options *opts, const ProtobufCMessage *first,
                      connectc_async_call **st) {
  switch (j->k) {
    case K_UNARY:
      return connectrpc_conformance_v1_conformance_service_unary__start(
          client, (const Connectrpc__Conformance__V1__UnaryRequest *)first, opts, &unary_cb, j, st);
    case K_IDEMPOTENT:
      return connectrpc_conformance_v1_conformance_service_idempotent_unary__start(
          client, (const Connectrpc__Conformance__V1__IdempotentUnaryRequest *)first, opts,
          &idempotent_cb, j, st);
    case K_SERVER:
      return connectrpc_conformance_v1_conformance_service_server_stream__start(
          client, (const Connectrpc__Conformance__V1__ServerStreamRequest *)first, opts,
          &server_stream_cb, j, st);
    case K_UNIMPLEMENTED:
      return connectrpc_conformance_v1_conformance_service_unimplemented__start(
          client, (const Connectrpc__Conformance__V1__UnimplementedRequest *)first, opts,
          &unimplemented_cb, j, st);
    case K_CLIENT:
      return connectrpc_conformance_v1_conformance_service_client_stream__start(
          client, opts, &client_stream_cb, j, st);
    case K_BIDI:
      return connectrpc_conformance_v1_conformance_service_bidi_stream__start(
          client, opts, &bidi_stream_cb, j, st);
    case K_UNKNOWN: {
      /* Not a method of the service: the untyped stream API. */
      const connectc_method_desc d = {.procedure = procedure, .stream_type = stream_type_of(j->req)};
      const connectc_async_call_callbacks cb = {
          .on_headers = on_headers, .on_message = on_no_payload, .on_close = on_close};
      int rv = connectc_async_call_new(client, &d, &google__protobuf__empty__descriptor, opts, &cb,
                                          j, st);
      if (rv == CONNECTC_OK && first) (void)connectc_async_call_send(*st, first);
      return rv;
    }
  }
  return CONNECTC_ERR_ARGUMENT;
}

/* Sends one request of a client or bidi stream. */
static int send_request(job *j, connectc_async_call *st, const ProtobufCMessage *m) {
  switch (j->k) {
    case K_CLIENT:
      return connectrpc_conformance_v1_conformance_service_client_stream__send_request(
          st, (const Connectrpc__Conformance__V1__ClientStreamRequest *)m);
    case K_BIDI:
      return connectrpc_conformance_v1_conformance_service_bidi_stream__send_request(
          st, (const Connectrpc__Conformance__V1__BidiStreamRequest *)m);
    default:
      return connectc_async_call_send(st, m);
  }
}

static void run_job(job *j) {
  Connectrpc__Conformance__V1__ClientCompatRequest *req = j->req;
  char procedure[512];
  snprintf(procedure, sizeof procedure, "/%s/%s",
           req->_service_case ? req->service : "connectrpc.conformance.v1.ConformanceService",
           req->_method_case ? req->method : "");
  const ProtobufCMessageDescriptor *input = NULL;
  j->k = kind_of(procedure, &input);
  connectc_stream_type stype = stream_type_of(req);
  int single = stype == CONNECTC_STREAM_UNARY || stype == CONNECTC_STREAM_SERVER;

  /* The requests, decoded from their Any into the method's input type. */
  size_t n_msgs = req->n_request_messages;
  ProtobufCMessage **msgs = calloc(n_msgs + 1, sizeof *msgs);
  for (size_t i = 0; i < n_msgs; i++) {
    const Google__Protobuf__Any *any = req->request_messages[i];
    msgs[i] = protobuf_c_message_unpack(input, NULL, any->value.len, any->value.data);
    if (!msgs[i]) {
      emit_error(req->test_name, "a request message does not decode as the method's input type");
      for (size_t k = 0; k < i; k++) protobuf_c_message_free_unpacked(msgs[k], NULL);
      free(msgs);
      return;
    }
  }
  if (single && n_msgs == 0) { /* an empty request */
    msgs[0] = malloc(input->sizeof_message);
    input->message_init(msgs[0]);
    n_msgs = 1;
  }

  char url[300];
  int tls = req->server_tls_cert.len > 0;
  int full_duplex = req->stream_type == CONNECTRPC__CONFORMANCE__V1__STREAM_TYPE__STREAM_TYPE_FULL_DUPLEX_BIDI_STREAM;
  snprintf(url, sizeof url, "%s://%s:%u", tls ? "https" : "http", req->host, (unsigned)req->port);
  connectc_curl_config ccfg;
  memset(&ccfg, 0, sizeof ccfg);
  ccfg.base_url = url;
  ccfg.http_version = req->http_version == CONNECTRPC__CONFORMANCE__V1__HTTPVERSION__HTTP_VERSION_2
                          ? CONNECTC_CURL_HTTP_2
                          : CONNECTC_CURL_HTTP_1_1;
  if (tls) {
    ccfg.ca_pem = (const char *)req->server_tls_cert.data;
    ccfg.ca_pem_len = req->server_tls_cert.len;
    if (req->client_tls_creds) {
      ccfg.client_cert_pem = (const char *)req->client_tls_creds->cert.data;
      ccfg.client_cert_pem_len = req->client_tls_creds->cert.len;
      ccfg.client_key_pem = (const char *)req->client_tls_creds->key.data;
      ccfg.client_key_pem_len = req->client_tls_creds->key.len;
    }
  }
  transport t;
  connectc_transport tr;
  connectc_async_call *st = NULL;
  connectc_headers req_headers;
  connectc_headers_init(&req_headers, NULL);
  for (size_t i = 0; i < req->n_request_headers; i++)
    for (size_t k = 0; k < req->request_headers[i]->n_value; k++)
      connectc_headers_adds(&req_headers, req->request_headers[i]->name, req->request_headers[i]->value[k]);

  int rv = transport_new(&t, &ccfg, &tr);
  if (rv == CONNECTC_OK) {
    connectc_client client;
    connectc_client_init(&client, tr);
    client.codec = req->codec == CONNECTRPC__CONFORMANCE__V1__CODEC__CODEC_JSON ? json_codec : connectc_codec_proto();
    switch (req->compression) {
      case CONNECTRPC__CONFORMANCE__V1__COMPRESSION__COMPRESSION_GZIP: client.send_compression = CONNECTC_COMPRESSION_GZIP; break;
      case CONNECTRPC__CONFORMANCE__V1__COMPRESSION__COMPRESSION_BR: client.send_compression = CONNECTC_COMPRESSION_BR; break;
      case CONNECTRPC__CONFORMANCE__V1__COMPRESSION__COMPRESSION_ZSTD: client.send_compression = CONNECTC_COMPRESSION_ZSTD; break;
      default: client.send_compression = CONNECTC_COMPRESSION_IDENTITY; break;
    }
    client.limits.recv_max_bytes = req->message_receive_limit;
    client.use_get = req->use_get_http_method;
    client.protocol = client_protocol(req);
    connectc_call_options opts = {.headers = &req_headers, .full_duplex = full_duplex};
    if (req->_timeout_ms_case) opts.timeout_ms = req->timeout_ms ? req->timeout_ms : 1;
    int cancel_kind = req->cancel ? (int)req->cancel->cancel_timing_case : 0;
    if (cancel_kind == CONNECTRPC__CONFORMANCE__V1__CLIENT_COMPAT_REQUEST__CANCEL__CANCEL_TIMING_AFTER_NUM_RESPONSES)
      j->cancel_after = req->cancel->after_num_responses;
    rv = start_call(j, &client, procedure, &opts, single ? msgs[0] : NULL, &st);
  }
  if (rv != CONNECTC_OK) {
    connectc_headers_reset(&req_headers);
    for (size_t i = 0; i < n_msgs; i++) protobuf_c_message_free_unpacked(msgs[i], NULL);
    free(msgs);
    transport_del(&t);
    char why[160];
    snprintf(why, sizeof why, "cannot start the call (%s protocol over HTTP/%s): %s",
             connectc_protocol_name(client_protocol(req)) ? connectc_protocol_name(client_protocol(req)) : "?",
             ccfg.http_version == CONNECTC_CURL_HTTP_2 ? "2" : "1.1", connectc_strerror(rv));
    emit_error(req->test_name, why);
    return;
  }

  /* Drive it: requests as their delays allow, cancellation as asked. A
   * full-duplex stream sends request i only once i responses arrived (the
   * delay counts from the last of them), as the reference client does.
   * The reference also waits for the answer to the last request before it
   * closes or cancels; that wait matters only to the cancellation timings,
   * so without one the send side closes right after the last request (a
   * server that ends the stream instead of answering is then seen to end
   * it). */
  int cancel_kind = req->cancel ? (int)req->cancel->cancel_timing_case : 0;
  size_t next = single ? 1 : 0;
  int64_t next_send_at = transport_now() + (full_duplex ? req->request_delay_ms : 0);
  size_t gate_open_for = 0; /* full duplex: the request that may go next */
  int64_t cancel_at = -1;
  int closed_send = 0;
  int64_t give_up_at = transport_now() + WATCHDOG_MS + (opts_timeout_ms(req));
  int abandoned = 0;
  if (cancel_kind == CONNECTRPC__CONFORMANCE__V1__CLIENT_COMPAT_REQUEST__CANCEL__CANCEL_TIMING_AFTER_NUM_RESPONSES &&
      req->cancel->after_num_responses == 0)
    cancel_at = 0; /* zero responses: cancel as soon as the request is out */
  for (;;) {
    int64_t now = transport_now();
    if (full_duplex && next > 0 && gate_open_for != next && j->n_responses >= next) {
      gate_open_for = next; /* request next-1 was answered */
      next_send_at = now + req->request_delay_ms;
    }
    int may_send = !full_duplex || gate_open_for == next;
    while (!j->closed && next < n_msgs && may_send && now >= next_send_at) {
      if (send_request(j, st, msgs[next]) != CONNECTC_OK) break;
      next++;
      next_send_at = now + req->request_delay_ms;
      if (req->request_delay_ms || full_duplex) break;
    }
    int sends_done = next >= n_msgs && (!full_duplex || !cancel_kind || j->n_responses >= n_msgs);
    if (!closed_send && !j->closed && sends_done) {
      if (cancel_kind == CONNECTRPC__CONFORMANCE__V1__CLIENT_COMPAT_REQUEST__CANCEL__CANCEL_TIMING_BEFORE_CLOSE_SEND) {
        connectc_async_call_cancel(st);
      } else {
        connectc_async_call_close_send(st);
        if (cancel_kind == CONNECTRPC__CONFORMANCE__V1__CLIENT_COMPAT_REQUEST__CANCEL__CANCEL_TIMING_AFTER_CLOSE_SEND_MS)
          cancel_at = now + req->cancel->after_close_send_ms;
        if (cancel_at == 0) cancel_at = now;
      }
      closed_send = 1;
    }
    if (cancel_at >= 0 && now >= cancel_at) connectc_async_call_cancel(st);
    if (!j->closed && now >= give_up_at) {
      abandoned = 1;
      connectc_async_call_cancel(st);
    }
    if (j->closed) break;
    int wait = 50;
    may_send = !full_duplex || gate_open_for == next;
    if (next < n_msgs && may_send && next_send_at - now < wait) wait = (int)(next_send_at - now);
    if (cancel_at >= 0 && cancel_at - now < wait) wait = (int)(cancel_at - now);
    if (wait < 0) wait = 0;
    transport_poll(&t, wait);
  }
  size_t unsent = n_msgs - next;
  if (single && req->n_request_messages == 0) unsent = 0;
  connectc_async_call_del(st);
  transport_del(&t); /* lets go of the call: the stream is freed */
  connectc_headers_reset(&req_headers);
  for (size_t i = 0; i < n_msgs; i++) protobuf_c_message_free_unpacked(msgs[i], NULL);
  free(msgs);
  if (abandoned) {
    emit_error(req->test_name, "watchdog: the call was still running after its timeout plus 10 s");
    return;
  }

  /* The result. */
  Connectrpc__Conformance__V1__ClientCompatResponse r = CONNECTRPC__CONFORMANCE__V1__CLIENT_COMPAT_RESPONSE__INIT;
  Connectrpc__Conformance__V1__ClientResponseResult res = CONNECTRPC__CONFORMANCE__V1__CLIENT_RESPONSE_RESULT__INIT;
  header_list hl, tl;
  headers_to_list(&j->resp_headers, &hl);
  headers_to_list(&j->trailers, &tl);
  res.n_response_headers = hl.n;
  res.response_headers = hl.ptrs;
  res.n_response_trailers = tl.n;
  res.response_trailers = tl.ptrs;
  res.n_payloads = j->n_payloads;
  res.payloads = j->payloads;
  res.num_unsent_requests = (int32_t)unsent;
  Connectrpc__Conformance__V1__Error e = CONNECTRPC__CONFORMANCE__V1__ERROR__INIT;
  Google__Protobuf__Any *anys = NULL, **any_ptrs = NULL;
  char **urls = NULL;
  if (j->err.code != CONNECTC_CODE_OK) {
    e.code = (Connectrpc__Conformance__V1__Code)j->err.code;
    if (j->err.message) {
      e._message_case = CONNECTRPC__CONFORMANCE__V1__ERROR___MESSAGE_MESSAGE;
      e.message = j->err.message;
    }
    anys = calloc(j->err.n_details + 1, sizeof *anys);
    any_ptrs = calloc(j->err.n_details + 1, sizeof *any_ptrs);
    urls = calloc(j->err.n_details + 1, sizeof *urls);
    for (size_t i = 0; i < j->err.n_details; i++) {
      Google__Protobuf__Any a = GOOGLE__PROTOBUF__ANY__INIT;
      anys[i] = a;
      size_t ul = strlen(TYPE_PREFIX) + strlen(j->err.details[i].type) + 1;
      urls[i] = malloc(ul);
      snprintf(urls[i], ul, "%s%s", TYPE_PREFIX, j->err.details[i].type);
      anys[i].type_url = urls[i];
      anys[i].value.data = j->err.details[i].value;
      anys[i].value.len = j->err.details[i].value_len;
      any_ptrs[i] = &anys[i];
    }
    e.n_details = j->err.n_details;
    e.details = any_ptrs;
    res.error = &e;
  }
  r.test_name = req->test_name;
  r.result_case = CONNECTRPC__CONFORMANCE__V1__CLIENT_COMPAT_RESPONSE__RESULT_RESPONSE;
  r.response = &res;
  emit(&r);
  for (size_t i = 0; urls && i < j->err.n_details; i++) free(urls[i]);
  free(urls);
  free(anys);
  free(any_ptrs);
  free_list(&hl);
  free_list(&tl);
}

static void *job_thread(void *arg) {
  job *j = arg;
  int j_threaded = j->threaded;
  connectc_headers_init(&j->resp_headers, NULL);
  connectc_headers_init(&j->trailers, NULL);
  connectc_error_init(&j->err, NULL);
  if (j->req->raw_request) emit_error(j->req->test_name, "raw requests are for the reference client only");
  else run_job(j);
  for (size_t i = 0; i < j->n_payloads; i++) connectc_message_free(&j->payloads[i]->base, NULL);
  free(j->payloads);
  connectc_headers_reset(&j->resp_headers);
  connectc_headers_reset(&j->trailers);
  connectc_error_reset(&j->err);
  connectrpc__conformance__v1__client_compat_request__free_unpacked(j->req, NULL);
  free(j);
  pthread_mutex_lock(&run_mu);
  running--;
  if (j_threaded) finished[n_finished++] = pthread_self();
  pthread_cond_broadcast(&run_cv);
  pthread_mutex_unlock(&run_mu);
  return NULL;
}

/* Joins the threads that finished (run_mu held; each has at most its exit
 * left to do, so this does not wait for a job). */
static void join_finished(void) {
  while (n_finished > 0) pthread_join(finished[--n_finished], NULL);
}

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

int main(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--transport") == 0 && i + 1 < argc) {
      const char *name = argv[++i];
      if (strcmp(name, "curl") == 0) {
        use_mongoose = 0;
#ifdef CONFORMANCE_MONGOOSE
      } else if (strcmp(name, "mongoose") == 0) {
        use_mongoose = 1;
#endif
      } else {
        fprintf(stderr, "conformance client: unknown transport %s\n", name);
        return 2;
      }
    } else {
      fprintf(stderr, "usage: %s [--transport curl|mongoose]\n", argv[0]);
      return 2;
    }
  }
#ifdef CONFORMANCE_MONGOOSE
  if (use_mongoose) {
    mg_log_set(MG_LL_NONE);
    mg_log_set_fn(mg_log_stderr, NULL);
  }
#endif
  if (connectc_type_registry_new(NULL, &registry) != CONNECTC_OK ||
      connectrpc_conformance_v1_service__register_types(registry) != CONNECTC_OK ||
      connectc_codec_json_new(registry, NULL, &json_codec) != CONNECTC_OK) {
    fprintf(stderr, "conformance client: out of memory\n");
    return 1;
  }
  for (;;) {
    uint8_t hdr[4];
    if (read_full(0, hdr, 4)) break;
    uint32_t n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
    if (n > 64 * 1024 * 1024) return 1;
    uint8_t *buf = malloc(n ? n : 1);
    if (read_full(0, buf, n)) return 1;
    job *j = calloc(1, sizeof *j);
    j->req = connectrpc__conformance__v1__client_compat_request__unpack(NULL, n, buf);
    free(buf);
    if (!j->req) {
      free(j);
      return 1;
    }
    pthread_mutex_lock(&run_mu);
    while (running >= CONCURRENCY) pthread_cond_wait(&run_cv, &run_mu);
    running++;
    join_finished();
    pthread_mutex_unlock(&run_mu);
    pthread_t t;
    j->threaded = 1;
    if (pthread_create(&t, NULL, job_thread, j) != 0) {
      j->threaded = 0;
      job_thread(j);
    }
  }
  pthread_mutex_lock(&run_mu);
  while (running > 0) pthread_cond_wait(&run_cv, &run_mu);
  join_finished();
  pthread_mutex_unlock(&run_mu);
  connectc_codec_json_del(json_codec);
  connectc_type_registry_del(registry);
  return 0;
}
