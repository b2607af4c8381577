/*
 * The client under test for the Connect conformance suite.
 *
 * Reads size-delimited ClientCompatRequests from stdin, runs each as a
 * call with the libcurl adapter (up to CONCURRENCY at a time, one thread
 * and one transport each), and writes a size-delimited
 * ClientCompatResponse per request to stdout, in completion order.
 * Messages are encoded with the requested codec (proto or JSON) and
 * compression; timeouts, request headers, Connect GET, request delays and
 * the three cancellation timings are honoured.
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

#define CONCURRENCY 16
#define TYPE_PREFIX "type.googleapis.com/"

static connectc_type_registry *registry;
static connectc_codec *json_codec;
static pthread_mutex_t out_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t run_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t run_cv = PTHREAD_COND_INITIALIZER;
static int running;

static void sleep_ms(int64_t ms) {
  if (ms <= 0) return;
  struct timespec ts = {(time_t)(ms / 1000), (long)(ms % 1000) * 1000000L};
  while (nanosleep(&ts, &ts) == -1 && errno == EINTR) {
  }
}

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

/* ---- one call ---- */

typedef struct job {
  Connectrpc__Conformance__V1__ClientCompatRequest *req;
  const ProtobufCMessageDescriptor *output; /* NULL when the method is unknown */
  const connectc_codec *codec;
  /* results */
  connectc_headers resp_headers;
  connectc_headers trailers;
  ProtobufCMessage **payloads; /* ConformancePayload messages */
  size_t n_payloads;
  int have_headers;
  int closed;
  connectc_error err;
  uint32_t cancel_after; /* cancel once this many responses arrived; 0 = never */
  connectc_client_call *call;
} job;

static int on_headers(connectc_client_call *c, const connectc_headers *h, void *ud) {
  (void)c;
  job *j = ud;
  connectc_headers_append_all(&j->resp_headers, h);
  j->have_headers = 1;
  return 0;
}

static int on_message(connectc_client_call *c, const uint8_t *data, size_t len, void *ud) {
  (void)c;
  job *j = ud;
  if (j->output) {
    ProtobufCMessage *m = NULL;
    connectc_error e;
    connectc_error_init(&e, NULL);
    if (j->codec->unmarshal(j->codec, j->output, data, len, NULL, NULL, &m, &e) != CONNECTC_OK) {
      connectc_error_copy(&j->err, &e);
      connectc_error_reset(&e);
      return 1;
    }
    connectc_error_reset(&e);
    /* Every ConformanceService response has its payload as field 1. */
    const ProtobufCFieldDescriptor *f = protobuf_c_message_descriptor_get_field(j->output, 1);
    ProtobufCMessage **slot = (ProtobufCMessage **)((char *)m + f->offset);
    ProtobufCMessage **np = realloc(j->payloads, (j->n_payloads + 1) * sizeof *np);
    if (np) {
      j->payloads = np;
      ProtobufCMessage *p = *slot;
      if (!p) { /* a response without a payload: report an empty one */
        p = malloc(connectrpc__conformance__v1__conformance_payload__descriptor.sizeof_message);
        connectrpc__conformance__v1__conformance_payload__init((Connectrpc__Conformance__V1__ConformancePayload *)p);
      }
      j->payloads[j->n_payloads++] = p;
      *slot = NULL; /* keep the payload, free the wrapper */
    }
    connectc_message_free(m, NULL);
  } else {
    j->n_payloads++;
  }
  if (j->cancel_after && j->n_payloads >= j->cancel_after) connectc_client_call_cancel(j->call);
  return 0;
}

static void on_close(connectc_client_call *c, const connectc_error *err, const connectc_headers *trailers,
                     void *ud) {
  (void)c;
  job *j = ud;
  j->closed = 1;
  if (j->err.code == CONNECTC_CODE_OK) connectc_error_copy(&j->err, err);
  connectc_headers_append_all(&j->trailers, trailers);
}

static const connectrpc_conformance_v1_conformance_service_method *find_method(const char *procedure) {
  for (size_t i = 0; i < CONNECTRPC_CONFORMANCE_V1_CONFORMANCE_SERVICE_METHOD_COUNT; i++)
    if (strcmp(connectrpc_conformance_v1_conformance_service_methods[i]->desc.procedure, procedure) == 0)
      return connectrpc_conformance_v1_conformance_service_methods[i];
  return NULL;
}

/* Encodes request i (an Any) with the job's codec. */
static int encode_request(job *j, size_t i, uint8_t **out, size_t *len) {
  const Google__Protobuf__Any *any = j->req->request_messages[i];
  if (j->codec == connectc_codec_proto()) {
    *out = malloc(any->value.len ? any->value.len : 1);
    if (any->value.len) memcpy(*out, any->value.data, any->value.len);
    *len = any->value.len;
    return 0;
  }
  const char *slash = strrchr(any->type_url, '/');
  const char *name = slash ? slash + 1 : any->type_url;
  const connectc_message_info *info = connectc_type_registry_find(registry, name, strlen(name));
  if (!info) return -1;
  ProtobufCMessage *m = protobuf_c_message_unpack(info->descriptor, NULL, any->value.len, any->value.data);
  if (!m) return -1;
  uint8_t *bytes = NULL;
  int rv = j->codec->marshal(j->codec, m, NULL, &bytes, len, NULL);
  protobuf_c_message_free_unpacked(m, NULL);
  if (rv) return -1;
  *out = malloc(*len ? *len : 1);
  memcpy(*out, bytes, *len);
  connectc_free(NULL, bytes);
  return 0;
}

static void run_job(job *j) {
  Connectrpc__Conformance__V1__ClientCompatRequest *req = j->req;
  char procedure[512];
  snprintf(procedure, sizeof procedure, "/%s/%s",
           req->_service_case ? req->service : "connectrpc.conformance.v1.ConformanceService",
           req->_method_case ? req->method : "");
  const connectrpc_conformance_v1_conformance_service_method *m = find_method(procedure);
  j->output = m ? m->output : NULL;
  j->codec = req->codec == CONNECTRPC__CONFORMANCE__V1__CODEC__CODEC_JSON ? json_codec : connectc_codec_proto();

  connectc_client_config cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.procedure = procedure;
  switch (req->stream_type) {
    case CONNECTRPC__CONFORMANCE__V1__STREAM_TYPE__STREAM_TYPE_CLIENT_STREAM: cfg.stream_type = CONNECTC_STREAM_CLIENT; break;
    case CONNECTRPC__CONFORMANCE__V1__STREAM_TYPE__STREAM_TYPE_SERVER_STREAM: cfg.stream_type = CONNECTC_STREAM_SERVER; break;
    case CONNECTRPC__CONFORMANCE__V1__STREAM_TYPE__STREAM_TYPE_HALF_DUPLEX_BIDI_STREAM:
    case CONNECTRPC__CONFORMANCE__V1__STREAM_TYPE__STREAM_TYPE_FULL_DUPLEX_BIDI_STREAM: cfg.stream_type = CONNECTC_STREAM_BIDI; break;
    default: cfg.stream_type = CONNECTC_STREAM_UNARY; break;
  }
  cfg.codec = j->codec->name;
  switch (req->compression) {
    case CONNECTRPC__CONFORMANCE__V1__COMPRESSION__COMPRESSION_GZIP: cfg.send_compression = CONNECTC_COMPRESSION_GZIP; break;
    case CONNECTRPC__CONFORMANCE__V1__COMPRESSION__COMPRESSION_BR: cfg.send_compression = CONNECTC_COMPRESSION_BR; break;
    case CONNECTRPC__CONFORMANCE__V1__COMPRESSION__COMPRESSION_ZSTD: cfg.send_compression = CONNECTC_COMPRESSION_ZSTD; break;
    default: cfg.send_compression = CONNECTC_COMPRESSION_IDENTITY; break;
  }
  cfg.limits.recv_max_bytes = req->message_receive_limit;
  if (req->_timeout_ms_case) cfg.timeout_ms = req->timeout_ms ? req->timeout_ms : 1;
  cfg.use_get = req->use_get_http_method && cfg.stream_type == CONNECTC_STREAM_UNARY;

  char url[300];
  int tls = req->server_tls_cert.len > 0;
  snprintf(url, sizeof url, "%s://%s:%u", tls ? "https" : "http", req->host, (unsigned)req->port);
  connectc_curl_config ccfg;
  memset(&ccfg, 0, sizeof ccfg);
  ccfg.base_url = url;
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
  connectc_curl *t = NULL;
  connectc_client_callbacks cb = {on_headers, on_message, on_close};
  int32_t unsent = (int32_t)req->n_request_messages;
  if (connectc_curl_new(&ccfg, NULL, &t) != CONNECTC_OK ||
      connectc_client_call_new(&cfg, &cb, j, NULL, connectc_curl_now_ms(), &j->call) != CONNECTC_OK) {
    connectc_curl_del(t);
    emit_error(req->test_name, "cannot create the call (unsupported configuration)");
    return;
  }
  for (size_t i = 0; i < req->n_request_headers; i++)
    for (size_t k = 0; k < req->request_headers[i]->n_value; k++)
      connectc_client_call_add_header(j->call, req->request_headers[i]->name, req->request_headers[i]->value[k]);

  int cancel_kind = req->cancel ? (int)req->cancel->cancel_timing_case : 0;
  if (cancel_kind == CONNECTRPC__CONFORMANCE__V1__CLIENT_COMPAT_REQUEST__CANCEL__CANCEL_TIMING_AFTER_NUM_RESPONSES)
    j->cancel_after = req->cancel->after_num_responses ? req->cancel->after_num_responses : 1;

  int unary_send = cfg.stream_type == CONNECTC_STREAM_UNARY || cfg.stream_type == CONNECTC_STREAM_SERVER;
  size_t next = 0;
  int started = 0;
  int64_t next_send_at = connectc_curl_now_ms();
  int64_t cancel_at = -1;
  int closed_send = 0;
  if (cancel_kind == CONNECTRPC__CONFORMANCE__V1__CLIENT_COMPAT_REQUEST__CANCEL__CANCEL_TIMING_AFTER_NUM_RESPONSES &&
      req->cancel->after_num_responses == 0) {
    /* Zero responses: cancel as soon as the request is out. */
    j->cancel_after = 0;
    cancel_at = 0;
  }
  for (;;) {
    int64_t now = connectc_curl_now_ms();
    /* Send what is due. */
    while (!j->closed && next < req->n_request_messages && now >= next_send_at &&
           !(unary_send && next > 0)) {
      uint8_t *msg = NULL;
      size_t len = 0;
      if (encode_request(j, next, &msg, &len) != 0) {
        connectc_client_call_fail(j->call, CONNECTC_CODE_INTERNAL, "cannot encode the request message");
        break;
      }
      int rv = connectc_client_call_send(j->call, msg, len);
      free(msg);
      if (rv != CONNECTC_OK) break;
      next++;
      unsent--;
      next_send_at = now + req->request_delay_ms;
      if (req->request_delay_ms && next < req->n_request_messages) break;
    }
    if (!started && !j->closed) {
      if (unary_send && next == 0 && req->n_request_messages == 0) {
        connectc_client_call_send(j->call, (const uint8_t *)"", 0); /* an empty request */
      }
      if (connectc_curl_start(t, j->call) != CONNECTC_OK) {
        connectc_client_call_fail(j->call, CONNECTC_CODE_INTERNAL, "cannot start the transfer");
      }
      started = 1;
    }
    if (!closed_send && !j->closed && next >= req->n_request_messages) {
      if (cancel_kind == CONNECTRPC__CONFORMANCE__V1__CLIENT_COMPAT_REQUEST__CANCEL__CANCEL_TIMING_BEFORE_CLOSE_SEND) {
        connectc_client_call_cancel(j->call);
      } else {
        connectc_client_call_close_send(j->call);
        if (cancel_kind == CONNECTRPC__CONFORMANCE__V1__CLIENT_COMPAT_REQUEST__CANCEL__CANCEL_TIMING_AFTER_CLOSE_SEND_MS)
          cancel_at = now + req->cancel->after_close_send_ms;
        if (cancel_at == 0) cancel_at = now;
      }
      closed_send = 1;
    }
    if (cancel_at >= 0 && now >= cancel_at) connectc_client_call_cancel(j->call);
    if (started) connectc_curl_wake(t, j->call);
    if (j->closed) break;
    int wait = 50;
    if (next < req->n_request_messages && next_send_at - now < wait) wait = (int)(next_send_at - now);
    if (cancel_at >= 0 && cancel_at - now < wait) wait = (int)(cancel_at - now);
    if (wait < 0) wait = 0;
    if (started) connectc_curl_poll(t, wait);
    else sleep_ms(wait);
  }
  /* Let the transport finish its bookkeeping for the closed call. */
  while (connectc_curl_running(t)) connectc_curl_poll(t, 10);

  /* Build the result. */
  Connectrpc__Conformance__V1__ClientCompatResponse r = CONNECTRPC__CONFORMANCE__V1__CLIENT_COMPAT_RESPONSE__INIT;
  Connectrpc__Conformance__V1__ClientResponseResult res = CONNECTRPC__CONFORMANCE__V1__CLIENT_RESPONSE_RESULT__INIT;
  header_list hl, tl;
  headers_to_list(&j->resp_headers, &hl);
  headers_to_list(&j->trailers, &tl);
  res.n_response_headers = hl.n;
  res.response_headers = hl.ptrs;
  res.n_response_trailers = tl.n;
  res.response_trailers = tl.ptrs;
  res.n_payloads = j->output ? j->n_payloads : 0;
  res.payloads = (Connectrpc__Conformance__V1__ConformancePayload **)j->payloads;
  res.num_unsent_requests = unsent > 0 ? unsent : 0;
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
  connectc_client_call_del(j->call);
  connectc_curl_del(t);
}

static void *job_thread(void *arg) {
  job *j = arg;
  connectc_headers_init(&j->resp_headers, NULL);
  connectc_headers_init(&j->trailers, NULL);
  connectc_error_init(&j->err, NULL);
  if (j->req->raw_request) emit_error(j->req->test_name, "raw requests are for the reference client only");
  else run_job(j);
  for (size_t i = 0; i < j->n_payloads && j->output; i++) connectc_message_free(j->payloads[i], NULL);
  free(j->payloads);
  connectc_headers_reset(&j->resp_headers);
  connectc_headers_reset(&j->trailers);
  connectc_error_reset(&j->err);
  connectrpc__conformance__v1__client_compat_request__free_unpacked(j->req, NULL);
  free(j);
  pthread_mutex_lock(&run_mu);
  running--;
  pthread_cond_broadcast(&run_cv);
  pthread_mutex_unlock(&run_mu);
  return NULL;
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

int main(void) {
  registry = connectc_type_registry_new(NULL);
  connectrpc_conformance_v1_service__register_types(registry);
  json_codec = connectc_codec_json_new(registry, NULL);
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
    pthread_mutex_unlock(&run_mu);
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, job_thread, j) != 0) job_thread(j);
    pthread_attr_destroy(&attr);
  }
  pthread_mutex_lock(&run_mu);
  while (running > 0) pthread_cond_wait(&run_cv, &run_mu);
  pthread_mutex_unlock(&run_mu);
  connectc_codec_json_del(json_codec);
  connectc_type_registry_del(registry);
  return 0;
}
