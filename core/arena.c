/* The arena allocator (connectc/common.h). */
#include <stdalign.h>
#include <string.h>

#include "buf.h"

/* Each allocation is preceded by a header holding its size, so that
 * realloc knows how much to copy; headers and payloads keep max_align_t
 * alignment. */
#define ALIGN ((size_t)alignof(max_align_t))
#define HDR ALIGN
#define FIRST_HEAP_BLOCK 4096u
#define MAX_HEAP_BLOCK (1u << 20)

struct connectc_arena_block {
  struct connectc_arena_block *next;
  size_t size; /* bytes of the whole block, header included */
};

/* The block header, rounded up so that what follows stays aligned. */
#define BLOCK_HDR ((sizeof(struct connectc_arena_block) + ALIGN - 1) / ALIGN * ALIGN)

static unsigned char *align_up(unsigned char *p) {
  uintptr_t u = (uintptr_t)p;
  return p + ((ALIGN - u % ALIGN) % ALIGN);
}

/* Bytes an allocation of n takes, header included, or 0 on overflow. */
static size_t footprint(size_t n) {
  if (n > SIZE_MAX - HDR - ALIGN) return 0;
  return HDR + (n + ALIGN - 1) / ALIGN * ALIGN;
}

static size_t stored_size(const unsigned char *hdr) {
  size_t n;
  memcpy(&n, hdr, sizeof n);
  return n;
}

static void store_size(unsigned char *hdr, size_t n) { memcpy(hdr, &n, sizeof n); }

static size_t room(const connectc_arena *a) { return a->cur_ ? (size_t)(a->end_ - a->cur_) : 0; }

/* Makes the current block one with `need` free bytes. */
static int grow(connectc_arena *a, size_t need) {
  size_t size = a->next_block_;
  if (need > SIZE_MAX - BLOCK_HDR) return 0;
  if (size < need + BLOCK_HDR) size = need + BLOCK_HDR;
  struct connectc_arena_block *b = a->base_.malloc(size, a->base_.user_data);
  if (!b) return 0;
  b->next = a->heap_;
  b->size = size;
  a->heap_ = b;
  a->cur_ = (unsigned char *)b + BLOCK_HDR;
  a->end_ = (unsigned char *)b + size;
  if (a->next_block_ < MAX_HEAP_BLOCK) a->next_block_ *= 2;
  return 1;
}

static void *arena_malloc(size_t n, void *ud) {
  connectc_arena *a = ud;
  size_t need = footprint(n);
  if (!need) return NULL;
  if (room(a) < need && !grow(a, need)) return NULL;
  unsigned char *hdr = a->cur_;
  store_size(hdr, n);
  a->cur_ += need;
  a->last_ = hdr;
  return hdr + HDR;
}

static void arena_free(void *ptr, void *ud) {
  connectc_arena *a = ud;
  if (ptr && (unsigned char *)ptr - HDR == a->last_) {
    a->cur_ = a->last_;
    a->last_ = NULL;
  }
}

static void *arena_realloc(void *ptr, size_t n, void *ud) {
  connectc_arena *a = ud;
  if (!ptr) return arena_malloc(n, ud);
  unsigned char *hdr = (unsigned char *)ptr - HDR;
  size_t old = stored_size(hdr);
  if (hdr == a->last_) {
    size_t need = footprint(n);
    if (need && (size_t)(a->end_ - hdr) >= need) {
      store_size(hdr, n);
      a->cur_ = hdr + need;
      return ptr;
    }
  } else if (n <= old) {
    return ptr; /* the old size stays: copying it later is still in bounds */
  }
  void *q = arena_malloc(n, ud);
  if (!q) return NULL;
  memcpy(q, ptr, old < n ? old : n);
  return q;
}

void connectc_arena_init(connectc_arena *arena, const connectc_allocator *base, void *first,
                         size_t first_size) {
  memset(arena, 0, sizeof *arena);
  arena->base_ = *cc_alloc_or_default(base);
  arena->alloc_.malloc = arena_malloc;
  arena->alloc_.realloc = arena_realloc;
  arena->alloc_.free = arena_free;
  arena->alloc_.user_data = arena;
  if (first && first_size) {
    arena->first_ = first;
    arena->first_size_ = first_size;
  }
  connectc_arena_reset(arena);
}

const connectc_allocator *connectc_arena_allocator(connectc_arena *arena) {
  return &arena->alloc_;
}

void connectc_arena_reset(connectc_arena *arena) {
  struct connectc_arena_block *b = arena->heap_;
  while (b) {
    struct connectc_arena_block *next = b->next;
    arena->base_.free(b, arena->base_.user_data);
    b = next;
  }
  arena->heap_ = NULL;
  arena->cur_ = arena->end_ = NULL;
  if (arena->first_) {
    unsigned char *start = align_up(arena->first_);
    unsigned char *end = arena->first_ + arena->first_size_;
    if (start < end) {
      arena->cur_ = start;
      arena->end_ = end;
    }
  }
  arena->last_ = NULL;
  arena->next_block_ = FIRST_HEAP_BLOCK;
}

size_t connectc_arena_heap_bytes(const connectc_arena *arena) {
  size_t n = 0;
  for (const struct connectc_arena_block *b = arena->heap_; b; b = b->next) n += b->size;
  return n;
}
