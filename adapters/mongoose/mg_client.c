/*
 * The Mongoose client transport: moves the bytes of sans-IO client calls
 * over Mongoose connections, one HTTP/1.1 connection per call.
 *
 * It connects with mg_connect rather than mg_http_connect: Mongoose's HTTP
 * client delivers a response only whole (MG_EV_HTTP_MSG, capped at
 * MG_MAX_RECV_SIZE), which cannot carry a stream. Response heads are
 * parsed with the strict parser of adapters/common/h1.h, bodies by
 * Content-Length, the strict chunked decoder, or until the connection
 * closes, and fed to the call as they arrive; receive limits are the
 * call's, applied before anything is allocated for a message.
 *
 * Receive backpressure: bodies go to connectc_client_call_recv_body_some().
 * What a paused call does not take stays at the front of the connection's
 * receive buffer (c->recv) and Mongoose reads nothing more (c->is_full)
 * while the call is paused. The transport notices a resume on the
 * connection's MG_EV_POLL (every loop iteration) or in
 * connectc_mg_client_wake(), feeds what it held and lets Mongoose read
 * again. The response's end (the chunked ending, Content-Length reached,
 * the connection closing) is acted on only once every byte before it was
 * taken. A connection that goes away while bytes are held (an error, or
 * a TLS connection whose last records Mongoose decrypted anyway) leaves
 * them in a copy of the transfer's own (`tail`): they are fed after the
 * resume, and then the end or the error is reported.
 *
 * A transfer (`xfer`) is released (released(arg)) only once its
 * connection is gone (MG_EV_CLOSE) and nothing it held is left to feed,
 * so that no event can touch the call afterwards. A service connection
 * with no socket, polled on every loop iteration, ticks deadlines, feeds
 * and ends transfers whose connection went away while they held bytes,
 * and releases transfers that never had a connection or are done.
 */
#define _POSIX_C_SOURCE 200809L

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chunked.h"
#include "connectc/mongoose.h"
#include "connectc/version.h"
#include "h1.h"
#include "mg_iobuf.h"
#include "mongoose.h"

#define DEFAULT_CA_FILE "/etc/ssl/certs/ca-certificates.crt"
#define SEND_HWM (256u * 1024u)
#define MAX_RESPONSE_FIELDS 256

typedef struct xfer xfer;

struct connectc_mg_client {
  connectc_allocator alloc;
  struct mg_mgr *mgr;
  struct mg_mgr own_mgr;
  int owns_mgr;
  char *base;      /* scheme://authority, for mg_connect */
  char *prefix;    /* path prefix ("" or "/x"), no trailing slash */
  char *authority; /* the Host field */
  char *hostname;  /* TLS server name */
  int tls;
  char *ca;
  size_t ca_len;
  char *ca_file;
  int ca_tried;
  char *cert, *key;
  size_t cert_len, key_len;
  int insecure;
  unsigned connect_timeout_ms;
  size_t max_head;
  struct mg_connection *svc;
  cc_h1_field fields[MAX_RESPONSE_FIELDS];
  xfer *xfers;
  int running;
  /* Owned; lent to the calls of connectc_mg_client_transport(), which the
   * loop thread alone drives. */
  connectc_compress_ctx *cctx;
};

enum { RBODY_NONE, RBODY_LENGTH, RBODY_CHUNKED, RBODY_UNTIL_CLOSE };

struct xfer {
  connectc_mg_client *t;
  connectc_client_call *call;
  struct mg_connection *c; /* NULL: none, or gone */
  void (*released)(void *arg);
  void *released_arg;
  int64_t connect_deadline;
  int connected;
  int head_sent;   /* the request head is queued: body bytes may follow */
  int chunked_req; /* the request body goes chunked */
  int req_done;
  int head_done;
  cc_h1_scanner scan;
  int body;
  uint64_t left;
  cc_chunked dec;
  int parsing; /* inside parse(): the call's callbacks must not re-enter it */
  /* The connection went away (MG_EV_CLOSE) while the paused call held
   * response bytes: a copy of them, fed from tail[tail_off] after the
   * resume; allocated with the transport's allocator, freed on release. */
  int gone;
  uint8_t *tail;
  size_t tail_len, tail_off;
  /* What MG_EV_ERROR said, reported once the held bytes were fed. */
  char err[160];
  xfer *prev, *next;
};

static void *t_malloc(connectc_mg_client *t, size_t n) {
  return t->alloc.malloc(n ? n : 1, t->alloc.user_data);
}
static void t_free(connectc_mg_client *t, void *p) {
  if (p) t->alloc.free(p, t->alloc.user_data);
}
static char *t_strndup(connectc_mg_client *t, const char *s, size_t n) {
  char *p = t_malloc(t, n + 1);
  if (!p) return NULL;
  if (n) memcpy(p, s, n);
  p[n] = 0;
  return p;
}

/* ---- lifetime ---- */

static void xfer_release(xfer *x) {
  connectc_mg_client *t = x->t;
  if (x->prev) x->prev->next = x->next;
  else t->xfers = x->next;
  if (x->next) x->next->prev = x->prev;
  t->running--;
  t_free(t, x->tail);
  void (*released)(void *) = x->released;
  void *arg = x->released_arg;
  t_free(t, x);
  if (released) released(arg);
}

/* The call is over: the connection goes; the transfer is released when it
 * is gone. */
static void xfer_close(xfer *x) {
  if (x->c) x->c->is_closing = 1;
}

static void fail(xfer *x, connectc_code code, const char *msg) {
  if (!connectc_client_call_is_closed(x->call)) connectc_client_call_fail(x->call, code, msg);
  xfer_close(x);
}

/* ---- request ---- */

static int put(struct mg_connection *c, const char *s, size_t n) { return mg_send(c, s, n); }
static int puts_(struct mg_connection *c, const char *s) { return put(c, s, strlen(s)); }

static int send_head(xfer *x) {
  connectc_mg_client *t = x->t;
  connectc_request_head head;
  if (connectc_client_call_request_head(x->call, &head) != CONNECTC_OK) return 0;
  struct mg_connection *c = x->c;
  int ok = puts_(c, head.method) && put(c, " ", 1) && puts_(c, t->prefix) && puts_(c, head.path) &&
           puts_(c, " HTTP/1.1\r\nhost: ") && puts_(c, t->authority) && put(c, "\r\n", 2);
  int have_agent = 0;
  for (size_t i = 0; ok && i < head.headers->len; i++) {
    const connectc_header *e = &head.headers->items[i];
    if (strcmp(e->name, "user-agent") == 0) have_agent = 1;
    ok = put(c, e->name, e->name_len) && put(c, ": ", 2) && put(c, e->value, e->value_len) &&
         put(c, "\r\n", 2);
  }
  if (ok && !have_agent) ok = puts_(c, "user-agent: connectc/" CONNECTC_VERSION_STRING "\r\n");
  if (strcmp(head.method, "GET") == 0) {
    x->req_done = 1;
  } else if (head.content_length >= 0) {
    char line[48];
    int n = snprintf(line, sizeof line, "content-length: %lld\r\n", (long long)head.content_length);
    if (ok) ok = put(c, line, (size_t)n);
  } else {
    x->chunked_req = 1;
    if (ok) ok = puts_(c, "transfer-encoding: chunked\r\n");
  }
  /* One call per connection. */
  return ok && puts_(c, "connection: close\r\n\r\n");
}

/* Writes request body bytes while the send buffer has room. */
static int pump_body(xfer *x) {
  struct mg_connection *c = x->c;
  while (!x->req_done && c->send.len < SEND_HWM) {
    const uint8_t *data;
    size_t len;
    int done;
    connectc_client_call_body_peek(x->call, &data, &len, &done);
    if (len) {
      size_t k = SEND_HWM - c->send.len;
      if (k > len) k = len;
      if (x->chunked_req) {
        char sz[24];
        int n = snprintf(sz, sizeof sz, "%zx\r\n", k);
        if (!put(c, sz, (size_t)n) || !mg_send(c, data, k) || !put(c, "\r\n", 2)) return 0;
      } else if (!mg_send(c, data, k)) {
        return 0;
      }
      connectc_client_call_body_consume(x->call, k);
      continue;
    }
    if (done) {
      if (x->chunked_req && !put(c, "0\r\n\r\n", 5)) return 0;
      x->req_done = 1;
    }
    break;
  }
  return 1;
}

/* ---- response ---- */

/* Feeds response body bytes and returns how many the call took: all of
 * them unless it paused (connectc_client_call_pause_recv, its application
 * is behind), which leaves the rest to be offered again after the resume.
 * Bytes a closed call will never take count as taken. */
static size_t feed(xfer *x, const uint8_t *p, size_t n) {
  size_t taken = n;
  if (connectc_client_call_recv_body_some(x->call, p, n, &taken) != CONNECTC_OK) {
    if (!connectc_client_call_is_closed(x->call))
      connectc_client_call_fail(x->call, CONNECTC_CODE_INTERNAL, "out of memory receiving the response");
    return n;
  }
  if (taken < n && connectc_client_call_is_closed(x->call)) taken = n;
  return taken;
}

static void end_response(xfer *x) {
  connectc_client_call_recv_end(x->call);
  xfer_close(x);
}

/* Parses response bytes in[0..len) and feeds the body to the call;
 * returns how many it used. It stops at an incomplete head, at the end of
 * the response, once the call is closed, and where a paused call stopped
 * taking the body: the caller keeps the rest and offers it again (for
 * chunked bodies the decoder is given the untaken tail back, so its place
 * in the chunk stays right). With x->parsing set. */
static size_t parse(xfer *x, const uint8_t *in, size_t len) {
  connectc_mg_client *t = x->t;
  size_t used = 0;
  while (used < len && !connectc_client_call_is_closed(x->call)) {
    const uint8_t *p = in + used;
    size_t avail = len - used;
    if (!x->head_done) {
      long n = cc_h1_scan(&x->scan, p, avail, t->max_head);
      if (n == 0) return used;
      if (n == -414 || n == -431) {
        char msg[96];
        snprintf(msg, sizeof msg, "the response head exceeds %zu bytes", t->max_head);
        fail(x, CONNECTC_CODE_RESOURCE_EXHAUSTED, msg);
        return used;
      }
      if (n < 0) {
        fail(x, CONNECTC_CODE_UNAVAILABLE, "malformed response head (bare CR or LF, or NUL)");
        return used;
      }
      cc_h1_head h;
      const char *why = NULL;
      if (cc_h1_parse_response((const char *)p, (size_t)n, t->fields, MAX_RESPONSE_FIELDS, &h,
                               &why) != 0) {
        char msg[128];
        snprintf(msg, sizeof msg, "malformed response: %s", why);
        fail(x, CONNECTC_CODE_UNAVAILABLE, msg);
        return used;
      }
      if (h.status >= 100 && h.status < 200) { /* 100 Continue and friends */
        if (h.status == 101) {
          fail(x, CONNECTC_CODE_UNAVAILABLE, "the server switched protocols");
          return used;
        }
        used += (size_t)n;
        cc_h1_scanner_init(&x->scan);
        continue;
      }
      connectc_headers hs;
      connectc_headers_init(&hs, &t->alloc);
      /* Fields the core cannot hold (never a valid one) are dropped. */
      for (size_t i = 0; i < h.n_fields; i++)
        (void)connectc_headers_add(&hs, h.fields[i].name, h.fields[i].name_len, h.fields[i].value,
                                   h.fields[i].value_len);
      x->head_done = 1;
      x->body = h.body == CC_H1_BODY_LENGTH    ? RBODY_LENGTH
                : h.body == CC_H1_BODY_CHUNKED ? RBODY_CHUNKED
                : h.body == CC_H1_BODY_NONE    ? RBODY_NONE
                                               : RBODY_UNTIL_CLOSE;
      x->left = h.content_length;
      if (x->body == RBODY_CHUNKED) cc_chunked_init(&x->dec, NULL);
      used += (size_t)n;
      connectc_client_call_recv_head(x->call, h.status, &hs);
      connectc_headers_reset(&hs);
      if (x->body == RBODY_NONE) {
        end_response(x);
        return used;
      }
      continue;
    }
    if (x->body == RBODY_UNTIL_CLOSE) {
      size_t taken = feed(x, p, avail);
      used += taken;
      if (taken < avail) return used;
    } else if (x->body == RBODY_LENGTH) {
      size_t k = (uint64_t)avail < x->left ? avail : (size_t)x->left;
      size_t taken = feed(x, p, k);
      used += taken;
      x->left -= taken;
      if (x->left == 0) {
        end_response(x);
        return used;
      }
      if (taken < k) return used;
    } else {
      size_t u = 0, dlen = 0;
      const uint8_t *data = NULL;
      cc_chunked_result r = cc_chunked_decode(&x->dec, p, avail, &u, &data, &dlen);
      if (r == CC_CHUNKED_ERROR) {
        char msg[128];
        snprintf(msg, sizeof msg, "malformed chunked response body: %s", cc_chunked_error(&x->dec));
        fail(x, CONNECTC_CODE_UNAVAILABLE, msg);
        return used;
      }
      size_t back = r == CC_CHUNKED_DATA ? dlen - feed(x, data, dlen) : 0;
      if (back) (void)cc_chunked_unread(&x->dec, back); /* just past that span: cannot fail */
      used += u - back;
      if (back) return used;
      if (r == CC_CHUNKED_DONE) {
        end_response(x);
        return used;
      }
    }
  }
  return used;
}

/* Feeds what the connection's receive buffer holds; what a paused call
 * did not take stays there, and Mongoose reads nothing more while the
 * call is paused. */
static void read_response(xfer *x) {
  struct mg_connection *c = x->c;
  if (x->parsing) return; /* from the call's own callback: the feed going on continues */
  x->parsing = 1;
  size_t used = parse(x, c->recv.buf, c->recv.len);
  x->parsing = 0;
  cc_mg_iobuf_drop(&c->recv, used);
  if (connectc_client_call_is_closed(x->call)) {
    xfer_close(x);
    return;
  }
  c->is_full = connectc_client_call_recv_paused(x->call) ? 1 : 0;
}

/* The connection is gone and every byte it brought was fed: the response
 * ends (read until close) or the call fails, unless it already closed. */
static void end_closed(xfer *x) {
  if (connectc_client_call_is_closed(x->call)) return;
  if (x->err[0]) {
    connectc_client_call_fail(x->call, CONNECTC_CODE_UNAVAILABLE, x->err);
  } else if (x->head_done && x->body == RBODY_UNTIL_CLOSE) {
    connectc_client_call_recv_end(x->call);
  } else {
    connectc_client_call_fail(x->call, CONNECTC_CODE_UNAVAILABLE,
                              x->head_done ? "the connection closed before the response ended"
                                           : "the connection closed before the response");
  }
}

/* Feeds the bytes a gone connection left, unless the call is paused.
 * Returns 1 once the transfer is done with them (every byte fed, or the
 * call closed), else 0. */
static int feed_tail(xfer *x) {
  if (!x->parsing && !connectc_client_call_recv_paused(x->call)) {
    x->parsing = 1;
    x->tail_off += parse(x, x->tail + x->tail_off, x->tail_len - x->tail_off);
    x->parsing = 0;
  }
  return connectc_client_call_is_closed(x->call) || !connectc_client_call_recv_paused(x->call);
}

/* ---- events ---- */

static void start_tls(xfer *x) {
  connectc_mg_client *t = x->t;
  struct mg_tls_opts opts;
  memset(&opts, 0, sizeof opts);
  if (!t->insecure) {
    opts.ca = mg_str_n(t->ca, t->ca_len);
    opts.name = mg_str(t->hostname);
  } else {
    opts.skip_verification = 1;
  }
  if (t->cert) opts.cert = mg_str_n(t->cert, t->cert_len);
  if (t->key) opts.key = mg_str_n(t->key, t->key_len);
  mg_tls_init(x->c, &opts);
}

static void xfer_fn(struct mg_connection *c, int ev, void *ev_data) {
  xfer *x = c->fn_data;
  if (!x) return;
  x->c = c; /* events may come before mg_connect has returned */
  switch (ev) {
    case MG_EV_CONNECT:
      if (x->t->tls) {
        start_tls(x);
      } else {
        x->connected = 1;
      }
      x->head_sent = 1;
      if (!send_head(x) || !pump_body(x)) fail(x, CONNECTC_CODE_RESOURCE_EXHAUSTED, "out of memory sending the request");
      break;
    case MG_EV_TLS_HS:
      x->connected = 1;
      break;
    case MG_EV_WRITE:
      if (x->head_sent && !pump_body(x)) fail(x, CONNECTC_CODE_RESOURCE_EXHAUSTED, "out of memory sending the request");
      break;
    case MG_EV_READ:
      read_response(x);
      break;
    case MG_EV_POLL:
      /* A resumed call gets what was held, and Mongoose reads again; a
       * call paused outside a feed stops it reading now. */
      if (x->head_done && c->is_full != (connectc_client_call_recv_paused(x->call) ? 1u : 0u))
        read_response(x);
      break;
    case MG_EV_ERROR:
      snprintf(x->err, sizeof x->err, "%s: %s", x->connected ? "connection failed" : "cannot connect",
               ev_data ? (const char *)ev_data : "error");
      /* Behind bytes a paused call holds, the error waits for them: it
       * is reported once they were fed (MG_EV_CLOSE follows). */
      if (c->recv.len == 0 || !connectc_client_call_recv_paused(x->call))
        fail(x, CONNECTC_CODE_UNAVAILABLE, x->err);
      break;
    case MG_EV_CLOSE:
      if (!connectc_client_call_is_closed(x->call) && c->recv.len > 0) {
        read_response(x); /* resumed since the last feed, perhaps */
        if (c->recv.len > 0 && connectc_client_call_recv_paused(x->call)) {
          /* Held bytes outlive the connection: the service connection
           * feeds them after the resume, then ends the call and releases
           * the transfer. */
          x->tail = t_malloc(x->t, c->recv.len);
          if (x->tail) {
            memcpy(x->tail, c->recv.buf, c->recv.len);
            x->tail_len = c->recv.len;
            x->gone = 1;
            x->c = NULL;
            c->fn_data = NULL;
            break;
          }
          connectc_client_call_fail(x->call, CONNECTC_CODE_RESOURCE_EXHAUSTED,
                                    "out of memory holding the response of a paused call");
        }
      }
      end_closed(x);
      x->c = NULL;
      c->fn_data = NULL;
      xfer_release(x);
      break;
    default:
      break;
  }
}

/* Every loop iteration: deadlines, connect timeouts, transfers with no
 * connection. */
static void svc_fn(struct mg_connection *c, int ev, void *ev_data) {
  (void)ev_data;
  connectc_mg_client *t = c->fn_data;
  if (ev == MG_EV_CLOSE) {
    t->svc = NULL;
    return;
  }
  if (ev != MG_EV_POLL) return;
  int64_t now = connectc_mg_now_ms();
  for (xfer *x = t->xfers, *next; x; x = next) {
    next = x->next;
    if (x->gone) {
      /* The connection went away behind held bytes; the deadline still
       * runs (it is the application's). */
      connectc_client_call_tick(x->call, now);
      if (feed_tail(x)) {
        end_closed(x);
        xfer_release(x);
      }
      continue;
    }
    if (!x->c) {
      /* Never connected (refused at start): released outside every
       * callback, here. */
      xfer_release(x);
      continue;
    }
    connectc_client_call_tick(x->call, now);
    if (!x->connected && now > x->connect_deadline)
      fail(x, CONNECTC_CODE_UNAVAILABLE, "connecting to the server timed out");
    if (connectc_client_call_is_closed(x->call)) xfer_close(x);
  }
}

/* ---- the transport ---- */

static int load_ca(connectc_mg_client *t) {
  if (t->ca || t->insecure) return 1;
  if (t->ca_tried) return 0;
  t->ca_tried = 1;
  FILE *f = fopen(t->ca_file ? t->ca_file : DEFAULT_CA_FILE, "rb");
  if (!f) return 0;
  size_t cap = 65536, len = 0;
  char *buf = t_malloc(t, cap);
  while (buf) {
    if (len == cap) {
      if (cap >= 16u * 1024 * 1024) break; /* no CA bundle is this large */
      char *nb = t_malloc(t, cap * 2);
      if (nb) memcpy(nb, buf, len);
      t_free(t, buf);
      buf = nb;
      cap *= 2;
      continue;
    }
    size_t n = fread(buf + len, 1, cap - len, f);
    len += n;
    if (n == 0) break;
  }
  fclose(f);
  if (!buf || len == 0 || len == cap) {
    t_free(t, buf);
    return 0;
  }
  t->ca = buf;
  t->ca_len = len;
  return 1;
}

static int parse_base(connectc_mg_client *t, const char *url) {
  size_t n = strlen(url);
  while (n && url[n - 1] == '/') n--;
  size_t skip;
  if (n > 8 && strncmp(url, "https://", 8) == 0) {
    t->tls = 1;
    skip = 8;
  } else if (n > 7 && strncmp(url, "http://", 7) == 0) {
    skip = 7;
  } else {
    return CONNECTC_ERR_ARGUMENT;
  }
  size_t a = skip;
  while (a < n && url[a] != '/') a++;
  if (a == skip) return CONNECTC_ERR_ARGUMENT;
  t->base = t_strndup(t, url, a);
  t->prefix = t_strndup(t, url + a, n - a);
  t->authority = t_strndup(t, url + skip, a - skip);
  struct mg_str host = mg_url_host(url);
  if (host.len >= 2 && host.buf[0] == '[') { /* [v6] */
    host.buf++;
    host.len -= 2;
  }
  t->hostname = t_strndup(t, host.buf, host.len);
  if (!t->base || !t->prefix || !t->authority || !t->hostname) return CONNECTC_ERR_NOMEM;
  return CONNECTC_OK;
}

static int blob(connectc_mg_client *t, char **dst, size_t *dlen, const char *src, size_t len) {
  if (!src) return CONNECTC_OK;
  if (!len) len = strlen(src);
  *dst = t_strndup(t, src, len);
  *dlen = len;
  return *dst ? CONNECTC_OK : CONNECTC_ERR_NOMEM;
}

int connectc_mg_client_new(const connectc_mg_client_config *cfg, struct mg_mgr *mgr,
                           const connectc_allocator *alloc, connectc_mg_client **out) {
  if (!out) return CONNECTC_ERR_ARGUMENT;
  *out = NULL;
  if (!cfg || !cfg->base_url) return CONNECTC_ERR_ARGUMENT;
  const connectc_allocator *a = alloc ? alloc : connectc_default_allocator();
  connectc_mg_client *t = a->malloc(sizeof *t, a->user_data);
  if (!t) return CONNECTC_ERR_NOMEM;
  memset(t, 0, sizeof *t);
  t->alloc = *a;
  t->insecure = cfg->insecure_skip_verify;
  t->connect_timeout_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms : 10000;
  t->max_head = cfg->max_header_bytes ? cfg->max_header_bytes : 65536;
  int rv = parse_base(t, cfg->base_url);
  if (rv == CONNECTC_OK) rv = blob(t, &t->ca, &t->ca_len, cfg->ca_pem, cfg->ca_pem_len);
  if (rv == CONNECTC_OK) rv = blob(t, &t->cert, &t->cert_len, cfg->client_cert_pem, cfg->client_cert_pem_len);
  if (rv == CONNECTC_OK) rv = blob(t, &t->key, &t->key_len, cfg->client_key_pem, cfg->client_key_pem_len);
  size_t unused = 0;
  if (rv == CONNECTC_OK && cfg->ca_file) rv = blob(t, &t->ca_file, &unused, cfg->ca_file, 0);
  if (rv == CONNECTC_OK) rv = connectc_compress_ctx_new(&t->alloc, &t->cctx);
  if (rv == CONNECTC_OK) {
    if (mgr) {
      t->mgr = mgr;
    } else {
      mg_mgr_init(&t->own_mgr);
      t->mgr = &t->own_mgr;
      t->owns_mgr = 1;
    }
    t->svc = mg_wrapfd(t->mgr, (int)MG_INVALID_SOCKET, svc_fn, t);
    if (!t->svc) rv = CONNECTC_ERR_NOMEM;
  }
  if (rv != CONNECTC_OK) {
    connectc_mg_client_del(t);
    return rv;
  }
  *out = t;
  return CONNECTC_OK;
}

void connectc_mg_client_del(connectc_mg_client *t) {
  if (!t) return;
  while (t->xfers) {
    xfer *x = t->xfers;
    connectc_client_call_cancel(x->call);
    if (x->c) {
      x->c->fn = NULL;
      x->c->fn_data = NULL;
      x->c->is_closing = 1;
      x->c = NULL;
    }
    xfer_release(x);
  }
  if (t->svc) {
    t->svc->fn = NULL;
    t->svc->fn_data = NULL;
    t->svc->is_closing = 1;
  }
  if (t->owns_mgr) mg_mgr_free(&t->own_mgr);
  t_free(t, t->base);
  t_free(t, t->prefix);
  t_free(t, t->authority);
  t_free(t, t->hostname);
  t_free(t, t->ca);
  t_free(t, t->ca_file);
  t_free(t, t->cert);
  t_free(t, t->key);
  /* Every call was canceled above: a closed call no longer uses it. */
  connectc_compress_ctx_del(t->cctx);
  t->alloc.free(t, t->alloc.user_data);
}

static xfer *find_xfer(connectc_mg_client *t, connectc_client_call *call) {
  for (xfer *x = t->xfers; x; x = x->next)
    if (x->call == call) return x;
  return NULL;
}

int connectc_mg_client_start(connectc_mg_client *t, connectc_client_call *call,
                             void (*released)(void *arg), void *arg) {
  if (!t || !call) return CONNECTC_ERR_ARGUMENT;
  if (connectc_client_call_is_closed(call) || find_xfer(t, call)) return CONNECTC_ERR_STATE;
  connectc_request_head head;
  int rv = connectc_client_call_request_head(call, &head);
  if (rv) return rv;
  xfer *x = t_malloc(t, sizeof *x);
  if (!x) return CONNECTC_ERR_NOMEM;
  memset(x, 0, sizeof *x);
  x->t = t;
  x->call = call;
  cc_h1_scanner_init(&x->scan);
  x->connect_deadline = connectc_mg_now_ms() + t->connect_timeout_ms;
  x->next = t->xfers;
  if (t->xfers) t->xfers->prev = x;
  t->xfers = x;
  t->running++;
  x->released = released;
  x->released_arg = arg;
  if (connectc_client_call_requires_http2(call)) {
    connectc_client_call_fail(call, CONNECTC_CODE_UNIMPLEMENTED,
                              "this call needs HTTP/2 (gRPC or full-duplex bidi); the Mongoose "
                              "transport speaks HTTP/1.1");
    return CONNECTC_OK; /* released on the next loop iteration */
  }
  if (t->tls && !load_ca(t)) {
    char msg[200];
    snprintf(msg, sizeof msg,
             "no CA certificates to verify the server with (%s unreadable): set ca_pem or ca_file",
             t->ca_file ? t->ca_file : DEFAULT_CA_FILE);
    connectc_client_call_fail(call, CONNECTC_CODE_UNAVAILABLE, msg);
    return CONNECTC_OK;
  }
  x->c = mg_connect(t->mgr, t->base, xfer_fn, x);
  if (!x->c) {
    connectc_client_call_fail(call, CONNECTC_CODE_UNAVAILABLE, "cannot open a connection");
    return CONNECTC_OK;
  }
  return CONNECTC_OK;
}

void connectc_mg_client_wake(connectc_mg_client *t, connectc_client_call *call) {
  xfer *x = find_xfer(t, call);
  if (!x) return;
  if (x->gone) {
    (void)feed_tail(x); /* resumed: now; the end comes on the next loop iteration */
    return;
  }
  if (!x->c) return;
  if (connectc_client_call_is_closed(call)) {
    xfer_close(x);
    return;
  }
  /* Resumed: what was held goes now, and Mongoose reads again. */
  if (x->head_done) {
    read_response(x);
    if (connectc_client_call_is_closed(call)) return;
  }
  /* Before MG_EV_CONNECT the head is not out yet: the body follows it then. */
  if (x->head_sent && !pump_body(x))
    fail(x, CONNECTC_CODE_RESOURCE_EXHAUSTED, "out of memory sending the request");
}

int connectc_mg_client_running(const connectc_mg_client *t) { return t->running; }

/* The loop's timeout, shortened to the nearest call deadline. */
static int poll_timeout(const connectc_mg_client *t, int timeout_ms) {
  int64_t now = connectc_mg_now_ms();
  for (const xfer *x = t->xfers; x; x = x->next) {
    int paused = connectc_client_call_recv_paused(x->call);
    /* Work for the next iteration: a transfer to release, or held bytes
     * of a call resumed since. */
    if (!x->c && (!x->gone || !paused)) return 0;
    if (x->c && x->c->is_full && !paused) return 0;
    int64_t d = connectc_client_call_deadline(x->call);
    if (d >= 0 && d - now < timeout_ms) timeout_ms = d - now > 0 ? (int)(d - now) : 0;
  }
  return timeout_ms;
}

int connectc_mg_client_poll(connectc_mg_client *t, int timeout_ms) {
  mg_mgr_poll(t->mgr, poll_timeout(t, timeout_ms));
  return t->running;
}

int connectc_mg_client_perform(connectc_mg_client *t, connectc_client_call *call) {
  int rv = connectc_mg_client_start(t, call, NULL, NULL);
  if (rv) return rv;
  while (find_xfer(t, call)) mg_mgr_poll(t->mgr, poll_timeout(t, 50));
  return CONNECTC_OK;
}

static int transport_perform(void *ctx, connectc_client_call *call) {
  return connectc_mg_client_perform(ctx, call);
}
static int64_t transport_now(void *ctx) {
  (void)ctx;
  return connectc_mg_now_ms();
}
static int transport_start(void *ctx, connectc_client_call *call, void (*released)(void *arg),
                           void *arg) {
  return connectc_mg_client_start(ctx, call, released, arg);
}
static void transport_wake(void *ctx, connectc_client_call *call) {
  connectc_mg_client_wake(ctx, call);
}

connectc_transport connectc_mg_client_transport(connectc_mg_client *t) {
  connectc_transport tr = {.perform = transport_perform,
                           .now_ms = transport_now,
                           .ctx = t,
                           .start = transport_start,
                           .wake = transport_wake,
                           .compress_ctx = t->cctx};
  return tr;
}
