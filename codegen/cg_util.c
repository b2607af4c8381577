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

void cg_snake_case(cg_str *s, const char *name) {
  size_t start = s->len;
  int was_upper = 1; /* no break before a leading capital */
  int brk = 0;       /* a word break is due before the next letter or digit */
  for (; *name; name++) {
    char c = *name;
    int is_upper = c >= 'A' && c <= 'Z';
    if (c == '_') {
      brk = 1;
      was_upper = 0;
      continue;
    }
    if (is_upper && !was_upper) brk = 1;
    if (brk && s->len > start) cg_str_putc(s, '_');
    brk = 0;
    cg_str_putc(s, is_upper ? (char)(c - 'A' + 'a') : c);
    was_upper = is_upper;
  }
}

char *cg_full_name_to_c(const char *full_name) {
  cg_str out = {0};
  const char *p = full_name[0] == '.' ? full_name + 1 : full_name;
  int next_upper = 1;
  for (; *p; p++) {
    if (*p == '.') {
      cg_str_puts(&out, "__");
      next_upper = 1;
    } else if (*p == '_') {
      next_upper = 1;
    } else if (next_upper) {
      cg_str_putc(&out, (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p));
      next_upper = 0;
    } else {
      cg_str_putc(&out, *p);
    }
  }
  return cg_str_take(&out);
}

int cg_is_keyword(const char *word) {
  static const char *const kw[] = {
      /* C11 */
      "auto", "break", "case", "char", "const", "continue", "default", "do", "double", "else",
      "enum", "extern", "float", "for", "goto", "if", "inline", "int", "long", "register",
      "restrict", "return", "short", "signed", "sizeof", "static", "struct", "switch",
      "typedef", "union", "unsigned", "void", "volatile", "while",
      /* C23 */
      "alignas", "alignof", "bool", "constexpr", "false", "nullptr", "static_assert",
      "thread_local", "true", "typeof", "typeof_unqual",
      /* C++ */
      "and", "and_eq", "asm", "bitand", "bitor", "catch", "char8_t", "char16_t", "char32_t",
      "class", "co_await", "co_return", "co_yield", "compl", "concept", "const_cast",
      "consteval", "constinit", "decltype", "delete", "dynamic_cast", "explicit", "export",
      "friend", "mutable", "namespace", "new", "noexcept", "not", "not_eq", "operator", "or",
      "or_eq", "private", "protected", "public", "reinterpret_cast", "requires", "static_cast",
      "template", "this", "throw", "try", "typeid", "typename", "using", "virtual", "wchar_t",
      "xor", "xor_eq", NULL};
  for (size_t i = 0; kw[i]; i++)
    if (strcmp(kw[i], word) == 0) return 1;
  return 0;
}

int cg_is_reserved_member(const char *word) {
  static const char *const macros[] = {
      "assert", "complex", "errno", "imaginary", "noreturn", "offsetof", "setjmp", "stderr",
      "stdin",  "stdout",  "va_arg", "va_copy", "va_end", "va_start", "i386", "linux", "unix", NULL};
  if (cg_is_keyword(word)) return 1;
  for (size_t i = 0; macros[i]; i++)
    if (strcmp(macros[i], word) == 0) return 1;
  return 0;
}
