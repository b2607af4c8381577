/*
 * counting.h: what the benchmarks share: a connectc_allocator that counts
 * every malloc and realloc (n_allocs), with an optional hook told of each
 * one (bench_calls --trace), and a monotonic clock in seconds. Include it
 * once per benchmark program.
 */
#ifndef CONNECTC_BENCH_COUNTING_H
#define CONNECTC_BENCH_COUNTING_H

#include <stdlib.h>
#include <time.h>

#include "connectc/common.h"

static size_t n_allocs;
/* Called with "malloc" or "realloc" and the size, when set. */
static void (*alloc_hook)(const char *what, size_t size);

static void *count_malloc(size_t size, void *ud) {
  (void)ud;
  n_allocs++;
  if (alloc_hook) alloc_hook("malloc", size);
  return malloc(size);
}
static void *count_realloc(void *ptr, size_t size, void *ud) {
  (void)ud;
  n_allocs++;
  if (alloc_hook) alloc_hook("realloc", size);
  return realloc(ptr, size);
}
static void count_free(void *ptr, void *ud) {
  (void)ud;
  free(ptr);
}
static const connectc_allocator counting = {
    .malloc = count_malloc, .realloc = count_realloc, .free = count_free};

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

#endif
