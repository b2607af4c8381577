/*
 * conn_internal.h: what h2_conn.c (HTTP/2 over nghttp2, and the shared
 * connection object) and h1_conn.c (the HTTP/1.1 side of the same port)
 * share. Internal to the adapter.
 */
#ifndef CONNECTC_NGHTTP2_CONN_INTERNAL_H
#define CONNECTC_NGHTTP2_CONN_INTERNAL_H

#include <nghttp2/nghttp2.h>
#include <pthread.h>

#include "chunked.h"
#include "connectc/nghttp2.h"
#include "h1.h"

typedef struct h2_stream h2_stream;

/* What the connection speaks: decided by ALPN, or by the first bytes. */
enum conn_mode { MODE_SNIFF = 0, MODE_H2, MODE_H1 };

/* The HTTP/1.1 side (h1_conn.c): one request at a time. */
typedef struct h1_state {
  uint8_t *in; /* received bytes not yet taken */
  size_t in_len, in_cap;
  cc_h1_scanner scan;
  int phase;              /* H1_HEAD, H1_BODY, H1_WAIT */
  h2_stream *st;          /* the request being served */
  cc_h1_body body_kind;
  uint64_t body_left;
  cc_chunked chunked;
  int keep_alive;         /* the request allows another after it */
  int head_sent, chunked_out, close_after, closing;
  int resp_done;          /* the response is out; the request body may still drain */
  int body_was_paused;    /* the call paused the body: the idle timer waits */
  uint64_t drained;       /* body bytes read after the response (bounded) */
  int64_t head_started_ms; /* first byte of a head not yet complete, or -1 */
} h1_state;

struct connectc_h2_conn {
  pthread_mutex_t mu;
  enum conn_mode mode;
  int http1; /* HTTP/1.1 allowed */
  uint8_t sniff[CONNECTC_H2_PREFACE_LEN];
  size_t sniff_len;
  h1_state h1;
  int refs; /* the owner's + one per live stream */
  nghttp2_session *sess;
  connectc_router *router;
  connectc_h2_conn_hooks hooks;
  void *ctx;
  int detached; /* the owner called connectc_h2_conn_del */

  /* resolved limits */
  uint32_t max_streams;
  uint32_t max_header_bytes;
  uint32_t stream_window;
  unsigned handshake_ms, idle_ms, stall_ms;
  double ctl_rate, ctl_tokens, ctl_burst;
  int64_t ctl_last_ms;
  double rst_rate, rst_tokens, rst_burst;
  int64_t rst_last_ms;

  h2_stream *streams; /* every live stream, open or held by a handler */
  size_t n_live;
  size_t n_open; /* streams nghttp2 still has */
  size_t n_held; /* streams holding DATA their paused call did not take */
  unsigned refused; /* streams refused for too many live calls */

  int64_t now, created_ms, last_activity_ms;
  int got_settings; /* the client's preface and SETTINGS arrived */
  int failed;       /* GOAWAY with an error queued: flush and close */
  int hard_close;   /* close without flushing (handshake timeout) */
  int shutdown;     /* graceful: notice sent */
  int goaway_final; /* the final GOAWAY of a graceful shutdown */
  int64_t shutdown_ms;

  uint8_t *out;
  size_t out_len, out_off, out_cap;

  /* Owned, created for the first call; lent to every call of the
   * connection: c->mu guards them all (the loop's work and asynchronous
   * handlers alike), so no two use it at once. Freed with the connection,
   * after its last stream and call. */
  connectc_compress_ctx *cctx;
};

struct h2_stream {
  connectc_h2_conn *c;
  int32_t id;
  int refs;
  connectc_server_call *call;
  char *method, *path;
  size_t header_bytes;
  int too_large;      /* the header list passed the limit: answer 431 */
  int head_done;      /* the request head went to the call */
  int remote_ended;   /* END_STREAM from the client */
  int submitted;      /* response HEADERS (or a reset) submitted */
  int deferred;       /* the data source waits for body bytes */
  int response_done;  /* the last DATA (or trailers) produced */
  int closed;         /* nghttp2 closed the stream */
  /* HTTP/2 DATA the call did not take while paused, in order; its window
   * stays closed until the call takes it (bounded by the stream window). */
  uint8_t *held;
  size_t held_off, held_len, held_cap; /* the bytes are held[held_off, +held_len) */
  int end_held;       /* END_STREAM arrived behind held bytes */
  int64_t stall_since;
  h2_stream *prev, *next;
};

/* Shared by both sides; all called with c->mu held. */
extern const connectc_server_call_hooks cc_stream_ops;
/* A new stream object holding one reference (its protocol's). */
h2_stream *cc_stream_new(connectc_h2_conn *c, int32_t id);
/* Drops one reference; returns 1 when the connection lost its last one
 * (the caller frees it, unlocked, with cc_conn_free). */
int cc_stream_unref_locked(h2_stream *st);
void cc_conn_free(connectc_h2_conn *c);
/* Lends the connection's compression context to a new call (creating it
 * first); without one (out of memory) the call makes its own. */
void cc_conn_lend_ctx(connectc_h2_conn *c, connectc_server_call *call);
/* Appends to the output buffer; 0, or -1 out of memory. */
int cc_out_put(connectc_h2_conn *c, const void *p, size_t n);

/* The HTTP/1.1 side (h1_conn.c). */
void cc_h1_start(connectc_h2_conn *c);
void cc_h1_free(connectc_h2_conn *c);
int cc_h1_recv(connectc_h2_conn *c, const uint8_t *data, size_t len);
void cc_h1_pull(connectc_h2_conn *c, size_t max);
/* Feeds what a resumed call left unread (after its wake). */
void cc_h1_resume(connectc_h2_conn *c);
int64_t cc_h1_tick(connectc_h2_conn *c, int64_t now_ms);
void cc_h1_shutdown(connectc_h2_conn *c);
int cc_h1_is_done(connectc_h2_conn *c);
int cc_h1_wants_read(connectc_h2_conn *c);

#endif
