/*
 * What baseline_h1 and baseline_h2 share: the listening sockets, the
 * signal handling and the worker threads. Each worker thread has its own
 * listening socket on the same port (SO_REUSEPORT) and its own epoll set.
 */
#ifndef CONNECTC_BENCH_BASELINE_COMMON_H
#define CONNECTC_BENCH_BASELINE_COMMON_H

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cpus.h"

/* A non-blocking listening socket on 127.0.0.1:port (0: any free port);
 * exits the program when it cannot have one. */
static int baseline_listen_on(int port) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) != 0 || listen(fd, 4096) != 0) {
    perror("baseline: bind/listen");
    exit(1);
  }
  return fd;
}

/* An epoll set watching the listening socket lfd for new connections
 * (its events carry data.ptr NULL); exits the program without one. */
static int baseline_epoll_for(int lfd) {
  int ep = epoll_create1(0);
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
  if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev) != 0) {
    perror("baseline: epoll");
    exit(1);
  }
  return ep;
}

/* The next connection waiting on lfd, non-blocking and with TCP_NODELAY
 * (as the servers set it), or -1 when none is waiting. */
static int baseline_accept(int lfd) {
  int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK);
  if (fd >= 0) {
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  return fd;
}

/* SIGINT and SIGTERM end it at once: a shell's background job starts
 * with SIGINT ignored, and bench/run.sh stops servers with SIGINT. */
static void baseline_on_stop(int sig) {
  (void)sig;
  _exit(0);
}

/* main() of both: `prog PORT [THREADS]` (PORT 0 picks one; THREADS
 * defaults to one per CPU of the affinity mask, at most 8, as the
 * servers), prints "listening on http://127.0.0.1:PORT" and runs
 * `worker(&port)` on each thread until a signal ends the program. */
static int baseline_main(int argc, char **argv, int default_port, void *(*worker)(void *)) {
  int port = argc > 1 ? atoi(argv[1]) : default_port;
  int threads = argc > 2 ? atoi(argv[2]) : (int)cc_usable_cpus(8);
  if (threads < 1) threads = 1;
  if (threads > 64) threads = 64;
  signal(SIGPIPE, SIG_IGN);
  signal(SIGINT, baseline_on_stop);
  signal(SIGTERM, baseline_on_stop);
  if (port == 0) {
    /* Pick a free port once, so that every thread listens on the same one. */
    int fd = baseline_listen_on(0);
    struct sockaddr_in a;
    socklen_t al = sizeof a;
    getsockname(fd, (struct sockaddr *)&a, &al);
    port = ntohs(a.sin_port);
    close(fd);
  }
  printf("listening on http://127.0.0.1:%d\n", port);
  fflush(stdout);
  pthread_t t[64];
  for (int i = 0; i < threads; i++) pthread_create(&t[i], NULL, worker, &port);
  for (int i = 0; i < threads; i++) pthread_join(t[i], NULL);
  return 0;
}

#endif
