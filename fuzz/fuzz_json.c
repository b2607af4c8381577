/* Fuzzes the strict JSON reader: whatever it accepts is walked token by
 * token, strings are unescaped and written back (which must parse again),
 * and numbers are converted. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const connectc_allocator *a = connectc_default_allocator();
  cc_json_limits lim = {32, 0};
  cc_json_doc doc;
  connectc_error e;
  connectc_error_init(&e, NULL);
  int rv = cc_json_parse((const char *)data, size, &lim, a, &doc, &e);
  if (rv != CONNECTC_OK) {
    if (e.code != CONNECTC_CODE_INVALID_ARGUMENT) abort();
    connectc_error_reset(&e);
    return 0;
  }
  if (doc.n_tokens == 0 || doc.n_tokens > size) abort();
  cc_buf b = CC_BUF_INIT, w = CC_BUF_INIT;
  for (size_t i = 0; i < doc.n_tokens; i++) {
    const cc_json_token *t = &doc.tokens[i];
    if (t->end > size || t->start > t->end || t->next <= i || t->next > doc.n_tokens) abort();
    if (t->type == CC_JSON_STRING) {
      cc_buf_clear(&b);
      if (cc_json_string_append(&doc, i, &b, a) != CONNECTC_OK) abort();
      if (!cc_json_string_eq(&doc, i, b.data ? (const char *)b.data : "", b.len)) abort();
      cc_buf_clear(&w);
      if (cc_json_write_string(&w, a, b.data ? (const char *)b.data : "", b.len) != CONNECTC_OK) abort();
      cc_json_doc d2;
      if (cc_json_parse((const char *)w.data, w.len, &lim, a, &d2, NULL) != CONNECTC_OK) abort();
      cc_buf b2 = CC_BUF_INIT;
      if (cc_json_string_append(&d2, 0, &b2, a) != CONNECTC_OK) abort();
      if (b2.len != b.len || (b.len && memcmp(b2.data, b.data, b.len) != 0)) abort();
      cc_buf_free(&b2, a);
      cc_json_doc_free(&d2, a);
    } else if (t->type == CC_JSON_NUMBER) {
      int64_t iv;
      uint64_t uv;
      double dv;
      (void)cc_json_number_i64(&doc, i, &iv);
      (void)cc_json_number_u64(&doc, i, &uv);
      if (cc_json_number_double(&doc, i, &dv) != CONNECTC_OK && t->end - t->start < 800) abort();
    } else if (t->type == CC_JSON_OBJECT) {
      (void)cc_json_object_get(&doc, i, "a");
    }
  }
  cc_buf_free(&b, a);
  cc_buf_free(&w, a);
  cc_json_doc_free(&doc, a);
  return 0;
}
