/* The type registry: message JSON metadata by full name, in an
 * open-addressing hash table (lookups are O(1), no allocation). */
#include <string.h>

#include "buf.h"
#include "connectc/json_codec.h"
#include "google/protobuf/any.connect.h"
#include "google/protobuf/duration.connect.h"
#include "google/protobuf/empty.connect.h"
#include "google/protobuf/field_mask.connect.h"
#include "google/protobuf/struct.connect.h"
#include "google/protobuf/timestamp.connect.h"
#include "google/protobuf/wrappers.connect.h"

struct connectc_type_registry {
  connectc_allocator alloc;
  const connectc_message_info **slots; /* power-of-two sized; NULL = empty */
  size_t cap;
  size_t n;
};

/* FNV-1a: names are short; no adversary chooses them (generated code
 * does). */
static size_t hash_name(const char *s, size_t len) {
  uint64_t h = 1469598103934665603ULL;
  for (size_t i = 0; i < len; i++) {
    h ^= (uint8_t)s[i];
    h *= 1099511628211ULL;
  }
  return (size_t)h;
}

int connectc_type_registry_new(const connectc_allocator *alloc, connectc_type_registry **out) {
  if (!out) return CONNECTC_ERR_ARGUMENT;
  *out = NULL;
  const connectc_allocator *a = cc_alloc_or_default(alloc);
  connectc_type_registry *r = cc_malloc(a, sizeof *r);
  if (!r) return CONNECTC_ERR_NOMEM;
  memset(r, 0, sizeof *r);
  r->alloc = *a;
  /* The well-known types, whose JSON forms the codec knows. */
  int (*const wkt[])(connectc_type_registry *) = {
      google_protobuf_any__register_types,       google_protobuf_duration__register_types,
      google_protobuf_empty__register_types,     google_protobuf_field_mask__register_types,
      google_protobuf_struct__register_types,    google_protobuf_timestamp__register_types,
      google_protobuf_wrappers__register_types};
  for (size_t i = 0; i < sizeof wkt / sizeof wkt[0]; i++) {
    if (wkt[i](r) != CONNECTC_OK) {
      connectc_type_registry_del(r);
      return CONNECTC_ERR_NOMEM;
    }
  }
  *out = r;
  return CONNECTC_OK;
}

void connectc_type_registry_del(connectc_type_registry *r) {
  if (!r) return;
  connectc_allocator a = r->alloc;
  cc_free(&a, (void *)r->slots);
  cc_free(&a, r);
}

static size_t find_slot(const connectc_message_info *const *slots, size_t cap, const char *name,
                        size_t len) {
  size_t i = hash_name(name, len) & (cap - 1);
  while (slots[i]) {
    const char *n = slots[i]->descriptor->name;
    if (strlen(n) == len && memcmp(n, name, len) == 0) break;
    i = (i + 1) & (cap - 1);
  }
  return i;
}

const connectc_message_info *connectc_type_registry_find(const connectc_type_registry *r,
                                                         const char *full_name, size_t len) {
  if (!r || !r->cap || !full_name) return NULL;
  return r->slots[find_slot(r->slots, r->cap, full_name, len)];
}

int connectc_type_registry_add(connectc_type_registry *r, const connectc_message_info *info) {
  if (!r || !info || !info->descriptor || !info->descriptor->name) return CONNECTC_ERR_ARGUMENT;
  const char *name = info->descriptor->name;
  size_t len = strlen(name);
  const connectc_message_info *have = connectc_type_registry_find(r, name, len);
  if (have) return have == info ? CONNECTC_OK : CONNECTC_ERR_ARGUMENT;
  if ((r->n + 1) * 4 > r->cap * 3) { /* keep the load under 3/4 */
    size_t ncap = r->cap ? r->cap * 2 : 32;
    const connectc_message_info **ns = cc_malloc(&r->alloc, ncap * sizeof *ns);
    if (!ns) return CONNECTC_ERR_NOMEM;
    memset((void *)ns, 0, ncap * sizeof *ns);
    for (size_t i = 0; i < r->cap; i++) {
      const connectc_message_info *m = r->slots[i];
      if (m) ns[find_slot(ns, ncap, m->descriptor->name, strlen(m->descriptor->name))] = m;
    }
    cc_free(&r->alloc, (void *)r->slots);
    r->slots = ns;
    r->cap = ncap;
  }
  r->slots[find_slot(r->slots, r->cap, name, len)] = info;
  r->n++;
  return CONNECTC_OK;
}
