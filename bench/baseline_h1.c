/*
 * baseline_h1: the machine's limit for a small unary Connect call over
 * HTTP/1.1. A minimal epoll server that parses just enough of each request
 * (the end of the head, Content-Length, the body) and answers every one
 * with the same fixed, valid Connect response. No routing, no protocol, no
 * allocation per request: what is left is the kernel's and the load
 * generator's work, which every real server pays too. bench/run.sh runs it
 * under the same load as the real servers and reports their figures as
 * fractions of its own.
 *
 *   baseline_h1 PORT [THREADS]      (0 for PORT picks one)
 *
 * THREADS defaults to what libconnectc-microhttpd starts: one per CPU this
 * process may run on (its affinity mask), at most 8.
 *
 * Prints "listening on http://127.0.0.1:PORT". Each thread has its own
 * listening socket (SO_REUSEPORT) and epoll set, as the real servers'
 * worker threads each poll their own connections. A body of any
 * Content-Length is read and discarded (a body larger than what is
 * buffered goes through a per-thread scratch buffer, up to its end only),
 * and the response is sent once the whole body has arrived, as a server
 * that decodes the request would: bench/run.sh's size sweep sends
 * requests of up to 4 MiB and more.
 */
#define _GNU_SOURCE

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "baseline_common.h"

/* SayResponse{sentence: "Do you often feel that way?"} as Connect unary proto. */
static const char body[] = "\x0a\x1b" "Do you often feel that way?";
static char response[256];
static size_t response_len;

typedef struct conn {
  int fd;
  char buf[16384];
  size_t len;
  size_t skip; /* body bytes still to read and drop before answering */
} conn;

/* Where a thread drops the bodies that do not fit in a connection's buffer. */
static _Thread_local char scratch[256 * 1024];

/* Answers every complete request in c->buf; returns -1 to close. */
static int serve(conn *c) {
  size_t off = 0;
  for (;;) {
    char *start = c->buf + off;
    size_t avail = c->len - off;
    char *end = memmem(start, avail, "\r\n\r\n", 4);
    if (!end) break;
    size_t head = (size_t)(end - start) + 4;
    size_t clen = 0;
    char *cl = memmem(start, head, "\r\ncontent-length:", 17);
    if (!cl) cl = memmem(start, head, "\r\nContent-Length:", 17);
    if (cl) clen = strtoul(cl + 17, NULL, 10);
    if (avail < head + clen) {
      /* The rest of the body is still to come: drop what is here and
       * read the rest into the scratch buffer (worker), then answer. */
      c->skip = head + clen - avail;
      off = c->len;
      break;
    }
    if (send(c->fd, response, response_len, MSG_NOSIGNAL) != (ssize_t)response_len) return -1;
    off += head + clen;
  }
  memmove(c->buf, c->buf + off, c->len - off);
  c->len -= off;
  return c->len == sizeof c->buf ? -1 : 0;
}

static void *worker(void *arg) {
  int lfd = baseline_listen_on(*(int *)arg);
  int ep = baseline_epoll_for(lfd);
  struct epoll_event evs[256];
  for (;;) {
    int n = epoll_wait(ep, evs, 256, -1);
    for (int i = 0; i < n; i++) {
      conn *c = evs[i].data.ptr;
      if (!c) {
        for (;;) {
          int fd = baseline_accept(lfd);
          if (fd < 0) break;
          conn *nc = calloc(1, sizeof *nc);
          nc->fd = fd;
          struct epoll_event cev = {.events = EPOLLIN, .data.ptr = nc};
          epoll_ctl(ep, EPOLL_CTL_ADD, fd, &cev);
        }
        continue;
      }
      if (c->skip) { /* the rest of a large body: read up to its end only */
        ssize_t r = recv(c->fd, scratch, c->skip < sizeof scratch ? c->skip : sizeof scratch, 0);
        if (r > 0) {
          c->skip -= (size_t)r;
          if (c->skip) continue;
          if (send(c->fd, response, response_len, MSG_NOSIGNAL) == (ssize_t)response_len) continue;
        } else if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
          continue;
        }
        close(c->fd);
        free(c);
        continue;
      }
      ssize_t r = recv(c->fd, c->buf + c->len, sizeof c->buf - c->len, 0);
      if (r > 0) {
        c->len += (size_t)r;
        if (serve(c) == 0) continue;
      } else if (r < 0 && (errno == EAGAIN || errno == EINTR)) {
        continue;
      }
      close(c->fd);
      free(c);
    }
  }
  return NULL;
}

int main(int argc, char **argv) {
  response_len = (size_t)snprintf(response, sizeof response,
                                  "HTTP/1.1 200 OK\r\nContent-Type: application/proto\r\n"
                                  "Accept-Encoding: gzip, br, zstd\r\nContent-Length: %zu\r\n\r\n",
                                  sizeof body - 1);
  memcpy(response + response_len, body, sizeof body - 1);
  response_len += sizeof body - 1;
  return baseline_main(argc, argv, 8081, worker);
}
