/*
 * baseline_h2: the machine's limit for a small unary call over HTTP/2
 * (h2c, prior knowledge). A minimal epoll server on libnghttp2 that
 * answers every request, once its stream has ended, with the same fixed,
 * valid response: a gRPC one (an enveloped SayResponse, then the trailer
 * grpc-status: 0) when the request's content-type starts with
 * "application/grpc", a Connect unary proto one (the SayResponse, with its
 * content-length) otherwise. No routing, no protocol beyond nghttp2's
 * framing, no allocation of its own per request: what is left is the
 * kernel's, nghttp2's and the load generator's work, which the real HTTP/2
 * server (libconnectc-nghttp2) pays too. bench/run.sh runs it under the
 * same load as the HTTP/2 servers and reports their figures as fractions
 * of its own.
 *
 *   baseline_h2 PORT [THREADS]      (0 for PORT picks one)
 *
 * THREADS defaults to what libconnectc-nghttp2 starts: one per CPU this
 * process may run on (its affinity mask), at most 8. Each thread has its
 * own listening socket (SO_REUSEPORT) and epoll set. The SETTINGS are the
 * nghttp2 adapter's defaults (100 concurrent streams, a 256 KiB stream
 * window, a 1 MiB connection window, a 16 KiB header list), so that both
 * servers get the same traffic from the same client. Request bodies are
 * dropped as nghttp2 hands them over (and their window given back by
 * nghttp2's automatic flow control).
 *
 * Prints "listening on http://127.0.0.1:PORT".
 */
#define _GNU_SOURCE

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <nghttp2/nghttp2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "baseline_common.h"

/* SayResponse{sentence: "Do you often feel that way?"}, bare (Connect
 * unary) and in a gRPC envelope (flags 0, length 29). */
static const uint8_t connect_body[] = "\x0a\x1b"
                                      "Do you often feel that way?";
static const uint8_t grpc_body[] = "\x00\x00\x00\x00\x1d\x0a\x1b"
                                   "Do you often feel that way?";
#define CONNECT_LEN (sizeof connect_body - 1)
#define GRPC_LEN (sizeof grpc_body - 1)

/* A stream's state lives in its nghttp2 stream user data, as an integer:
 * bit 0 set once the stream was seen, bit 1 for gRPC, the rest the number
 * of body bytes already handed to nghttp2. No allocation per stream. */
#define ST_SEEN 1u
#define ST_GRPC 2u
#define ST_SHIFT 2

#define OUT_CAP (64 * 1024)
#define OUT_RESERVE (16384 + 9) /* a frame of the default maximum size */

typedef struct conn {
  int fd;
  int ep;
  int want_out; /* EPOLLOUT registered: the kernel's buffer was full */
  nghttp2_session *sess;
  size_t out_len, out_off;
  uint8_t out[OUT_CAP];
} conn;

static _Thread_local uint8_t inbuf[16384];

static uintptr_t stream_state(nghttp2_session *s, int32_t id) {
  return (uintptr_t)nghttp2_session_get_stream_user_data(s, id);
}

static void set_stream_state(nghttp2_session *s, int32_t id, uintptr_t st) {
  nghttp2_session_set_stream_user_data(s, id, (void *)st);
}

static int on_begin_headers(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
  (void)ud;
  if (f->hd.type == NGHTTP2_HEADERS && f->headers.cat == NGHTTP2_HCAT_REQUEST)
    set_stream_state(s, f->hd.stream_id, ST_SEEN);
  return 0;
}

static int on_header(nghttp2_session *s, const nghttp2_frame *f, const uint8_t *name, size_t namelen,
                     const uint8_t *value, size_t valuelen, uint8_t flags, void *ud) {
  (void)flags;
  (void)ud;
  static const char grpc[] = "application/grpc";
  if (f->hd.type == NGHTTP2_HEADERS && namelen == 12 && memcmp(name, "content-type", 12) == 0 &&
      valuelen >= sizeof grpc - 1 && memcmp(value, grpc, sizeof grpc - 1) == 0)
    set_stream_state(s, f->hd.stream_id, stream_state(s, f->hd.stream_id) | ST_GRPC);
  return 0;
}

static ssize_t read_body(nghttp2_session *s, int32_t id, uint8_t *buf, size_t length,
                         uint32_t *data_flags, nghttp2_data_source *src, void *ud) {
  (void)src;
  (void)ud;
  uintptr_t st = stream_state(s, id);
  int is_grpc = (st & ST_GRPC) != 0;
  const uint8_t *body = is_grpc ? grpc_body : connect_body;
  size_t total = is_grpc ? GRPC_LEN : CONNECT_LEN;
  size_t off = (size_t)(st >> ST_SHIFT);
  size_t n = total - off < length ? total - off : length;
  memcpy(buf, body + off, n);
  off += n;
  set_stream_state(s, id, (st & (ST_SEEN | ST_GRPC)) | ((uintptr_t)off << ST_SHIFT));
  if (off == total) {
    *data_flags |= NGHTTP2_DATA_FLAG_EOF;
    if (is_grpc) {
      static const nghttp2_nv trailer[] = {
          {(uint8_t *)"grpc-status", (uint8_t *)"0", 11, 1, NGHTTP2_NV_FLAG_NONE}};
      *data_flags |= NGHTTP2_DATA_FLAG_NO_END_STREAM;
      if (nghttp2_submit_trailer(s, id, trailer, 1) != 0) return NGHTTP2_ERR_TEMPORAL_CALLBACK_FAILURE;
    }
  }
  return (ssize_t)n;
}

static int respond(nghttp2_session *s, int32_t id) {
  uintptr_t st = stream_state(s, id);
  if (!(st & ST_SEEN)) return 0;
  nghttp2_data_provider dp = {.source = {.ptr = NULL}, .read_callback = read_body};
  if (st & ST_GRPC) {
    static const nghttp2_nv h[] = {
        {(uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"content-type", (uint8_t *)"application/grpc", 12, 16, NGHTTP2_NV_FLAG_NONE},
        {(uint8_t *)"grpc-accept-encoding", (uint8_t *)"gzip", 20, 4, NGHTTP2_NV_FLAG_NONE},
    };
    return nghttp2_submit_response(s, id, h, sizeof h / sizeof h[0], &dp);
  }
  static const nghttp2_nv h[] = {
      {(uint8_t *)":status", (uint8_t *)"200", 7, 3, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)"content-type", (uint8_t *)"application/proto", 12, 17, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)"accept-encoding", (uint8_t *)"gzip, br, zstd", 15, 14, NGHTTP2_NV_FLAG_NONE},
      {(uint8_t *)"content-length", (uint8_t *)"29", 14, 2, NGHTTP2_NV_FLAG_NONE},
  };
  return nghttp2_submit_response(s, id, h, sizeof h / sizeof h[0], &dp);
}

static int on_frame_recv(nghttp2_session *s, const nghttp2_frame *f, void *ud) {
  (void)ud;
  if ((f->hd.type == NGHTTP2_HEADERS || f->hd.type == NGHTTP2_DATA) &&
      (f->hd.flags & NGHTTP2_FLAG_END_STREAM))
    return respond(s, f->hd.stream_id) == 0 ? 0 : NGHTTP2_ERR_CALLBACK_FAILURE;
  return 0;
}

static nghttp2_session_callbacks *callbacks(void) {
  nghttp2_session_callbacks *cb;
  if (nghttp2_session_callbacks_new(&cb) != 0) return NULL;
  nghttp2_session_callbacks_set_on_begin_headers_callback(cb, on_begin_headers);
  nghttp2_session_callbacks_set_on_header_callback(cb, on_header);
  nghttp2_session_callbacks_set_on_frame_recv_callback(cb, on_frame_recv);
  return cb;
}

static void conn_free(conn *c) {
  epoll_ctl(c->ep, EPOLL_CTL_DEL, c->fd, NULL);
  close(c->fd);
  nghttp2_session_del(c->sess);
  free(c);
}

/* Sends what nghttp2 has to send, through c->out: 0 when it is all out or
 * parked until the socket is writable again, -1 to close. */
static int flush(conn *c) {
  for (;;) {
    if (c->out_off == c->out_len) {
      c->out_off = c->out_len = 0;
      /* Batched while a whole frame still fits: nghttp2 hands over one
       * frame per call, and every frame this server sends (its SETTINGS,
       * the tiny responses, window updates, PING acks) is far below
       * OUT_RESERVE. */
      while (OUT_CAP - c->out_len >= OUT_RESERVE) {
        const uint8_t *data;
        ssize_t n = nghttp2_session_mem_send(c->sess, &data);
        if (n < 0 || (size_t)n > OUT_CAP - c->out_len) return -1;
        if (n == 0) break;
        memcpy(c->out + c->out_len, data, (size_t)n);
        c->out_len += (size_t)n;
      }
      if (c->out_len == 0) break;
    }
    ssize_t w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off, MSG_NOSIGNAL);
    if (w < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!c->want_out) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
        epoll_ctl(c->ep, EPOLL_CTL_MOD, c->fd, &ev);
        c->want_out = 1;
      }
      return 0;
    }
    if (w <= 0) return -1;
    c->out_off += (size_t)w;
  }
  if (c->want_out) {
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = c};
    epoll_ctl(c->ep, EPOLL_CTL_MOD, c->fd, &ev);
    c->want_out = 0;
  }
  return nghttp2_session_want_read(c->sess) || nghttp2_session_want_write(c->sess) ? 0 : -1;
}

static conn *conn_new(int fd, int ep, const nghttp2_session_callbacks *cb) {
  conn *c = calloc(1, sizeof *c);
  if (!c) return NULL;
  c->fd = fd;
  c->ep = ep;
  static const nghttp2_settings_entry iv[] = {
      {NGHTTP2_SETTINGS_MAX_CONCURRENT_STREAMS, 100},
      {NGHTTP2_SETTINGS_INITIAL_WINDOW_SIZE, 262144},
      {NGHTTP2_SETTINGS_MAX_HEADER_LIST_SIZE, 16384},
  };
  if (nghttp2_session_server_new(&c->sess, cb, c) != 0) {
    free(c);
    return NULL;
  }
  if (nghttp2_submit_settings(c->sess, NGHTTP2_FLAG_NONE, iv, sizeof iv / sizeof iv[0]) != 0 ||
      nghttp2_session_set_local_window_size(c->sess, NGHTTP2_FLAG_NONE, 0, 1048576) != 0) {
    nghttp2_session_del(c->sess);
    free(c);
    return NULL;
  }
  return c;
}

static void *worker(void *arg) {
  int lfd = baseline_listen_on(*(int *)arg);
  int ep = baseline_epoll_for(lfd);
  nghttp2_session_callbacks *cb = callbacks();
  if (!cb) {
    fprintf(stderr, "baseline_h2: out of memory\n");
    exit(1);
  }
  struct epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    for (int i = 0; i < n; i++) {
      conn *c = evs[i].data.ptr;
      if (!c) {
        for (;;) {
          int fd = baseline_accept(lfd);
          if (fd < 0) break;
          conn *nc = conn_new(fd, ep, cb);
          if (!nc) {
            close(fd);
            continue;
          }
          struct epoll_event cev = {.events = EPOLLIN, .data.ptr = nc};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
          if (flush(nc) != 0) conn_free(nc); /* the server's SETTINGS */
        }
        continue;
      }
      if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) {
        ssize_t r = recv(c->fd, inbuf, sizeof inbuf, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
          conn_free(c);
          continue;
        }
        if (r > 0 && nghttp2_session_mem_recv(c->sess, inbuf, (size_t)r) < 0) {
          conn_free(c);
          continue;
        }
      }
      if (flush(c) != 0) conn_free(c);
    }
  }
  return NULL;
}

int main(int argc, char **argv) { return baseline_main(argc, argv, 8082, worker); }
