/* cg_util.c: see cg_util.h. */
#define _POSIX_C_SOURCE 200809L
#include "cg_util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void cg_oom(void) {
  fputs("connectc code generator: out of memory\n", stderr);
  exit(1);
}

void *cg_xmalloc(size_t n) {
  void *p = malloc(n ? n : 1);
  if (!p) cg_oom();
  return p;
}

void *cg_xrealloc(void *p, size_t n) {
  void *q = realloc(p, n ? n : 1);
  if (!q) cg_oom();
  return q;
}

char *cg_xstrdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = cg_xmalloc(n);
  memcpy(p, s, n);
  return p;
}

static void cg_str_reserve(cg_str *s, size_t extra) {
  size_t need;
  if (extra > SIZE_MAX - s->len - 1) cg_oom();
  need = s->len + extra + 1;
  if (need <= s->cap) return;
  {
    size_t cap = s->cap ? s->cap : 256;
    while (cap < need) {
      if (cap > SIZE_MAX / 2) {
        cap = need;
        break;
      }
      cap *= 2;
    }
    s->data = cg_xrealloc(s->data, cap);
    s->cap = cap;
  }
}

void cg_str_append(cg_str *s, const char *p, size_t n) {
  cg_str_reserve(s, n);
  if (n) memcpy(s->data + s->len, p, n);
  s->len += n;
  s->data[s->len] = '\0';
}

void cg_str_puts(cg_str *s, const char *p) { cg_str_append(s, p, strlen(p)); }

void cg_str_putc(cg_str *s, char c) { cg_str_append(s, &c, 1); }

void cg_str_vprintf(cg_str *s, const char *fmt, va_list ap) {
  va_list ap2;
  int n;
  va_copy(ap2, ap);
  n = vsnprintf(NULL, 0, fmt, ap2);
  va_end(ap2);
  if (n < 0) {
    fputs("connectc code generator: bad format string\n", stderr);
    exit(1);
  }
  cg_str_reserve(s, (size_t)n);
  vsnprintf(s->data + s->len, (size_t)n + 1, fmt, ap);
  s->len += (size_t)n;
}

void cg_str_printf(cg_str *s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  cg_str_vprintf(s, fmt, ap);
  va_end(ap);
}

void cg_str_c_literal(cg_str *s, const char *p) {
  cg_str_putc(s, '"');
  for (; *p; p++) {
    unsigned char c = (unsigned char)*p;
    if (c == '"' || c == '\\' || c == '?') {
      cg_str_putc(s, '\\');
      cg_str_putc(s, (char)c);
    } else if (c < 0x20 || c > 0x7e) {
      cg_str_printf(s, "\\%03o", (unsigned)c);
    } else {
      cg_str_putc(s, (char)c);
    }
  }
  cg_str_putc(s, '"');
}

char *cg_str_take(cg_str *s) {
  char *p;
  if (!s->data) cg_str_reserve(s, 0);
  p = s->data;
  s->data = NULL;
  s->len = s->cap = 0;
  return p;
}

void cg_str_free(cg_str *s) {
  free(s->data);
  s->data = NULL;
  s->len = s->cap = 0;
}

int cg_read_all(int fd, uint8_t **out, size_t *out_len) {
  size_t cap = 64 * 1024, len = 0;
  uint8_t *buf = cg_xmalloc(cap);
  for (;;) {
    ssize_t n;
    if (len == cap) {
      if (cap > SIZE_MAX / 2) cg_oom();
      cap *= 2;
      buf = cg_xrealloc(buf, cap);
    }
    n = read(fd, buf + len, cap - len);
    if (n < 0) {
      if (errno == EINTR) continue;
      free(buf);
      return -1;
    }
    if (n == 0) break;
    len += (size_t)n;
  }
  *out = buf;
  *out_len = len;
  return 0;
}

int cg_write_all(int fd, const uint8_t *data, size_t len) {
  while (len > 0) {
    ssize_t n = write(fd, data, len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    data += n;
    len -= (size_t)n;
  }
  return 0;
}

int cg_write_response(const Google__Protobuf__Compiler__CodeGeneratorResponse *resp) {
  size_t n = google__protobuf__compiler__code_generator_response__get_packed_size(resp);
  uint8_t *buf = cg_xmalloc(n);
  int rc = 0;
  google__protobuf__compiler__code_generator_response__pack(resp, buf);
  if (cg_write_all(STDOUT_FILENO, buf, n) != 0) {
    fprintf(stderr, "connectc code generator: writing the response to stdout: %s\n",
            strerror(errno));
    rc = 1;
  }
  free(buf);
  return rc;
}

void cg_camel_to_lower(cg_str *s, const char *name) {
  int was_upper = 1; /* no '_' before a leading capital */
  for (; *name; name++) {
    char c = *name;
    int is_upper = c >= 'A' && c <= 'Z';
    if (is_upper) {
      if (!was_upper) cg_str_putc(s, '_');
      cg_str_putc(s, (char)(c - 'A' + 'a'));
    } else {
      cg_str_putc(s, c);
    }
    was_upper = is_upper;
  }
}

char *cg_full_name_to_lower(const char *full_name) {
  cg_str s = {0};
  const char *p = full_name;
  while (*p) {
    const char *dot = strchr(p, '.');
    size_t n = dot ? (size_t)(dot - p) : strlen(p);
    if (n > 0) {
      char *piece = cg_xmalloc(n + 1);
      memcpy(piece, p, n);
      piece[n] = '\0';
      if (s.len) cg_str_puts(&s, "__");
      cg_camel_to_lower(&s, piece);
      free(piece);
    }
    p += n;
    if (*p == '.') p++;
  }
  return cg_str_take(&s);
}
