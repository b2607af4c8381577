/* Codes, errors and header lists: the shared vocabulary of the library. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base64.h"
#include "buf.h"
#include "connectc/common.h"
#include "connectc/version.h"

const char *connectc_version(void) { return CONNECTC_VERSION_STRING; }

long connectc_version_number(void) { return CONNECTC_VERSION_NUMBER; }

const char *connectc_strerror(int rv) {
  switch (rv) {
    case CONNECTC_OK: return "success";
    case CONNECTC_ERR_NOMEM: return "out of memory";
    case CONNECTC_ERR_ARGUMENT: return "invalid argument";
    case CONNECTC_ERR_STATE: return "operation not valid in the current state";
    case CONNECTC_ERR_PROTOCOL: return "protocol error from the peer";
    case CONNECTC_ERR_LIMIT: return "configured limit exceeded";
    case CONNECTC_ERR_UNSUPPORTED: return "not supported by this build";
    case CONNECTC_ERR_CALLBACK: return "aborted by a callback";
    case CONNECTC_ERR_BUFFER: return "output buffer too small";
    case CONNECTC_ERR_RPC: return "the RPC failed with a Connect error";
    case CONNECTC_ERR_FULL: return "the send window is full: wait until it is writable";
    default: return "unknown error";
  }
}

/* ---- codes ---- */

static const char *const code_names[] = {
    "ok",        "canceled",           "unknown",        "invalid_argument",
    "deadline_exceeded", "not_found",  "already_exists", "permission_denied",
    "resource_exhausted", "failed_precondition", "aborted", "out_of_range",
    "unimplemented", "internal",       "unavailable",    "data_loss",
    "unauthenticated"};

const char *connectc_code_name(connectc_code code) {
  if ((unsigned)code > 16u) return NULL;
  return code_names[code];
}

int connectc_code_from_name(const char *name, size_t len, connectc_code *out) {
  /* "ok" is not an error code on the wire: only 1..16 parse. */
  for (unsigned i = 1; i <= 16; i++) {
    if (strlen(code_names[i]) == len && memcmp(code_names[i], name, len) == 0) {
      *out = (connectc_code)i;
      return 1;
    }
  }
  return 0;
}

int connectc_code_to_http_status(connectc_code code) {
  switch (code) {
    case CONNECTC_CODE_OK: return 200;
    case CONNECTC_CODE_CANCELED: return 499;
    case CONNECTC_CODE_UNKNOWN: return 500;
    case CONNECTC_CODE_INVALID_ARGUMENT: return 400;
    case CONNECTC_CODE_DEADLINE_EXCEEDED: return 504;
    case CONNECTC_CODE_NOT_FOUND: return 404;
    case CONNECTC_CODE_ALREADY_EXISTS: return 409;
    case CONNECTC_CODE_PERMISSION_DENIED: return 403;
    case CONNECTC_CODE_RESOURCE_EXHAUSTED: return 429;
    case CONNECTC_CODE_FAILED_PRECONDITION: return 400;
    case CONNECTC_CODE_ABORTED: return 409;
    case CONNECTC_CODE_OUT_OF_RANGE: return 400;
    case CONNECTC_CODE_UNIMPLEMENTED: return 501;
    case CONNECTC_CODE_INTERNAL: return 500;
    case CONNECTC_CODE_UNAVAILABLE: return 503;
    case CONNECTC_CODE_DATA_LOSS: return 500;
    case CONNECTC_CODE_UNAUTHENTICATED: return 401;
  }
  return 500;
}

connectc_code connectc_code_from_http_status(int status) {
  switch (status) {
    case 400: return CONNECTC_CODE_INTERNAL;
    case 401: return CONNECTC_CODE_UNAUTHENTICATED;
    case 403: return CONNECTC_CODE_PERMISSION_DENIED;
    case 404: return CONNECTC_CODE_UNIMPLEMENTED;
    case 429:
    case 502:
    case 503:
    case 504: return CONNECTC_CODE_UNAVAILABLE;
    default: return CONNECTC_CODE_UNKNOWN;
  }
}

/* ---- errors ---- */

void connectc_error_init(connectc_error *err, const connectc_allocator *alloc) {
  memset(err, 0, sizeof *err);
  err->alloc = *cc_alloc_or_default(alloc);
}

static void error_free_details(connectc_error *err) {
  for (size_t i = 0; i < err->n_details; i++) {
    cc_free(&err->alloc, err->details[i].type);
    cc_free(&err->alloc, err->details[i].value);
  }
  cc_free(&err->alloc, err->details);
  err->details = NULL;
  err->n_details = 0;
}

void connectc_error_reset(connectc_error *err) {
  cc_free(&err->alloc, err->message);
  err->message = NULL;
  error_free_details(err);
  err->code = CONNECTC_CODE_OK;
}

int connectc_error_setv(connectc_error *err, connectc_code code, const char *fmt, va_list ap) {
  err->code = code;
  cc_free(&err->alloc, err->message);
  err->message = NULL;
  if (!fmt) return CONNECTC_OK;
  va_list ap2;
  va_copy(ap2, ap);
  int n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) return CONNECTC_ERR_ARGUMENT;
  char *m = cc_malloc(&err->alloc, (size_t)n + 1);
  if (!m) return CONNECTC_ERR_NOMEM;
  vsnprintf(m, (size_t)n + 1, fmt, ap);
  err->message = m;
  return CONNECTC_OK;
}

int connectc_error_set(connectc_error *err, connectc_code code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int rv = connectc_error_setv(err, code, fmt, ap);
  va_end(ap);
  return rv;
}

int connectc_error_set_message(connectc_error *err, connectc_code code, const char *msg,
                               size_t len) {
  err->code = code;
  cc_free(&err->alloc, err->message);
  err->message = NULL;
  if (!msg) return CONNECTC_OK;
  err->message = cc_strndup(&err->alloc, msg, len);
  return err->message ? CONNECTC_OK : CONNECTC_ERR_NOMEM;
}

int connectc_error_add_detail(connectc_error *err, const char *type, const uint8_t *value,
                              size_t value_len) {
  if (!type) return CONNECTC_ERR_ARGUMENT;
  if (err->n_details >= SIZE_MAX / sizeof(connectc_error_detail) - 1) return CONNECTC_ERR_NOMEM;
  connectc_error_detail *d =
      cc_realloc(&err->alloc, err->details, (err->n_details + 1) * sizeof *d);
  if (!d) return CONNECTC_ERR_NOMEM;
  err->details = d;
  connectc_error_detail *nd = &d[err->n_details];
  nd->type = cc_strndup(&err->alloc, type, strlen(type));
  nd->value = NULL;
  nd->value_len = 0;
  if (!nd->type) return CONNECTC_ERR_NOMEM;
  if (value_len) {
    nd->value = cc_malloc(&err->alloc, value_len);
    if (!nd->value) {
      cc_free(&err->alloc, nd->type);
      return CONNECTC_ERR_NOMEM;
    }
    memcpy(nd->value, value, value_len);
    nd->value_len = value_len;
  }
  err->n_details++;
  return CONNECTC_OK;
}

int connectc_error_copy(connectc_error *dst, const connectc_error *src) {
  if (dst == src) return CONNECTC_OK;
  connectc_error_reset(dst);
  int rv = connectc_error_set_message(dst, src->code, src->message,
                                      src->message ? strlen(src->message) : 0);
  for (size_t i = 0; rv == CONNECTC_OK && i < src->n_details; i++)
    rv = connectc_error_add_detail(dst, src->details[i].type, src->details[i].value,
                                   src->details[i].value_len);
  return rv;
}

/* ---- headers ---- */

/*
 * Storage: entries' names and values ("name\0value\0") are carved out of
 * blocks the list owns, freed together at reset; the first block also holds
 * room for the first HB_INLINE entries. A request's or response's few
 * headers therefore cost one allocation. Removing entries leaves their
 * bytes in the block until the reset.
 */
#define HB_INLINE 8
#define HB_SIZE 1024

typedef struct connectc_headers_block hblock;
struct connectc_headers_block {
  hblock *next;
  size_t used, cap; /* bytes of data */
  int borrowed;     /* the caller's storage (cc_headers_init_storage): never freed */
  /* followed by the data; the first block starts with HB_INLINE entries */
};

static char *hblock_data(hblock *b) { return (char *)(b + 1); }

/* The first block's inline entry array, or NULL. */
static connectc_header *inline_items(const connectc_headers *h) {
  hblock *b = h->blocks;
  while (b && b->next) b = b->next; /* the first block is at the tail */
  return b ? (connectc_header *)(void *)hblock_data(b) : NULL;
}

static int first_block(connectc_headers *h) {
  size_t cap = HB_SIZE - sizeof(hblock);
  hblock *b = cc_malloc(&h->alloc, HB_SIZE);
  if (!b) return CONNECTC_ERR_NOMEM;
  b->next = NULL;
  b->used = HB_INLINE * sizeof(connectc_header);
  b->cap = cap;
  b->borrowed = 0;
  h->blocks = b;
  h->items = (connectc_header *)(void *)hblock_data(b);
  h->cap = HB_INLINE;
  return CONNECTC_OK;
}

/* `n` bytes of string storage. */
static char *hblock_take(connectc_headers *h, size_t n) {
  hblock *b = h->blocks;
  if (!b || b->cap - b->used < n) {
    size_t cap = n > HB_SIZE - sizeof(hblock) ? n : HB_SIZE - sizeof(hblock);
    if (cap > SIZE_MAX - sizeof(hblock)) return NULL;
    hblock *nb = cc_malloc(&h->alloc, sizeof(hblock) + cap);
    if (!nb) return NULL;
    nb->next = b;
    nb->used = 0;
    nb->cap = cap;
    nb->borrowed = 0;
    h->blocks = b = nb;
  }
  char *p = hblock_data(b) + b->used;
  b->used += n;
  return p;
}

/* Room for `extra` more entries (doubling, at least 8). */
static int reserve(connectc_headers *h, size_t extra) {
  if (!h->blocks && extra <= HB_INLINE) {
    int rv = first_block(h);
    if (rv) return rv;
  }
  if (extra <= h->cap - h->len) return CONNECTC_OK;
  if (extra > SIZE_MAX / sizeof(connectc_header) - h->len) return CONNECTC_ERR_NOMEM;
  size_t ncap = h->cap * 2;
  if (ncap < h->len + extra) ncap = h->len + extra;
  if (ncap < 8) ncap = 8;
  if (ncap > SIZE_MAX / sizeof(connectc_header)) return CONNECTC_ERR_NOMEM;
  connectc_header *inl = inline_items(h);
  connectc_header *p;
  if (h->items && h->items == inl) {
    p = cc_malloc(&h->alloc, ncap * sizeof *p);
    if (p && h->len) memcpy(p, h->items, h->len * sizeof *p);
  } else {
    p = cc_realloc(&h->alloc, h->items, ncap * sizeof *p);
  }
  if (!p) return CONNECTC_ERR_NOMEM;
  h->items = p;
  h->cap = ncap;
  return CONNECTC_OK;
}

/* Appends an entry (room in h->items must exist): the name lower-cased
 * unless `lower` says it is already (names of entries in a list are),
 * both copied into the list's storage. */
static int push_entry_as(connectc_headers *h, const char *name, size_t name_len,
                         const char *value, size_t value_len, int lower) {
  if (name_len > SIZE_MAX - 2 - value_len) return CONNECTC_ERR_NOMEM;
  char *n = hblock_take(h, name_len + value_len + 2);
  if (!n) return CONNECTC_ERR_NOMEM;
  if (lower) memcpy(n, name, name_len);
  else cc_ascii_lower_copy(n, name, name_len);
  n[name_len] = '\0';
  char *v = n + name_len + 1;
  if (value_len) memcpy(v, value, value_len);
  v[value_len] = '\0';
  h->items[h->len++] =
      (connectc_header){.name = n, .value = v, .name_len = name_len, .value_len = value_len};
  return CONNECTC_OK;
}

static int push_entry(connectc_headers *h, const char *name, size_t name_len, const char *value,
                      size_t value_len) {
  return push_entry_as(h, name, name_len, value, value_len, 0);
}

void connectc_headers_init(connectc_headers *h, const connectc_allocator *alloc) {
  memset(h, 0, sizeof *h);
  h->alloc = *cc_alloc_or_default(alloc);
}

void cc_headers_init_storage(connectc_headers *h, const connectc_allocator *alloc,
                             cc_headers_storage *storage) {
  connectc_headers_init(h, alloc);
  hblock *b = (hblock *)(void *)storage->bytes;
  _Static_assert(sizeof storage->bytes > sizeof(hblock) + HB_INLINE * sizeof(connectc_header),
                 "room for the entries and some names");
  b->next = NULL;
  b->used = HB_INLINE * sizeof(connectc_header);
  b->cap = sizeof storage->bytes - sizeof(hblock);
  b->borrowed = 1;
  h->blocks = b;
  h->items = (connectc_header *)(void *)hblock_data(b);
  h->cap = HB_INLINE;
}

void connectc_headers_reset(connectc_headers *h) {
  if (h->items && h->items != inline_items(h)) cc_free(&h->alloc, h->items);
  hblock *kept = NULL;
  for (hblock *b = h->blocks; b;) {
    hblock *next = b->next;
    if (b->borrowed) kept = b;
    else cc_free(&h->alloc, b);
    b = next;
  }
  h->blocks = NULL;
  h->items = NULL;
  h->len = h->cap = 0;
  if (kept) { /* the caller's storage: the list starts over in it */
    kept->next = NULL;
    kept->used = HB_INLINE * sizeof(connectc_header);
    h->blocks = kept;
    h->items = (connectc_header *)(void *)hblock_data(kept);
    h->cap = HB_INLINE;
  }
}

int connectc_headers_add(connectc_headers *h, const char *name, size_t name_len,
                         const char *value, size_t value_len) {
  if (!name || name_len == 0 || (!value && value_len)) return CONNECTC_ERR_ARGUMENT;
  for (size_t i = 0; i < name_len; i++)
    if (!cc_is_tchar((unsigned char)name[i])) return CONNECTC_ERR_ARGUMENT;
  /* Refused: CR, LF and NUL. Most values hold no control character at
   * all, which cc_field_value_span confirms eight bytes at a time. */
  for (size_t i = cc_field_value_span(value, value_len); i < value_len; i++) {
    unsigned char c = (unsigned char)value[i];
    if (c <= '\r' && (c == '\r' || c == '\n' || c == '\0')) return CONNECTC_ERR_ARGUMENT;
  }
  int rv = reserve(h, 1);
  return rv ? rv : push_entry(h, name, name_len, value ? value : "", value_len);
}

int connectc_headers_adds(connectc_headers *h, const char *name, const char *value) {
  if (!name || !value) return CONNECTC_ERR_ARGUMENT;
  return connectc_headers_add(h, name, strlen(name), value, strlen(value));
}

static int name_is_bin(const char *name, size_t len) {
  return len >= 4 && cc_ascii_casecmp_n(name + len - 4, "-bin", 4) == 0;
}

int connectc_headers_add_bin(connectc_headers *h, const char *name, const uint8_t *value,
                             size_t value_len) {
  if (!name || !name_is_bin(name, strlen(name)) || (!value && value_len))
    return CONNECTC_ERR_ARGUMENT;
  cc_buf b = CC_BUF_INIT;
  int rv = cc_b64_encode(&b, &h->alloc, value, value_len, CC_B64_STD, 0);
  if (rv == CONNECTC_OK)
    rv = connectc_headers_add(h, name, strlen(name), b.data ? (const char *)b.data : "", b.len);
  cc_buf_free(&b, &h->alloc);
  return rv;
}

size_t connectc_headers_remove(connectc_headers *h, const char *name) {
  size_t nl = strlen(name), w = 0, removed = 0;
  for (size_t i = 0; i < h->len; i++) {
    connectc_header *e = &h->items[i];
    if (cc_ascii_eq_nocase(e->name, e->name_len, name, nl)) {
      removed++; /* its bytes stay in the block until the reset */
    } else {
      h->items[w++] = *e;
    }
  }
  h->len = w;
  return removed;
}

const connectc_header *connectc_headers_get_nth(const connectc_headers *h, const char *name,
                                                size_t index) {
  size_t nl = strlen(name);
  for (size_t i = 0; i < h->len; i++) {
    const connectc_header *e = &h->items[i];
    if (cc_ascii_eq_nocase(e->name, e->name_len, name, nl)) {
      if (index == 0) return e;
      index--;
    }
  }
  return NULL;
}

const char *connectc_headers_get(const connectc_headers *h, const char *name) {
  const connectc_header *e = connectc_headers_get_nth(h, name, 0);
  return e ? e->value : NULL;
}

size_t connectc_headers_count(const connectc_headers *h, const char *name) {
  size_t nl = strlen(name), n = 0;
  for (size_t i = 0; i < h->len; i++)
    if (cc_ascii_eq_nocase(h->items[i].name, h->items[i].name_len, name, nl)) n++;
  return n;
}

int connectc_headers_get_bin(const connectc_headers *h, const char *name, size_t index,
                             uint8_t **out, size_t *out_len) {
  const connectc_header *e = connectc_headers_get_nth(h, name, index);
  if (!e) return CONNECTC_ERR_ARGUMENT;
  cc_buf b = CC_BUF_INIT;
  int rv = cc_b64_decode(&b, &h->alloc, e->value, e->value_len,
                         CC_B64_ACCEPT_STD | CC_B64_ACCEPT_URL);
  if (rv == CONNECTC_OK) rv = cc_buf_reserve(&b, &h->alloc, 1); /* never NULL for empty */
  if (rv) {
    cc_buf_free(&b, &h->alloc);
    return rv;
  }
  *out = b.data;
  *out_len = b.len;
  return CONNECTC_OK;
}

int cc_headers_push(connectc_headers *h, const connectc_header *e) {
  int rv = reserve(h, 1);
  return rv ? rv : push_entry_as(h, e->name, e->name_len, e->value, e->value_len, 1);
}

int connectc_headers_append_all(connectc_headers *dst, const connectc_headers *src) {
  size_t n = src->len; /* dst may be src */
  if (n == 0) return CONNECTC_OK;
  /* Room for every entry at once; the entries of a list were validated
   * when they were added, so they are not checked again. */
  int rv = reserve(dst, n);
  if (rv) return rv;
  for (size_t i = 0; i < n; i++) {
    const connectc_header *e = &src->items[i];
    rv = push_entry_as(dst, e->name, e->name_len, e->value, e->value_len, 1);
    if (rv) return rv;
  }
  return CONNECTC_OK;
}
