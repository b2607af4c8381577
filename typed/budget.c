/* The decoding budget allocator (proto_internal.h). */
#include "buf.h"
#include "proto_internal.h"

#define OVERHEAD 16

static int take(cc_budget *b, size_t n) {
  if (n > SIZE_MAX - OVERHEAD || n + OVERHEAD > b->max - b->used) {
    b->exceeded = 1;
    return 0;
  }
  b->used += n + OVERHEAD;
  return 1;
}

static void *b_malloc(size_t size, void *ud) {
  cc_budget *b = ud;
  if (!take(b, size)) return NULL;
  return b->base->malloc(size, b->base->user_data);
}

static void *b_realloc(void *ptr, size_t size, void *ud) {
  cc_budget *b = ud;
  if (!take(b, size)) return NULL;
  return b->base->realloc(ptr, size, b->base->user_data);
}

static void b_free(void *ptr, void *ud) {
  cc_budget *b = ud;
  b->base->free(ptr, b->base->user_data);
}

void cc_budget_init(cc_budget *b, const connectc_allocator *base, size_t max) {
  b->base = cc_alloc_or_default(base);
  b->used = 0;
  b->max = max;
  b->exceeded = 0;
  b->alloc.malloc = b_malloc;
  b->alloc.realloc = b_realloc;
  b->alloc.free = b_free;
  b->alloc.user_data = b;
}

const connectc_allocator *cc_budget_base(const connectc_allocator *a) {
  a = cc_alloc_or_default(a);
  while (a->malloc == b_malloc) a = ((const cc_budget *)a->user_data)->base;
  return a;
}
