/*
 * A strict RFC 8259 JSON reader: one pass, linear time, no recursion
 * (an explicit stack bounded by max_depth), tokens pointing into the
 * caller's buffer. See json.h for what it rejects that jsmn accepts.
 */
#include "json.h"

#include <locale.h>
#include <stdlib.h>
#include <string.h>

/* ---- UTF-8 ---- */

/* Length of the valid UTF-8 sequence at s[0..n), or 0 if invalid
 * (overlong forms, surrogates and code points above U+10FFFF are
 * invalid). */
static size_t utf8_seq(const uint8_t *s, size_t n) {
  uint8_t c = s[0];
  if (c < 0x80) return 1;
  if (c < 0xC2) return 0;
  if (c < 0xE0) return n >= 2 && (s[1] & 0xC0) == 0x80 ? 2 : 0;
  if (c < 0xF0) {
    if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) return 0;
    if (c == 0xE0 && s[1] < 0xA0) return 0; /* overlong */
    if (c == 0xED && s[1] >= 0xA0) return 0; /* surrogate */
    return 3;
  }
  if (c < 0xF5) {
    if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
      return 0;
    if (c == 0xF0 && s[1] < 0x90) return 0; /* overlong */
    if (c == 0xF4 && s[1] >= 0x90) return 0; /* > U+10FFFF */
    return 4;
  }
  return 0;
}

int cc_utf8_valid(const uint8_t *s, size_t n) {
  const uint64_t high = 0x8080808080808080u; /* the top bit of each byte */
  size_t i = 0;
  while (i < n) {
    /* ASCII sixteen bytes at a time: most strings are ASCII throughout,
     * and a byte-at-a-time loop made validation the largest cost of
     * decoding a long string (6 instructions a byte). */
    while (n - i >= 16) {
      uint64_t a, b;
      memcpy(&a, s + i, 8);
      memcpy(&b, s + i + 8, 8);
      if ((a | b) & high) break;
      i += 16;
    }
    if (i == n) break;
    if (s[i] < 0x80) {
      i++;
      continue;
    }
    size_t k = utf8_seq(s + i, n - i);
    if (k == 0) return 0;
    i += k;
  }
  return 1;
}

static int hex4(const char *s, uint32_t *out) {
  uint32_t v = 0;
  for (int i = 0; i < 4; i++) {
    char c = s[i];
    v <<= 4;
    if (c >= '0' && c <= '9') v |= (uint32_t)(c - '0');
    else if (c >= 'a' && c <= 'f') v |= (uint32_t)(c - 'a' + 10);
    else if (c >= 'A' && c <= 'F') v |= (uint32_t)(c - 'A' + 10);
    else return 0;
  }
  *out = v;
  return 1;
}

/* ---- parser ---- */

typedef struct parser {
  const char *in;
  size_t len;
  size_t pos;
  const connectc_allocator *alloc;
  cc_json_token *toks;
  size_t n, cap;
  size_t max_tokens;
  connectc_error *err;
} parser;

static int syntax(parser *p, const char *what) {
  if (p->err) {
    if (p->pos >= p->len)
      connectc_error_set(p->err, CONNECTC_CODE_INVALID_ARGUMENT,
                         "invalid JSON: unexpected end of input, expected %s", what);
    else
      connectc_error_set(p->err, CONNECTC_CODE_INVALID_ARGUMENT, "invalid JSON at byte %zu: %s",
                         p->pos, what);
  }
  return CONNECTC_ERR_PROTOCOL;
}

static void skip_ws(parser *p) {
  while (p->pos < p->len) {
    char c = p->in[p->pos];
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
    p->pos++;
  }
}

static long new_token(parser *p, cc_json_type type, size_t start) {
  if (p->max_tokens && p->n >= p->max_tokens) {
    if (p->err)
      connectc_error_set(p->err, CONNECTC_CODE_INVALID_ARGUMENT,
                         "JSON document has more than %zu values", p->max_tokens);
    return CONNECTC_ERR_LIMIT;
  }
  if (p->n == p->cap) {
    size_t ncap = p->cap ? p->cap * 2 : 16;
    if (ncap > SIZE_MAX / sizeof(cc_json_token)) return CONNECTC_ERR_NOMEM;
    cc_json_token *t = cc_realloc(p->alloc, p->toks, ncap * sizeof *t);
    if (!t) {
      if (p->err)
        connectc_error_set(p->err, CONNECTC_CODE_RESOURCE_EXHAUSTED, "out of memory parsing JSON");
      return CONNECTC_ERR_NOMEM;
    }
    p->toks = t;
    p->cap = ncap;
  }
  cc_json_token *t = &p->toks[p->n];
  memset(t, 0, sizeof *t);
  t->type = (uint8_t)type;
  t->start = (uint32_t)start;
  t->end = (uint32_t)start;
  t->next = (uint32_t)(p->n + 1);
  return (long)p->n++;
}

/* Parses a string at p->pos (the opening quote). */
static int parse_string(parser *p) {
  size_t start = p->pos + 1;
  long ti = new_token(p, CC_JSON_STRING, start);
  if (ti < 0) return (int)ti;
  int escaped = 0;
  size_t i = start;
  const uint8_t *s = (const uint8_t *)p->in;
  for (;;) {
    if (i >= p->len) {
      p->pos = i;
      return syntax(p, "a closing '\"'");
    }
    uint8_t c = s[i];
    if (c == '"') break;
    if (c < 0x20) {
      p->pos = i;
      return syntax(p, "control character in string (escape it)");
    }
    if (c == '\\') {
      escaped = 1;
      if (i + 1 >= p->len) {
        p->pos = i + 1;
        return syntax(p, "an escape sequence");
      }
      char e = p->in[i + 1];
      if (e == 'u') {
        uint32_t cp;
        if (i + 6 > p->len || !hex4(p->in + i + 2, &cp)) {
          p->pos = i;
          return syntax(p, "invalid \\u escape");
        }
        i += 6;
        if (cp >= 0xDC00 && cp <= 0xDFFF) {
          p->pos = i - 6;
          return syntax(p, "unpaired low surrogate escape");
        }
        if (cp >= 0xD800 && cp <= 0xDBFF) {
          uint32_t lo;
          if (i + 6 > p->len || p->in[i] != '\\' || p->in[i + 1] != 'u' ||
              !hex4(p->in + i + 2, &lo) || lo < 0xDC00 || lo > 0xDFFF) {
            p->pos = i - 6;
            return syntax(p, "unpaired high surrogate escape");
          }
          i += 6;
        }
        continue;
      }
      if (!strchr("\"\\/bfnrt", e) || e == 0) {
        p->pos = i;
        return syntax(p, "invalid escape sequence");
      }
      i += 2;
      continue;
    }
    size_t n = utf8_seq(s + i, p->len - i);
    if (n == 0) {
      p->pos = i;
      return syntax(p, "invalid UTF-8 in string");
    }
    i += n;
  }
  cc_json_token *t = &p->toks[ti];
  t->end = (uint32_t)i;
  t->escaped = (uint8_t)escaped;
  p->pos = i + 1;
  return CONNECTC_OK;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

static int parse_number(parser *p) {
  size_t i = p->pos;
  const char *s = p->in;
  if (s[i] == '-') i++;
  if (i >= p->len || !is_digit(s[i])) {
    p->pos = i;
    return syntax(p, "a digit");
  }
  if (s[i] == '0') {
    i++;
  } else {
    while (i < p->len && is_digit(s[i])) i++;
  }
  if (i < p->len && s[i] == '.') {
    i++;
    if (i >= p->len || !is_digit(s[i])) {
      p->pos = i;
      return syntax(p, "a digit after '.'");
    }
    while (i < p->len && is_digit(s[i])) i++;
  }
  if (i < p->len && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < p->len && (s[i] == '+' || s[i] == '-')) i++;
    if (i >= p->len || !is_digit(s[i])) {
      p->pos = i;
      return syntax(p, "a digit in the exponent");
    }
    while (i < p->len && is_digit(s[i])) i++;
  }
  long ti = new_token(p, CC_JSON_NUMBER, p->pos);
  if (ti < 0) return (int)ti;
  p->toks[ti].end = (uint32_t)i;
  p->pos = i;
  return CONNECTC_OK;
}

static int parse_literal(parser *p, const char *word, cc_json_type type) {
  size_t n = strlen(word);
  if (p->len - p->pos < n || memcmp(p->in + p->pos, word, n) != 0) return syntax(p, "a value");
  long ti = new_token(p, type, p->pos);
  if (ti < 0) return (int)ti;
  p->toks[ti].end = (uint32_t)(p->pos + n);
  p->pos += n;
  return CONNECTC_OK;
}

int cc_json_parse(const char *in, size_t len, const cc_json_limits *limits,
                  const connectc_allocator *alloc, cc_json_doc *doc, connectc_error *err) {
  memset(doc, 0, sizeof *doc);
  const connectc_allocator *a = cc_alloc_or_default(alloc);
  uint32_t max_depth = limits && limits->max_depth ? limits->max_depth : 64;
  if (len >= UINT32_MAX) {
    if (err)
      connectc_error_set(err, CONNECTC_CODE_RESOURCE_EXHAUSTED, "JSON document of %zu bytes is too large",
                         len);
    return CONNECTC_ERR_LIMIT;
  }
  parser p = {in ? in : "", len, 0, a, NULL, 0, 0, limits ? limits->max_tokens : 0, err};
  /* The stack of open containers: token indices. Small documents use the
   * C stack; deeper ones one allocation of max_depth entries at most. */
  uint32_t small[32];
  uint32_t *stack = small;
  uint32_t depth = 0, stack_cap = 32;
  int rv = CONNECTC_OK;
  enum { VALUE, KEY, AFTER } state = VALUE;
  skip_ws(&p);
  for (;;) {
    if (state == KEY) {
      if (p.pos >= p.len || p.in[p.pos] != '"') {
        rv = syntax(&p, "a string key");
        break;
      }
      rv = parse_string(&p);
      if (rv) break;
      skip_ws(&p);
      if (p.pos >= p.len || p.in[p.pos] != ':') {
        rv = syntax(&p, "':' after the key");
        break;
      }
      p.pos++;
      skip_ws(&p);
      state = VALUE;
      continue;
    }
    if (state == VALUE) {
      if (p.pos >= p.len) {
        rv = syntax(&p, "a value");
        break;
      }
      char c = p.in[p.pos];
      if (c == '{' || c == '[') {
        if (depth + 1 > max_depth) {
          if (err)
            connectc_error_set(err, CONNECTC_CODE_INVALID_ARGUMENT,
                               "JSON nesting exceeds the maximum depth of %u", (unsigned)max_depth);
          rv = CONNECTC_ERR_LIMIT;
          break;
        }
        long ti = new_token(&p, c == '{' ? CC_JSON_OBJECT : CC_JSON_ARRAY, p.pos);
        if (ti < 0) {
          rv = (int)ti;
          break;
        }
        if (depth == stack_cap) {
          uint32_t ncap = stack_cap * 2 > max_depth ? max_depth : stack_cap * 2;
          uint32_t *ns = cc_malloc(a, ncap * sizeof *ns);
          if (!ns) {
            rv = CONNECTC_ERR_NOMEM;
            break;
          }
          memcpy(ns, stack, depth * sizeof *ns);
          if (stack != small) cc_free(a, stack);
          stack = ns;
          stack_cap = ncap;
        }
        stack[depth++] = (uint32_t)ti;
        p.pos++;
        skip_ws(&p);
        char close = c == '{' ? '}' : ']';
        if (p.pos < p.len && p.in[p.pos] == close) {
          p.toks[ti].end = (uint32_t)(p.pos + 1);
          p.toks[ti].next = (uint32_t)p.n;
          depth--;
          p.pos++;
          state = AFTER;
        } else {
          state = c == '{' ? KEY : VALUE;
        }
        continue;
      }
      if (c == '"') rv = parse_string(&p);
      else if (c == '-' || is_digit(c)) rv = parse_number(&p);
      else if (c == 't') rv = parse_literal(&p, "true", CC_JSON_TRUE);
      else if (c == 'f') rv = parse_literal(&p, "false", CC_JSON_FALSE);
      else if (c == 'n') rv = parse_literal(&p, "null", CC_JSON_NULL);
      else rv = syntax(&p, "a value");
      if (rv) break;
      state = AFTER;
      continue;
    }
    /* AFTER: a value just ended. */
    if (depth == 0) {
      skip_ws(&p);
      if (p.pos != p.len) rv = syntax(&p, "end of input after the top-level value");
      break;
    }
    cc_json_token *top = &p.toks[stack[depth - 1]];
    top->size++;
    skip_ws(&p);
    char close = top->type == CC_JSON_OBJECT ? '}' : ']';
    if (p.pos < p.len && p.in[p.pos] == ',') {
      p.pos++;
      skip_ws(&p);
      state = top->type == CC_JSON_OBJECT ? KEY : VALUE;
    } else if (p.pos < p.len && p.in[p.pos] == close) {
      top->end = (uint32_t)(p.pos + 1);
      top->next = (uint32_t)p.n;
      depth--;
      p.pos++;
      state = AFTER;
    } else {
      rv = syntax(&p, top->type == CC_JSON_OBJECT ? "',' or '}'" : "',' or ']'");
      break;
    }
  }
  if (stack != small) cc_free(a, stack);
  if (rv) {
    if (rv == CONNECTC_ERR_NOMEM && err && err->code == CONNECTC_CODE_OK)
      connectc_error_set(err, CONNECTC_CODE_RESOURCE_EXHAUSTED, "out of memory parsing JSON");
    cc_free(a, p.toks);
    return rv;
  }
  doc->input = p.in;
  doc->input_len = len;
  doc->tokens = p.toks;
  doc->n_tokens = p.n;
  return CONNECTC_OK;
}

void cc_json_doc_free(cc_json_doc *doc, const connectc_allocator *alloc) {
  cc_free(cc_alloc_or_default(alloc), doc->tokens);
  doc->tokens = NULL;
  doc->n_tokens = 0;
}

/* ---- reading strings ---- */

/* Decodes one character of a validated string body at s[*i] into out
 * (1..4 bytes); returns the byte count. */
static size_t next_char(const char *s, size_t *i, uint8_t out[4]) {
  if (s[*i] != '\\') {
    out[0] = (uint8_t)s[(*i)++];
    return 1;
  }
  char e = s[*i + 1];
  *i += 2;
  switch (e) {
    case 'b': out[0] = '\b'; return 1;
    case 'f': out[0] = '\f'; return 1;
    case 'n': out[0] = '\n'; return 1;
    case 'r': out[0] = '\r'; return 1;
    case 't': out[0] = '\t'; return 1;
    case 'u': break;
    default: out[0] = (uint8_t)e; return 1;
  }
  uint32_t cp, lo;
  hex4(s + *i, &cp);
  *i += 4;
  if (cp >= 0xD800 && cp <= 0xDBFF) {
    hex4(s + *i + 2, &lo);
    *i += 6;
    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
  }
  if (cp < 0x80) {
    out[0] = (uint8_t)cp;
    return 1;
  }
  if (cp < 0x800) {
    out[0] = (uint8_t)(0xC0 | (cp >> 6));
    out[1] = (uint8_t)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    out[0] = (uint8_t)(0xE0 | (cp >> 12));
    out[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
    out[2] = (uint8_t)(0x80 | (cp & 0x3F));
    return 3;
  }
  out[0] = (uint8_t)(0xF0 | (cp >> 18));
  out[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3F));
  out[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3F));
  out[3] = (uint8_t)(0x80 | (cp & 0x3F));
  return 4;
}

int cc_json_string_append(const cc_json_doc *doc, size_t tok, cc_buf *out,
                          const connectc_allocator *alloc) {
  const cc_json_token *t = &doc->tokens[tok];
  const char *s = doc->input;
  if (!t->escaped) return cc_buf_append(out, alloc, s + t->start, t->end - t->start);
  int rv = cc_buf_reserve(out, alloc, t->end - t->start);
  if (rv) return rv;
  size_t i = t->start;
  while (i < t->end) {
    uint8_t ch[4];
    size_t n = next_char(s, &i, ch);
    rv = cc_buf_append(out, alloc, ch, n);
    if (rv) return rv;
  }
  return CONNECTC_OK;
}

int cc_json_string_eq(const cc_json_doc *doc, size_t tok, const char *key, size_t key_len) {
  const cc_json_token *t = &doc->tokens[tok];
  if (t->type != CC_JSON_STRING) return 0;
  const char *s = doc->input;
  if (!t->escaped)
    return t->end - t->start == key_len && memcmp(s + t->start, key, key_len) == 0;
  size_t i = t->start, k = 0;
  while (i < t->end) {
    uint8_t ch[4];
    size_t n = next_char(s, &i, ch);
    if (k + n > key_len || memcmp(key + k, ch, n) != 0) return 0;
    k += n;
  }
  return k == key_len;
}

long cc_json_object_get(const cc_json_doc *doc, size_t obj, const char *key) {
  const cc_json_token *o = &doc->tokens[obj];
  if (o->type != CC_JSON_OBJECT) return -1;
  size_t klen = strlen(key);
  size_t i = obj + 1;
  for (uint32_t m = 0; m < o->size; m++) {
    if (cc_json_string_eq(doc, i, key, klen)) return (long)(i + 1);
    i = doc->tokens[i + 1].next;
  }
  return -1;
}

/* ---- numbers ---- */

/* Converts validated JSON number text to an exact integer magnitude.
 * Returns 0 if not integral or above UINT64_MAX. */
static int number_to_u64(const char *s, size_t len, uint64_t *mag, int *neg) {
  size_t i = 0;
  *neg = 0;
  if (i < len && s[i] == '-') {
    *neg = 1;
    i++;
  }
  const char *digits = s + i;
  size_t int_len = 0;
  while (i < len && is_digit(s[i])) {
    i++;
    int_len++;
  }
  const char *frac = NULL;
  size_t frac_len = 0;
  if (i < len && s[i] == '.') {
    i++;
    frac = s + i;
    while (i < len && is_digit(s[i])) {
      i++;
      frac_len++;
    }
  }
  long exp = 0;
  if (i < len && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    int eneg = 0;
    if (s[i] == '+' || s[i] == '-') eneg = s[i++] == '-';
    while (i < len && is_digit(s[i])) {
      if (exp < 100000) exp = exp * 10 + (s[i] - '0');
      i++;
    }
    if (eneg) exp = -exp;
  }
  if (i != len) return 0;
  /* The value is digits(int ++ frac) * 10^(exp - frac_len). Skip leading
   * zeros, then build the integer while checking that any dropped digits
   * are zero. */
  uint64_t v = 0;
  long shift = exp - (long)frac_len; /* power of ten applied to all digits */
  size_t total = int_len + frac_len;
  for (size_t k = 0; k < total; k++) {
    char c = k < int_len ? digits[k] : frac[k - int_len];
    long remaining = (long)(total - k - 1); /* digits after this one */
    if (remaining + shift < 0) {
      /* This digit lands below the decimal point. */
      if (c != '0') return 0;
      continue;
    }
    unsigned d = (unsigned)(c - '0');
    if (v > (UINT64_MAX - d) / 10) return 0;
    v = v * 10 + d;
  }
  if (shift > 0 && v != 0) {
    for (long k = 0; k < shift; k++) {
      if (v > UINT64_MAX / 10) return 0;
      v *= 10;
    }
  }
  *mag = v;
  return 1;
}

static int number_text_valid(const char *s, size_t len) {
  size_t i = 0;
  if (i < len && s[i] == '-') i++;
  if (i >= len || !is_digit(s[i])) return 0;
  if (s[i] == '0') i++;
  else
    while (i < len && is_digit(s[i])) i++;
  if (i < len && s[i] == '.') {
    i++;
    if (i >= len || !is_digit(s[i])) return 0;
    while (i < len && is_digit(s[i])) i++;
  }
  if (i < len && (s[i] == 'e' || s[i] == 'E')) {
    i++;
    if (i < len && (s[i] == '+' || s[i] == '-')) i++;
    if (i >= len || !is_digit(s[i])) return 0;
    while (i < len && is_digit(s[i])) i++;
  }
  return i == len;
}

int cc_json_text_u64(const char *s, size_t len, uint64_t *out) {
  uint64_t v;
  int neg;
  if (!number_text_valid(s, len) || !number_to_u64(s, len, &v, &neg)) return CONNECTC_ERR_PROTOCOL;
  if (neg && v != 0) return CONNECTC_ERR_PROTOCOL;
  *out = v;
  return CONNECTC_OK;
}

int cc_json_text_i64(const char *s, size_t len, int64_t *out) {
  uint64_t v;
  int neg;
  if (!number_text_valid(s, len) || !number_to_u64(s, len, &v, &neg)) return CONNECTC_ERR_PROTOCOL;
  if (neg) {
    if (v > (uint64_t)INT64_MAX + 1) return CONNECTC_ERR_PROTOCOL;
    *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
  } else {
    if (v > (uint64_t)INT64_MAX) return CONNECTC_ERR_PROTOCOL;
    *out = (int64_t)v;
  }
  return CONNECTC_OK;
}

int cc_json_text_double(const char *s, size_t len, double *out) {
  if (!number_text_valid(s, len)) return CONNECTC_ERR_PROTOCOL;
  /* Longer number texts are refused rather than allocated for: no double
   * needs more than 17 significant digits, and 767 digits cover every
   * exactly-written subnormal. */
  char buf[800];
  if (len >= sizeof buf) return CONNECTC_ERR_PROTOCOL;
  memcpy(buf, s, len);
  buf[len] = 0;
  /* strtod reads the process locale's decimal point; JSON's is always '.'.
   * The text is pre-validated, so substituting the locale's point (the
   * usual case being '.' already) makes the conversion locale-proof. */
  const char *dp = localeconv()->decimal_point;
  if (dp && dp[0] && dp[0] != '.' && !dp[1]) {
    char *dot = strchr(buf, '.');
    if (dot) *dot = dp[0];
  }
  char *end = NULL;
  double d = strtod(buf, &end);
  if (end != buf + len) return CONNECTC_ERR_PROTOCOL;
  *out = d; /* out-of-range text gives +-HUGE_VAL or 0; callers check */
  return CONNECTC_OK;
}

static int number_of(const cc_json_doc *doc, size_t tok, const char **s, size_t *len) {
  const cc_json_token *t = &doc->tokens[tok];
  if (t->type != CC_JSON_NUMBER) return 0;
  *s = doc->input + t->start;
  *len = t->end - t->start;
  return 1;
}

int cc_json_number_i64(const cc_json_doc *doc, size_t tok, int64_t *out) {
  const char *s;
  size_t len;
  if (!number_of(doc, tok, &s, &len)) return CONNECTC_ERR_PROTOCOL;
  return cc_json_text_i64(s, len, out);
}

int cc_json_number_u64(const cc_json_doc *doc, size_t tok, uint64_t *out) {
  const char *s;
  size_t len;
  if (!number_of(doc, tok, &s, &len)) return CONNECTC_ERR_PROTOCOL;
  return cc_json_text_u64(s, len, out);
}

int cc_json_number_double(const cc_json_doc *doc, size_t tok, double *out) {
  const char *s;
  size_t len;
  if (!number_of(doc, tok, &s, &len)) return CONNECTC_ERR_PROTOCOL;
  return cc_json_text_double(s, len, out);
}

/* ---- writing ---- */

int cc_json_write_string(cc_buf *out, const connectc_allocator *alloc, const char *str,
                         size_t len) {
  static const char hex[] = "0123456789abcdef";
  const uint8_t *s = (const uint8_t *)str;
  int rv = cc_buf_reserve(out, alloc, len + 2);
  if (rv) return rv;
  rv = cc_buf_append_byte(out, alloc, '"');
  size_t i = 0;
  while (rv == CONNECTC_OK && i < len) {
    uint8_t c = s[i];
    if (c == '"' || c == '\\') {
      char e[2] = {'\\', (char)c};
      rv = cc_buf_append(out, alloc, e, 2);
      i++;
    } else if (c < 0x20) {
      const char *short_form = c == '\b' ? "\\b" : c == '\f' ? "\\f" : c == '\n' ? "\\n"
                             : c == '\r' ? "\\r" : c == '\t' ? "\\t" : NULL;
      if (short_form) {
        rv = cc_buf_append(out, alloc, short_form, 2);
      } else {
        char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
        rv = cc_buf_append(out, alloc, e, 6);
      }
      i++;
    } else if (c < 0x80) {
      rv = cc_buf_append_byte(out, alloc, c);
      i++;
    } else {
      size_t n = utf8_seq(s + i, len - i);
      if (n == 0) {
        rv = cc_buf_append(out, alloc, "\xEF\xBF\xBD", 3); /* U+FFFD */
        i++;
      } else {
        rv = cc_buf_append(out, alloc, s + i, n);
        i += n;
      }
    }
  }
  if (rv == CONNECTC_OK) rv = cc_buf_append_byte(out, alloc, '"');
  return rv;
}
