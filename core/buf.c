#include "buf.h"

#include <stdlib.h>
#include <string.h>

static void *default_malloc(size_t size, void *ud) {
  (void)ud;
  return malloc(size);
}
static void *default_realloc(void *ptr, size_t size, void *ud) {
  (void)ud;
  return realloc(ptr, size);
}
static void default_free(void *ptr, void *ud) {
  (void)ud;
  free(ptr);
}

static const connectc_allocator default_allocator = {
    .malloc = default_malloc, .realloc = default_realloc, .free = default_free};

const connectc_allocator *connectc_default_allocator(void) { return &default_allocator; }

const connectc_allocator *cc_alloc_or_default(const connectc_allocator *a) {
  return a ? a : &default_allocator;
}

void connectc_free(const connectc_allocator *alloc, void *ptr) {
  cc_free(cc_alloc_or_default(alloc), ptr);
}

void *cc_malloc(const connectc_allocator *a, size_t size) {
  return a->malloc(size ? size : 1, a->user_data);
}
void *cc_realloc(const connectc_allocator *a, void *ptr, size_t size) {
  return a->realloc(ptr, size ? size : 1, a->user_data);
}
void cc_free(const connectc_allocator *a, void *ptr) {
  if (ptr) a->free(ptr, a->user_data);
}

char *cc_strndup(const connectc_allocator *a, const char *s, size_t len) {
  if (len == SIZE_MAX) return NULL;
  char *p = cc_malloc(a, len + 1);
  if (!p) return NULL;
  if (len) memcpy(p, s, len);
  p[len] = '\0';
  return p;
}

int cc_buf_reserve(cc_buf *b, const connectc_allocator *a, size_t extra) {
  if (extra <= b->cap - b->len) return CONNECTC_OK;
  if (extra > SIZE_MAX - b->len) return CONNECTC_ERR_NOMEM;
  size_t need = b->len + extra;
  size_t ncap = b->cap ? b->cap : 64;
  while (ncap < need) {
    if (ncap > SIZE_MAX / 2) {
      ncap = need;
      break;
    }
    ncap *= 2;
  }
  uint8_t *p = cc_realloc(a, b->data, ncap);
  if (!p) return CONNECTC_ERR_NOMEM;
  b->data = p;
  b->cap = ncap;
  return CONNECTC_OK;
}

int cc_buf_append(cc_buf *b, const connectc_allocator *a, const void *data, size_t len) {
  if (len == 0) return CONNECTC_OK;
  int rv = cc_buf_reserve(b, a, len);
  if (rv) return rv;
  memcpy(b->data + b->len, data, len);
  b->len += len;
  return CONNECTC_OK;
}

int cc_buf_append_byte(cc_buf *b, const connectc_allocator *a, uint8_t byte) {
  return cc_buf_append(b, a, &byte, 1);
}

int cc_buf_append_str(cc_buf *b, const connectc_allocator *a, const char *s) {
  return cc_buf_append(b, a, s, strlen(s));
}

void cc_buf_free(cc_buf *b, const connectc_allocator *a) {
  cc_free(a, b->data);
  b->data = NULL;
  b->len = b->cap = 0;
}

char *cc_buf_take_cstr(cc_buf *b, const connectc_allocator *a) {
  if (cc_buf_append_byte(b, a, 0)) return NULL;
  char *s = (char *)b->data;
  b->data = NULL;
  b->len = b->cap = 0;
  return s;
}

