/*
 * The libmicrohttpd server adapter: moves bytes between MHD connections and
 * the router's sans-IO server calls.
 *
 * Per request, one `req` holds the server call and a mutex. Everything that
 * touches the call takes the mutex: MHD callbacks, the deadline ticker, and
 * asynchronous handlers (through connectc_server_call_run). When the call
 * has nothing to send yet, the connection is suspended; wake() resumes it.
 * A req is reference-counted so that an asynchronous handler may outlive the
 * client's connection safely.
 */
#define _XOPEN_SOURCE 700 /* PTHREAD_MUTEX_RECURSIVE */

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "connectc/microhttpd.h"
#include "cpus.h"
#include "mhd_gate.h"

typedef struct req req;

struct connectc_mhd_embed {
  connectc_router *router;
  size_t max_discard;
  pthread_mutex_t mu; /* guards the list of live requests and `stopping` */
  pthread_cond_t idle;
  req *live;
  size_t n_live;
  size_t n_deadlines; /* live requests with a deadline: the ticker's work */
  int stopping;
  pthread_t ticker;
  int ticker_started;
  /* connectc_mhd_start's servers: each connection's compression context,
   * lent to its calls (mhd_gate_compress_ctx). Embedded, the connections
   * are the application's: then every call makes its own. */
  int lend_conn_ctx;
};

#define REQ_MAGIC 0x63637271u /* a req in *req_cls */
#define PRE_MAGIC 0x63637070u /* a pre_req in *req_cls */

struct req {
  unsigned magic;
  connectc_mhd_embed *e;
  struct MHD_Connection *conn;
  connectc_server_call *call;
  pthread_mutex_t mu;
  int refs;
  int suspended;
  int ended;     /* recv_end was called */
  int queued;    /* a response was queued */
  int completed; /* MHD is done with the connection's request */
  int has_deadline; /* counted in e->n_deadlines */
  struct MHD_Response *resp; /* a streamed response, for its footers */
  int answered;     /* the answer was written before the request ended */
  size_t discarded;
  req *prev, *next; /* in e->live */
};

static int64_t now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- request lifetime ---- */

static void req_unref_locked_list(req *r);

static void req_ref(req *r) {
  pthread_mutex_lock(&r->mu);
  r->refs++;
  pthread_mutex_unlock(&r->mu);
}

static void req_unref(req *r) {
  pthread_mutex_lock(&r->mu);
  int left = --r->refs;
  pthread_mutex_unlock(&r->mu);
  if (left == 0) req_unref_locked_list(r);
}

/* Frees a request nobody references any more. */
static void req_unref_locked_list(req *r) {
  connectc_mhd_embed *e = r->e;
  pthread_mutex_lock(&e->mu);
  if (r->prev) r->prev->next = r->next;
  else e->live = r->next;
  if (r->next) r->next->prev = r->prev;
  if (r->has_deadline) e->n_deadlines--;
  connectc_router *router = e->router;
  pthread_mutex_unlock(&e->mu);
  /* Still counted in n_live: a stopping server (and its router) waits. */
  connectc_router_call_del(router, r->call);
  pthread_mutex_destroy(&r->mu);
  free(r);
  pthread_mutex_lock(&e->mu);
  e->n_live--;
  if (e->n_live == 0) pthread_cond_broadcast(&e->idle);
  pthread_mutex_unlock(&e->mu); /* `e` may be freed from here on */
}

static void t_lock(void *ctx) { pthread_mutex_lock(&((req *)ctx)->mu); }
static void t_unlock(void *ctx) { pthread_mutex_unlock(&((req *)ctx)->mu); }
/* Called with r->mu held. */
static void t_wake(void *ctx) {
  req *r = ctx;
  if (r->suspended && !r->completed) {
    r->suspended = 0;
    MHD_resume_connection(r->conn);
  }
}
static void t_ref(void *ctx) { req_ref(ctx); }
static void t_unref(void *ctx) { req_unref(ctx); }

static const connectc_server_call_hooks transport_ops = {
    .lock = t_lock, .unlock = t_unlock, .wake = t_wake, .ref = t_ref, .unref = t_unref};

/* ---- request head ---- */

static enum MHD_Result add_header(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value) {
  (void)kind;
  connectc_headers *h = cls;
  if (!key || !value) return MHD_YES;
  /* A field value excludes trailing whitespace (RFC 9110 5.5); MHD only
   * strips the leading part. */
  size_t vlen = strlen(value);
  while (vlen && (value[vlen - 1] == ' ' || value[vlen - 1] == '\t')) vlen--;
  (void)connectc_headers_add(h, key, strlen(key), value, vlen);
  return MHD_YES;
}

/* What the framing headers of a request say, to refuse ambiguous ones. */
typedef struct framing {
  unsigned content_length;    /* Content-Length fields seen */
  unsigned transfer_encoding; /* Transfer-Encoding fields seen */
  int other_coding;           /* a transfer coding other than plain "chunked" */
  int bad_field;              /* a name that is not a token, a value with CR or LF */
} framing;

static int is_token(const char *s) {
  if (!*s) return 0;
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
          (c && strchr("!#$%&'*+-.^_`|~", c))))
      return 0;
  }
  return 1;
}

static enum MHD_Result scan_framing(void *cls, enum MHD_ValueKind kind, const char *key,
                                    const char *value) {
  (void)kind;
  framing *f = cls;
  if (!key || !is_token(key) || (value && strpbrk(value, "\r\n"))) {
    f->bad_field = 1;
  } else if (strcasecmp(key, "content-length") == 0) {
    f->content_length++;
  } else if (strcasecmp(key, "transfer-encoding") == 0) {
    f->transfer_encoding++;
    size_t n = value ? strlen(value) : 0;
    while (n && (value[n - 1] == ' ' || value[n - 1] == '\t')) n--;
    if (n != 7 || strncasecmp(value, "chunked", 7) != 0) f->other_coding = 1;
  }
  return MHD_YES;
}

/* Answers a refusal with its Connect error body and closes the
 * connection: the response is queued on the access handler's first call,
 * so it is the only one, and libmicrohttpd sends no 100 Continue. */
static enum MHD_Result refuse_http(struct MHD_Connection *conn, const connectc_http_refusal *why) {
  char body[512];
  size_t n = connectc_http_write_refusal_body(body, sizeof body, why);
  if (n >= sizeof body) n = sizeof body - 1;
  struct MHD_Response *resp = MHD_create_response_from_buffer(n, body, MHD_RESPMEM_MUST_COPY);
  if (!resp) return MHD_NO;
  MHD_add_response_header(resp, "Content-Type", "application/json");
  MHD_add_response_header(resp, "Connection", "close");
  enum MHD_Result ok = MHD_queue_response(conn, (unsigned)why->status, resp);
  MHD_destroy_response(resp);
  return ok;
}

static enum MHD_Result refuse(struct MHD_Connection *conn, int status, connectc_code code,
                              const char *message) {
  connectc_http_refusal why;
  why.status = status;
  why.code = code;
  snprintf(why.message, sizeof why.message, "%s", message);
  return refuse_http(conn, &why);
}

/* Refuses a request whose body length two HTTP parsers could read
 * differently (RFC 9112 6.3: Content-Length with Transfer-Encoding,
 * repeated Content-Length, field names that are not tokens as after
 * whitespace before the colon, and values holding a bare CR, which
 * libmicrohttpd keeps but other parsers end the line at). libmicrohttpd
 * picks one reading and would parse the rest of the body as a second
 * request: the request-smuggling shape. Such requests get 400 and the
 * connection is closed. A transfer coding other than chunked, which
 * libmicrohttpd would wait on until the idle timeout, gets 501 (RFC 9110
 * 15.6.2) and is closed too. Returns 1 when the request was refused. */
static int refuse_bad_framing(struct MHD_Connection *conn, enum MHD_Result *ok) {
  framing f = {0, 0, 0, 0};
  MHD_get_connection_values(conn, MHD_HEADER_KIND, scan_framing, &f);
  if (f.bad_field || f.content_length > 1 || f.transfer_encoding > 1 ||
      (f.content_length && f.transfer_encoding)) {
    *ok = refuse(conn, 400, CONNECTC_CODE_INVALID_ARGUMENT,
                 f.bad_field ? "a field name that is not a token, or a value holding CR or LF"
                             : "ambiguous HTTP request framing: Content-Length and "
                               "Transfer-Encoding together, or either of them repeated");
    return 1;
  }
  if (f.other_coding) {
    *ok = refuse(conn, 501, CONNECTC_CODE_UNIMPLEMENTED,
                 "unsupported Transfer-Encoding: only chunked is");
    return 1;
  }
  return 0;
}

typedef struct query_buf {
  char *data;
  size_t len, cap;
  int oom;
} query_buf;

static void qb_put(query_buf *q, const char *s, size_t n) {
  if (q->oom) return;
  if (q->len + n + 1 > q->cap) {
    size_t ncap = q->cap ? q->cap * 2 : 256;
    while (ncap < q->len + n + 1) ncap *= 2;
    char *p = realloc(q->data, ncap);
    if (!p) {
      q->oom = 1;
      return;
    }
    q->data = p;
    q->cap = ncap;
  }
  memcpy(q->data + q->len, s, n);
  q->len += n;
  q->data[q->len] = 0;
}

static void qb_escape(query_buf *q, const char *s) {
  static const char hex[] = "0123456789ABCDEF";
  for (; *s; s++) {
    unsigned char c = (unsigned char)*s;
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
        c == '-' || c == '_' || c == '.' || c == '~') {
      qb_put(q, (const char *)&c, 1);
    } else {
      char esc[3] = {'%', hex[c >> 4], hex[c & 15]};
      qb_put(q, esc, 3);
    }
  }
}

/* MHD hands us the query already split and unescaped; rebuild a canonical
 * query string for the core's parser. */
static enum MHD_Result add_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                               const char *value) {
  (void)kind;
  query_buf *q = cls;
  if (!key) return MHD_YES;
  if (q->len) qb_put(q, "&", 1);
  qb_escape(q, key);
  if (value) {
    qb_put(q, "=", 1);
    qb_escape(q, value);
  }
  return MHD_YES;
}

/* `path` (path_len bytes, NUL-free) routes the call; `query` is the raw
 * query (without '?'), or NULL to rebuild it from libmicrohttpd's decoded
 * arguments (when the raw target is unknown), or "" for none. */
static req *req_new(connectc_mhd_embed *e, struct MHD_Connection *conn, const char *path,
                    size_t path_len, const char *method, const char *query) {
  req *r = calloc(1, sizeof *r);
  if (!r) return NULL;
  r->magic = REQ_MAGIC;
  r->e = e;
  r->conn = conn;
  r->refs = 1; /* MHD's reference, dropped in connectc_mhd_completed */
  /* Recursive: handlers run inside our callbacks with the lock held, and
   * may call connectc_server_call_run/ref themselves. */
  pthread_mutexattr_t attr;
  pthread_mutexattr_init(&attr);
  pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_RECURSIVE);
  pthread_mutex_init(&r->mu, &attr);
  pthread_mutexattr_destroy(&attr);
  if (connectc_router_call_new(e->router, path, path_len, &r->call) != CONNECTC_OK) {
    pthread_mutex_destroy(&r->mu);
    free(r);
    return NULL;
  }
  connectc_server_call_set_hooks(r->call, &transport_ops, r);
  if (e->lend_conn_ctx) {
    connectc_compress_ctx *cctx = mhd_gate_compress_ctx(conn, connectc_router_allocator(e->router));
    if (cctx) (void)connectc_server_call_lend_compress_ctx(r->call, cctx);
  }
  pthread_mutex_lock(&e->mu);
  r->next = e->live;
  if (e->live) e->live->prev = r;
  e->live = r;
  e->n_live++;
  pthread_mutex_unlock(&e->mu);

  /* The raw query goes to the core as it came; only without it is one
   * rebuilt from libmicrohttpd's decoded arguments. */
  query_buf q = {NULL, 0, 0, 0};
  if (!query) {
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, add_arg, &q);
    query = q.oom ? "" : q.data;
  } else if (!query[0]) {
    query = NULL;
  }
  pthread_mutex_lock(&r->mu);
  /* The fields go straight into the call's own list: one copy. */
  connectc_headers *h = connectc_server_call_headers_to_fill(r->call);
  MHD_get_connection_values(conn, MHD_HEADER_KIND, add_header, h);
  (void)connectc_server_call_recv_head(r->call, method, query, h, now_ms());
  int has_deadline = connectc_server_call_deadline(r->call) >= 0;
  pthread_mutex_unlock(&r->mu);
  if (has_deadline) {
    pthread_mutex_lock(&e->mu);
    r->has_deadline = 1;
    e->n_deadlines++;
    pthread_mutex_unlock(&e->mu);
  }
  free(q.data);
  return r;
}

/* ---- response ---- */

static ssize_t read_body(void *cls, uint64_t pos, char *buf, size_t max) {
  (void)pos;
  req *r = cls;
  ssize_t n;
  pthread_mutex_lock(&r->mu);
  const uint8_t *data;
  size_t len;
  int done;
  connectc_server_call_body_peek(r->call, &data, &len, &done);
  if (len) {
    size_t k = len < max ? len : max;
    memcpy(buf, data, k);
    connectc_server_call_body_consume(r->call, k);
    n = (ssize_t)k;
  } else if (done) {
    /* gRPC's status travels in HTTP trailers: chunked footers here. */
    const connectc_headers *t = connectc_server_call_response_http_trailers(r->call);
    for (size_t i = 0; t && r->resp && i < t->len; i++)
      MHD_add_response_footer(r->resp, t->items[i].name, t->items[i].value);
    n = MHD_CONTENT_READER_END_OF_STREAM;
  } else {
    /* Nothing to send yet: sleep until the handler wakes us (a reader
     * returning 0 would make MHD spin). */
    r->suspended = 1;
    MHD_suspend_connection(r->conn);
    n = 0;
  }
  pthread_mutex_unlock(&r->mu);
  return n;
}

/* Queues the response if the call has decided its head. Called with r->mu
 * held. Returns MHD_NO on a fatal error. */
static enum MHD_Result maybe_queue(req *r) {
  connectc_response_head head;
  if (connectc_server_call_response_head(r->call, &head) != CONNECTC_OK) {
    /* Finished without a response: the call was abandoned; close. */
    if (connectc_server_call_is_finished(r->call)) return MHD_NO;
    r->suspended = 1;
    MHD_suspend_connection(r->conn);
    return MHD_YES;
  }
  struct MHD_Response *resp;
  const uint8_t *data;
  size_t len;
  int done;
  connectc_server_call_body_peek(r->call, &data, &len, &done);
  /* A complete body goes from a buffer, except a stream's with HTTP
   * trailers (gRPC), which only a streamed response carries as footers. */
  if (done && (head.content_length < 0 ? !connectc_server_call_response_http_trailers(r->call)
                                       : (int64_t)len == head.content_length)) {
    /* Not copied: the bytes stay in the call, which nothing writes to
     * any more (its body is done) and which lives until libmicrohttpd
     * reports the request completed (connectc_mhd_completed), after it
     * last reads them. */
    resp = MHD_create_response_from_buffer(len, (void *)(uintptr_t)data, MHD_RESPMEM_PERSISTENT);
    connectc_server_call_body_consume(r->call, len);
  } else {
    resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, read_body, r, NULL);
    r->resp = resp; /* MHD keeps it while the body is read */
  }
  if (!resp) return MHD_NO;
  for (size_t i = 0; i < head.headers->len; i++)
    MHD_add_response_header(resp, head.headers->items[i].name, head.headers->items[i].value);
  enum MHD_Result ok = MHD_queue_response(r->conn, (unsigned)head.status, resp);
  MHD_destroy_response(resp);
  r->queued = 1;
  return ok;
}

/* The raw request target, captured by the ready server's URI log callback
 * before libmicrohttpd decodes it in place (that is where an escaped NUL
 * would cut the path short). It is *req_cls until the first access-handler
 * call replaces it with the req. */
typedef struct pre_req {
  unsigned magic;
  const char *uri; /* where libmicrohttpd keeps the target, for the NUL check */
  char raw[];      /* a copy, NUL-terminated */
} pre_req;

static int is_pre(void *p) { return p && *(const unsigned *)p == PRE_MAGIC; }

static void *log_uri(void *cls, const char *uri, struct MHD_Connection *connection) {
  (void)cls;
  (void)connection;
  size_t n = uri ? strlen(uri) : 0;
  pre_req *p = malloc(sizeof *p + n + 1);
  if (!p) return NULL;
  p->magic = PRE_MAGIC;
  p->uri = uri;
  if (n) memcpy(p->raw, uri, n);
  p->raw[n] = 0;
  return p;
}

typedef struct host_count {
  size_t n;
  const char *first;
} host_count;

static enum MHD_Result count_host(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *value) {
  (void)kind;
  host_count *h = cls;
  if (key && strcasecmp(key, "host") == 0 && h->n++ == 0) h->first = value ? value : "";
  return MHD_YES;
}

/* A request refused from its head is answered at once, before its body,
 * when the client waits for 100 Continue or declares more body than the
 * adapter would read and drop. A smaller body is read and dropped first, so
 * that closing after the answer does not reset a client still sending. */
static int answer_before_body(connectc_mhd_embed *e, struct MHD_Connection *conn) {
  const char *ex = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "expect");
  if (ex && strcasecmp(ex, "100-continue") == 0) return 1;
  const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "content-length");
  uint64_t n = 0;
  return cl && connectc_http_parse_content_length(cl, strlen(cl), &n, NULL) == CONNECTC_OK &&
         n > e->max_discard;
}

/* The access handler's first call for a request: the shared HTTP rules
 * (Host, the request target, NUL-safe paths), then the call's own head.
 * Returns MHD_YES with *req_cls set to the new req, or the result of
 * queueing a refusal. */
static enum MHD_Result begin(connectc_mhd_embed *e, struct MHD_Connection *conn, const char *url,
                             const char *method, const char *version, void **req_cls) {
  pre_req *pre = is_pre(*req_cls) ? *req_cls : NULL;
  *req_cls = NULL;
  enum MHD_Result ok = MHD_YES;
  connectc_http_refusal why;
  /* The decoded path and the query, each NUL-terminated, in `small` when
   * they fit (they are copied into the call). */
  char small[256];
  char *buf = NULL, *path = NULL, *query = NULL;
  size_t path_len = 0;
  int refused = 0;
  if (refuse_bad_framing(conn, &ok)) {
    free(pre);
    return ok;
  }
  int minor = version && strcmp(version, "HTTP/1.1") == 0 ? 1 : 0;
  host_count hc = {0, NULL};
  MHD_get_connection_values(conn, MHD_HEADER_KIND, count_host, &hc);
  if (connectc_http_check_host(minor, hc.n, hc.first, hc.first ? strlen(hc.first) : 0, &why) !=
      CONNECTC_OK)
    refused = 1;
  if (!refused && pre) {
    /* The exact target: parsed and decoded here, with lengths. A raw NUL
     * in it ends the copy early; where libmicrohttpd put the version (right
     * after the target and a space) tells its true length. */
    size_t raw_len = strlen(pre->raw);
    if (version && pre->uri && version > pre->uri && (size_t)(version - pre->uri) < 65536 &&
        (size_t)(version - pre->uri) - 1 > raw_len) {
      why.status = 400;
      why.code = CONNECTC_CODE_INVALID_ARGUMENT;
      snprintf(why.message, sizeof why.message,
               "the request target holds a NUL byte at offset %zu: only visible ASCII is allowed",
               raw_len);
      refused = 1;
    }
    connectc_http_target t;
    if (!refused && connectc_http_parse_target(pre->raw, raw_len, &t, &why) != CONNECTC_OK)
      refused = 1;
    if (!refused) {
      size_t need = t.path_len + 1 + (t.query ? t.query_len : 0) + 1;
      buf = need <= sizeof small ? small : malloc(need);
      if (!buf) {
        free(pre);
        return MHD_NO;
      }
      path = buf;
      query = buf + t.path_len + 1;
      if (connectc_http_decode_path(t.path, t.path_len, path, &path_len, &why) != CONNECTC_OK) {
        refused = 1;
      } else {
        path[path_len] = 0;
        if (t.query) memcpy(query, t.query, t.query_len);
        query[t.query ? t.query_len : 0] = 0;
      }
    }
  } else if (!refused) {
    /* Embedded without the raw target: libmicrohttpd's decoded path. An
     * absolute-form target still names its path after the authority. */
    const char *p = url ? url : "";
    size_t skip = 0;
    if (strncasecmp(p, "http://", 7) == 0) skip = 7;
    else if (strncasecmp(p, "https://", 8) == 0) skip = 8;
    if (skip) {
      const char *slash = strchr(p + skip, '/');
      p = slash ? slash : "/";
    }
    path_len = strlen(p);
    buf = path_len + 1 <= sizeof small ? small : malloc(path_len + 1);
    if (!buf) {
      free(pre);
      return MHD_NO;
    }
    path = buf;
    memcpy(path, p, path_len + 1);
  }
  free(pre);
  if (refused) {
    if (buf != small) free(buf);
    return refuse_http(conn, &why);
  }
  req *r = req_new(e, conn, path, path_len, method, query);
  if (buf != small) free(buf);
  if (!r) return MHD_NO;
  *req_cls = r;
  /* Refused from its head (404, 415, a Content-Length past the receive
   * limit...): answer now when the client waits for 100 Continue or
   * announces a body too large to drop. Otherwise queue nothing on the
   * first call. */
  pthread_mutex_lock(&r->mu);
  if (connectc_server_call_is_finished(r->call) && answer_before_body(e, conn))
    ok = maybe_queue(r);
  pthread_mutex_unlock(&r->mu);
  return ok;
}

/* Writes the whole answer of a call that finished while its request body
 * was still arriving (refused mid-stream, an envelope past the limit...)
 * straight to the socket, since libmicrohttpd 0.9 cannot queue a response
 * before the request ends, and half-closes it. Plain TCP only. Called with
 * r->mu held. Returns 1 when the answer went out. */
static int answer_early(req *r) {
  if (MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_GNUTLS_SESSION)) return 0;
  const union MHD_ConnectionInfo *ci =
      MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
  connectc_response_head head;
  if (!ci || connectc_server_call_response_head(r->call, &head) != CONNECTC_OK) return 0;
  const uint8_t *data;
  size_t len;
  int done;
  connectc_server_call_body_peek(r->call, &data, &len, &done);
  if (!done) return 0;
  size_t hl = connectc_http1_write_response_head(NULL, 0, head.status, head.headers,
                                                 (int64_t)len, 1);
  char *buf = malloc(hl + len + 1);
  if (!buf) return 0;
  connectc_http1_write_response_head(buf, hl + 1, head.status, head.headers, (int64_t)len, 1);
  if (len) memcpy(buf + hl, data, len);
  size_t off = 0;
  while (off < hl + len) {
    ssize_t n = send(ci->connect_fd, buf + off, hl + len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (n <= 0) break;
    off += (size_t)n;
  }
  free(buf);
  if (off < hl + len) return 0;
  connectc_server_call_body_consume(r->call, len);
  shutdown(ci->connect_fd, SHUT_WR);
  /* Whatever the client still sends is read and dropped for a moment. */
  MHD_set_connection_option(r->conn, MHD_CONNECTION_OPTION_TIMEOUT, 2u);
  r->answered = 1;
  return 1;
}

enum MHD_Result connectc_mhd_handle_request(connectc_mhd_embed *e,
                                            struct MHD_Connection *connection, const char *url,
                                            const char *method, const char *version,
                                            const char *upload_data, size_t *upload_data_size,
                                            void **req_cls) {
  if (!*req_cls || is_pre(*req_cls)) return begin(e, connection, url, method, version, req_cls);
  req *r = *req_cls;
  enum MHD_Result ok = MHD_YES;
  pthread_mutex_lock(&r->mu);
  if (r->answered) {
    /* Answered already: drop the rest of the body for a while (so that
     * the client reads the answer rather than a reset), then close. */
    r->discarded += *upload_data_size;
    if (!*upload_data_size || r->discarded > 2 * e->max_discard) ok = MHD_NO;
    *upload_data_size = 0;
  } else if (*upload_data_size) {
    if (connectc_server_call_is_finished(r->call)) {
      r->discarded += *upload_data_size;
      /* Past what we drop: answer now (plain TCP), or close. */
      if (r->discarded > e->max_discard && !answer_early(r)) ok = MHD_NO;
      *upload_data_size = 0;
    } else {
      /* What the call does not take (its consumer is behind) stays with
       * libmicrohttpd, which offers it again; meanwhile the connection
       * sleeps, reading nothing, until connectc_server_call_resume_recv
       * wakes it. */
      size_t taken = *upload_data_size;
      (void)connectc_server_call_recv_body_some(r->call, (const uint8_t *)upload_data,
                                                *upload_data_size, &taken);
      if (connectc_server_call_is_finished(r->call)) {
        (void)answer_early(r);
        taken = *upload_data_size;
      }
      *upload_data_size -= taken;
      if (*upload_data_size && !r->suspended) {
        r->suspended = 1;
        MHD_suspend_connection(r->conn);
      }
    }
  } else if (!r->queued) {
    if (!r->ended) {
      r->ended = 1;
      (void)connectc_server_call_recv_end(r->call); /* synchronous handlers run here */
    }
    ok = maybe_queue(r);
  }
  pthread_mutex_unlock(&r->mu);
  return ok;
}

enum MHD_Result connectc_mhd_handle(connectc_mhd_embed *e, struct MHD_Connection *connection,
                                    const char *url, const char *method,
                                    const char *upload_data, size_t *upload_data_size,
                                    void **req_cls) {
  return connectc_mhd_handle_request(e, connection, url, method, NULL, upload_data,
                                     upload_data_size, req_cls);
}

void connectc_mhd_completed(connectc_mhd_embed *e, void **req_cls,
                            enum MHD_RequestTerminationCode toe) {
  (void)e;
  (void)toe;
  req *r = *req_cls;
  if (!r) return;
  *req_cls = NULL;
  if (is_pre(r)) { /* refused before the access handler saw it */
    free(r);
    return;
  }
  pthread_mutex_lock(&r->mu);
  r->completed = 1;
  /* A call not finished when its connection ends lost its client. */
  if (!connectc_server_call_is_finished(r->call)) connectc_server_call_cancel(r->call);
  connectc_server_call_complete(r->call, now_ms());
  pthread_mutex_unlock(&r->mu);
  req_unref(r);
}

/* ---- deadlines ---- */

static void *ticker_main(void *arg) {
  connectc_mhd_embed *e = arg;
  struct timespec tick = {0, 5 * 1000 * 1000};
  for (;;) {
    pthread_mutex_lock(&e->mu);
    if (e->stopping && e->n_live == 0) {
      pthread_mutex_unlock(&e->mu);
      break;
    }
    int64_t now = now_ms();
    /* Most calls have no deadline: then there is nothing to walk, and the
     * worker threads are not kept waiting for e->mu. */
    for (req *r = e->n_deadlines ? e->live : NULL; r; r = r->next) {
      pthread_mutex_lock(&r->mu);
      int64_t d = connectc_server_call_deadline(r->call);
      if (d >= 0 && now >= d && !connectc_server_call_is_finished(r->call)) {
        connectc_server_call_tick(r->call, now);
        t_wake(r);
      }
      pthread_mutex_unlock(&r->mu);
    }
    int quit = e->stopping == 2;
    pthread_mutex_unlock(&e->mu);
    if (quit) break;
    nanosleep(&tick, NULL);
  }
  return NULL;
}

int connectc_mhd_embed_new(const connectc_mhd_config *cfg, connectc_router *router,
                           connectc_mhd_embed **out) {
  if (!out) return CONNECTC_ERR_ARGUMENT;
  *out = NULL;
  if (!router) return CONNECTC_ERR_ARGUMENT;
  connectc_mhd_embed *e = calloc(1, sizeof *e);
  if (!e) return CONNECTC_ERR_NOMEM;
  e->router = router;
  e->max_discard = cfg && cfg->max_discard_bytes ? cfg->max_discard_bytes : 1024 * 1024;
  pthread_mutex_init(&e->mu, NULL);
  pthread_cond_init(&e->idle, NULL);
  if (pthread_create(&e->ticker, NULL, ticker_main, e) != 0) {
    /* Without the ticker no deadline would ever fire: refuse. */
    pthread_cond_destroy(&e->idle);
    pthread_mutex_destroy(&e->mu);
    free(e);
    return CONNECTC_ERR_NOMEM;
  }
  e->ticker_started = 1;
  *out = e;
  return CONNECTC_OK;
}

void connectc_mhd_embed_del(connectc_mhd_embed *e) {
  if (!e) return;
  pthread_mutex_lock(&e->mu);
  /* Requests still held by asynchronous handlers go when they finish. */
  e->stopping = 1;
  while (e->n_live > 0) pthread_cond_wait(&e->idle, &e->mu);
  e->stopping = 2;
  pthread_mutex_unlock(&e->mu);
  if (e->ticker_started) pthread_join(e->ticker, NULL);
  pthread_cond_destroy(&e->idle);
  pthread_mutex_destroy(&e->mu);
  free(e);
}

/* ---- the ready server ---- */

struct connectc_mhd_server {
  struct MHD_Daemon *daemon;
  connectc_mhd_embed *embed;
  mhd_gate *gate;
  char *cert;
  char *key;
  unsigned grace_ms;
  uint16_t port;
};

static enum MHD_Result on_access(void *cls, struct MHD_Connection *connection, const char *url,
                                 const char *method, const char *version,
                                 const char *upload_data, size_t *upload_data_size,
                                 void **req_cls) {
  connectc_mhd_server *s = cls;
  if (s->gate && (!*req_cls || is_pre(*req_cls))) mhd_gate_request_started(s->gate, connection);
  return connectc_mhd_handle_request(s->embed, connection, url, method, version, upload_data,
                                     upload_data_size, req_cls);
}

static void on_completed(void *cls, struct MHD_Connection *connection, void **req_cls,
                         enum MHD_RequestTerminationCode toe) {
  connectc_mhd_server *s = cls;
  connectc_mhd_completed(s->embed, req_cls, toe);
  if (s->gate) mhd_gate_request_done(s->gate, connection);
}

static void server_free(connectc_mhd_server *s) {
  mhd_gate_del(s->gate);
  connectc_mhd_embed_del(s->embed);
  free(s->cert);
  free(s->key);
  free(s);
}

/* Reads a whole (small) file as a NUL-terminated string, or NULL. */
static char *read_file(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return NULL;
  char *buf = NULL;
  size_t len = 0, cap = 0;
  for (;;) {
    if (len + 4096 + 1 > cap) {
      char *nb = cap > 1024 * 1024 ? NULL : realloc(buf, cap ? cap * 2 : 8192);
      if (!nb) { /* out of memory, or larger than any PEM file */
        free(buf);
        fclose(f);
        return NULL;
      }
      buf = nb;
      cap = cap ? cap * 2 : 8192;
    }
    size_t n = fread(buf + len, 1, 4096, f);
    len += n;
    if (n < 4096) break;
  }
  fclose(f);
  buf[len] = 0;
  return buf;
}

int connectc_mhd_start(const connectc_mhd_config *cfg, connectc_router *router,
                       connectc_mhd_server **out) {
  if (!router || !out) return CONNECTC_ERR_ARGUMENT;
  connectc_mhd_config c;
  memset(&c, 0, sizeof c);
  if (cfg) c = *cfg;
  if ((c.tls_cert_pem == NULL) != (c.tls_key_pem == NULL)) return CONNECTC_ERR_ARGUMENT;
  if (!c.tls_cert_pem && (c.tls_cert_file == NULL) != (c.tls_key_file == NULL))
    return CONNECTC_ERR_ARGUMENT; /* half a TLS configuration: never serve it in clear */
  connectc_mhd_server *s = calloc(1, sizeof *s);
  if (!s) return CONNECTC_ERR_NOMEM;
  s->grace_ms = c.shutdown_grace_ms ? c.shutdown_grace_ms : 5000;
  int erv = connectc_mhd_embed_new(&c, router, &s->embed);
  if (erv != CONNECTC_OK) {
    free(s);
    return erv;
  }
  s->embed->lend_conn_ctx = 1;
  struct sockaddr_in addr;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons(c.port);
  if (inet_pton(AF_INET, c.bind_address ? c.bind_address : "127.0.0.1", &addr.sin_addr) != 1) {
    server_free(s);
    return CONNECTC_ERR_ARGUMENT;
  }
  unsigned flags = MHD_USE_POLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC |
                   MHD_USE_NO_LISTEN_SOCKET;
  if (!c.tls_cert_pem && c.tls_cert_file && c.tls_key_file) {
    flags |= MHD_USE_TLS;
    s->cert = read_file(c.tls_cert_file);
    s->key = read_file(c.tls_key_file);
    if (!s->cert || !s->key) {
      server_free(s);
      return CONNECTC_ERR_ARGUMENT;
    }
  } else if (c.tls_cert_pem) {
    flags |= MHD_USE_TLS;
    s->cert = strdup(c.tls_cert_pem);
    s->key = strdup(c.tls_key_pem);
    if (!s->cert || !s->key) {
      server_free(s);
      return CONNECTC_ERR_NOMEM;
    }
  }
  /* The gate owns the listening socket; libmicrohttpd gets connections
   * whose first head passed the rules (mhd_gate.h). */
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  socklen_t alen = sizeof addr;
  if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
      bind(lfd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(lfd, SOMAXCONN) != 0 ||
      getsockname(lfd, (struct sockaddr *)&addr, &alen) != 0) {
    if (lfd >= 0) close(lfd);
    server_free(s);
    return CONNECTC_ERR_UNSUPPORTED;
  }
  fcntl(lfd, F_SETFD, FD_CLOEXEC);
  s->port = ntohs(addr.sin_port);
  unsigned max_conn = c.max_connections ? c.max_connections : 1024;
  unsigned idle_s = c.connection_timeout_s ? c.connection_timeout_s : 60;
  mhd_gate_config gc;
  memset(&gc, 0, sizeof gc);
  gc.listen_fd = lfd;
  gc.tls = (flags & MHD_USE_TLS) != 0;
  gc.max_connections = max_conn;
  gc.max_pending = c.max_pending_heads ? c.max_pending_heads : max_conn;
  gc.head_timeout_ms = c.request_head_timeout_ms
                           ? (int64_t)c.request_head_timeout_ms
                           : (idle_s * 1000 < 10000 ? (int64_t)idle_s * 1000 : 10000);
  gc.limits.max_head_bytes = c.max_head_bytes ? c.max_head_bytes
                                              : CONNECTC_HTTP1_DEFAULT_MAX_HEAD_BYTES;
  gc.limits.max_fields = c.max_head_fields ? c.max_head_fields : CONNECTC_HTTP1_DEFAULT_MAX_FIELDS;
  /* Each connection's memory pool holds its request head, a record per
   * field, query parameter and cookie, and the response head; the gate
   * lets through only heads that fit (libmicrohttpd 0.9 closes without an
   * answer when its pool runs out). 32 KiB is the most libmicrohttpd
   * takes from malloc rather than mmap, which would cost a map and an
   * unmap (a TLB shootdown) per connection. */
  size_t pool = 32 * 1024;
  gc.pool_bytes = pool;
  if (mhd_gate_new(&gc, &s->gate) != 0) {
    close(lfd);
    server_free(s);
    return CONNECTC_ERR_NOMEM;
  }
  struct MHD_OptionItem opts[] = {
      {MHD_OPTION_THREAD_POOL_SIZE, (intptr_t)(c.threads ? c.threads : cc_usable_cpus(8)), NULL},
      {MHD_OPTION_CONNECTION_TIMEOUT, (intptr_t)idle_s, NULL},
      /* The gate keeps the count; libmicrohttpd's own limit has room so
       * that it never drops a connection the gate let in (its count lags
       * behind its close notifications, and is split across threads). */
      {MHD_OPTION_CONNECTION_LIMIT, (intptr_t)(2 * max_conn + 64), NULL},
      {MHD_OPTION_CONNECTION_MEMORY_LIMIT, (intptr_t)pool, NULL},
      {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)on_completed, s},
      {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)mhd_gate_notify_connection, s->gate},
      {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)log_uri, NULL},
      {s->cert ? MHD_OPTION_HTTPS_MEM_CERT : MHD_OPTION_END, 0, s->cert},
      {s->key ? MHD_OPTION_HTTPS_MEM_KEY : MHD_OPTION_END, 0, s->key},
      {MHD_OPTION_END, 0, NULL},
  };
  s->daemon = MHD_start_daemon(flags, 0, NULL, NULL, on_access, s, MHD_OPTION_ARRAY, opts,
                               MHD_OPTION_END);
  if (!s->daemon || mhd_gate_run(s->gate, s->daemon) != 0) {
    if (s->daemon) MHD_stop_daemon(s->daemon);
    server_free(s);
    return CONNECTC_ERR_UNSUPPORTED;
  }
  *out = s;
  return CONNECTC_OK;
}

uint16_t connectc_mhd_port(const connectc_mhd_server *s) { return s->port; }

void connectc_mhd_stop(connectc_mhd_server *s) {
  if (!s) return;
  connectc_mhd_embed *e = s->embed;
  mhd_gate_stop(s->gate); /* stop accepting; keep serving */
  struct timespec deadline;
  clock_gettime(CLOCK_REALTIME, &deadline);
  deadline.tv_sec += s->grace_ms / 1000;
  deadline.tv_nsec += (long)(s->grace_ms % 1000) * 1000000L;
  if (deadline.tv_nsec >= 1000000000L) {
    deadline.tv_sec++;
    deadline.tv_nsec -= 1000000000L;
  }
  pthread_mutex_lock(&e->mu);
  e->stopping = 1;
  while (e->n_live > 0) {
    if (pthread_cond_timedwait(&e->idle, &e->mu, &deadline) == ETIMEDOUT) break;
  }
  /* Whatever is left: cancel and resume, so MHD can close it. */
  for (req *r = e->live; r; r = r->next) {
    pthread_mutex_lock(&r->mu);
    if (!connectc_server_call_is_finished(r->call)) connectc_server_call_cancel(r->call);
    t_wake(r);
    pthread_mutex_unlock(&r->mu);
  }
  pthread_mutex_unlock(&e->mu);
  MHD_stop_daemon(s->daemon);
  /* Asynchronous handlers may still hold canceled calls; their finish
   * releases them. Nothing may refer to the server (or the router) once
   * this returns, so wait for that. */
  pthread_mutex_lock(&e->mu);
  while (e->n_live > 0) pthread_cond_wait(&e->idle, &e->mu);
  pthread_mutex_unlock(&e->mu);
  server_free(s);
}
