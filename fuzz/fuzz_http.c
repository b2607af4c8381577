/* Fuzzes the shared HTTP rules (connectc/http.h): the HTTP/1.x request
 * head checker with small and default limits, and each field-level parser
 * on the same bytes. Invariants: a complete head is found at the same
 * length whatever follows it, no prefix of it is ever accepted, a refusal
 * stays a refusal when more bytes arrive, a decoded path never holds a
 * NUL, and every refusal renders as one well-formed answer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "connectc/http.h"

static void answer(const connectc_http_refusal *why) {
  char buf[1024];
  size_t n = connectc_http1_write_refusal(buf, sizeof buf, why);
  if (n >= sizeof buf || memcmp(buf, "HTTP/1.1 ", 9) != 0) abort();
  if (why->status < 400 || why->status > 599) abort();
  if (memchr(why->message, 0, sizeof why->message) == NULL) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  const connectc_http1_limits lims[] = {{0, 0}, {64, 4}};
  for (size_t k = 0; k < sizeof lims / sizeof lims[0]; k++) {
    connectc_http1_head h;
    connectc_http_refusal why;
    int rv = connectc_http1_check_head(s, size, &lims[k], &h, &why);
    if (rv < 0) answer(&why);
    if (rv == 1) {
      if (h.head_len == 0 || h.head_len > size) abort();
      if (h.minor != 0 && h.minor != 1) abort();
      connectc_http1_head h2;
      if (connectc_http1_check_head(s, h.head_len, &lims[k], &h2, &why) != 1 ||
          h2.head_len != h.head_len)
        abort();
      if (connectc_http1_check_head(s, h.head_len - 1, &lims[k], &h2, &why) == 1) abort();
      connectc_http_target t;
      if (connectc_http_parse_target(h.target, h.target_len, &t, &why) != CONNECTC_OK) abort();
    }
    /* With the fields: the same result, and every field inside the head. */
    static connectc_http1_field f[CONNECTC_HTTP1_DEFAULT_MAX_FIELDS];
    size_t cap = lims[k].max_fields ? lims[k].max_fields : CONNECTC_HTTP1_DEFAULT_MAX_FIELDS;
    connectc_http1_head hf;
    connectc_http_refusal whyf;
    int keep_alive = -1;
    int rvf = connectc_http1_check_head_fields(s, size, &lims[k], &hf, f, cap, &keep_alive, &whyf);
    if (rvf != rv) abort();
    if (rvf < 0 && whyf.status != why.status) abort();
    if (rvf == 1) {
      if (hf.head_len != h.head_len || hf.n_fields != h.n_fields || hf.n_fields > cap) abort();
      if (keep_alive != 0 && keep_alive != 1) abort();
      for (size_t i = 0; i < hf.n_fields; i++)
        if (f[i].name_len == 0 || f[i].name < s || f[i].name + f[i].name_len > s + hf.head_len ||
            f[i].value < s || f[i].value + f[i].value_len > s + hf.head_len)
          abort();
    }
    /* A prefix that is refused stays refused. */
    size_t cut = size ? data[0] % (size + 1) : 0;
    connectc_http1_head hp;
    if (connectc_http1_check_head(s, cut, &lims[k], &hp, &why) < 0 && rv >= 0) abort();
  }
  connectc_http_refusal why;
  uint64_t v;
  if (connectc_http_parse_content_length(s, size, &v, &why) != CONNECTC_OK) answer(&why);
  else if (v > INT64_MAX) abort();
  if (connectc_http_parse_chunk_size(s, size, &v, &why) != CONNECTC_OK) answer(&why);
  else if (v > INT64_MAX) abort();
  if (connectc_http_check_host(1, 1, s, size, &why) != CONNECTC_OK) answer(&why);
  connectc_http_target t;
  if (connectc_http_parse_target(s, size, &t, &why) == CONNECTC_OK) {
    if (t.path_len == 0 || t.path[0] != '/') abort();
    char *out = malloc(t.path_len);
    size_t n = 0;
    if (connectc_http_decode_path(t.path, t.path_len, out, &n, &why) == CONNECTC_OK) {
      if (n > t.path_len || memchr(out, 0, n)) abort();
    } else {
      answer(&why);
    }
    free(out);
  } else {
    answer(&why);
  }
  (void)connectc_http_field_name_valid(s, size);
  (void)connectc_http_field_value_valid(s, size);
  return 0;
}
