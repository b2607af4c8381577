/* The JSON forms of Connect errors: unary error bodies and the
 * end-of-stream message. Behaviour follows connect-go's wire types. */
#include "wire_error.h"

#include <string.h>

#include "base64.h"
#include "json.h"

#define TYPE_URL_PREFIX "type.googleapis.com/"

static const cc_json_limits error_limits = {.max_depth = 16};

/* ---- writing ---- */

int cc_error_json_write(cc_buf *out, const connectc_allocator *a, const connectc_error *e) {
  const char *name = connectc_code_name(e->code);
  if (!name || e->code == CONNECTC_CODE_OK) name = "unknown";
  int rv = cc_buf_append_str(out, a, "{\"code\":\"");
  if (rv == CONNECTC_OK) rv = cc_buf_append_str(out, a, name);
  if (rv == CONNECTC_OK) rv = cc_buf_append_byte(out, a, '"');
  if (rv == CONNECTC_OK && e->message && e->message[0]) {
    rv = cc_buf_append_str(out, a, ",\"message\":");
    if (rv == CONNECTC_OK) rv = cc_json_write_string(out, a, e->message, strlen(e->message));
  }
  if (rv == CONNECTC_OK && e->n_details) {
    rv = cc_buf_append_str(out, a, ",\"details\":[");
    for (size_t i = 0; rv == CONNECTC_OK && i < e->n_details; i++) {
      const connectc_error_detail *d = &e->details[i];
      if (i) rv = cc_buf_append_byte(out, a, ',');
      if (rv == CONNECTC_OK) rv = cc_buf_append_str(out, a, "{\"type\":");
      if (rv == CONNECTC_OK) rv = cc_json_write_string(out, a, d->type, strlen(d->type));
      if (rv == CONNECTC_OK) rv = cc_buf_append_str(out, a, ",\"value\":\"");
      if (rv == CONNECTC_OK) rv = cc_b64_encode(out, a, d->value, d->value_len, CC_B64_STD, 0);
      if (rv == CONNECTC_OK) rv = cc_buf_append_str(out, a, "\"}");
    }
    if (rv == CONNECTC_OK) rv = cc_buf_append_byte(out, a, ']');
  }
  if (rv == CONNECTC_OK) rv = cc_buf_append_byte(out, a, '}');
  return rv;
}

int cc_end_stream_write(cc_buf *out, const connectc_allocator *a, const connectc_error *e,
                        const connectc_headers *md) {
  int rv = cc_buf_append_byte(out, a, '{');
  int any = 0;
  if (rv == CONNECTC_OK && e && e->code != CONNECTC_CODE_OK) {
    rv = cc_buf_append_str(out, a, "\"error\":");
    if (rv == CONNECTC_OK) rv = cc_error_json_write(out, a, e);
    any = 1;
  }
  if (rv == CONNECTC_OK && md && md->len) {
    rv = cc_buf_append_str(out, a, any ? ",\"metadata\":{" : "\"metadata\":{");
    /* Group repeated names into one array, in first-appearance order. */
    int first = 1;
    for (size_t i = 0; rv == CONNECTC_OK && i < md->len; i++) {
      const connectc_header *h = &md->items[i];
      int seen = 0;
      for (size_t j = 0; j < i && !seen; j++)
        seen = md->items[j].name_len == h->name_len && memcmp(md->items[j].name, h->name, h->name_len) == 0;
      if (seen) continue;
      if (!first) rv = cc_buf_append_byte(out, a, ',');
      first = 0;
      if (rv == CONNECTC_OK) rv = cc_json_write_string(out, a, h->name, h->name_len);
      if (rv == CONNECTC_OK) rv = cc_buf_append_str(out, a, ":[");
      int vfirst = 1;
      for (size_t j = i; rv == CONNECTC_OK && j < md->len; j++) {
        const connectc_header *v = &md->items[j];
        if (v->name_len != h->name_len || memcmp(v->name, h->name, h->name_len) != 0) continue;
        if (!vfirst) rv = cc_buf_append_byte(out, a, ',');
        vfirst = 0;
        if (rv == CONNECTC_OK) rv = cc_json_write_string(out, a, v->value, v->value_len);
      }
      if (rv == CONNECTC_OK) rv = cc_buf_append_byte(out, a, ']');
    }
    if (rv == CONNECTC_OK) rv = cc_buf_append_byte(out, a, '}');
  }
  if (rv == CONNECTC_OK) rv = cc_buf_append_byte(out, a, '}');
  return rv;
}

/* ---- parsing ---- */

/* Reads the error object at token `obj` into `out`. Returns CONNECTC_OK or
 * CONNECTC_ERR_PROTOCOL with `why` naming the problem. A missing or
 * unknown code leaves out->code at CONNECTC_CODE_OK (connect-go keeps the
 * rest of the error and lets the caller pick the code). */
static int read_error_object(const cc_json_doc *doc, size_t obj, connectc_error *out,
                             const char **why) {
  const connectc_allocator *a = &out->alloc;
  const cc_json_token *o = &doc->tokens[obj];
  if (o->type != CC_JSON_OBJECT) {
    *why = "the error is not a JSON object";
    return CONNECTC_ERR_PROTOCOL;
  }
  connectc_error_reset(out);
  cc_buf tmp = CC_BUF_INIT;
  int rv = CONNECTC_OK;
  long t = cc_json_object_get(doc, obj, "code");
  if (t >= 0 && doc->tokens[t].type == CC_JSON_STRING) {
    rv = cc_json_string_append(doc, (size_t)t, &tmp, a);
    connectc_code code;
    if (rv == CONNECTC_OK && tmp.len && connectc_code_from_name((const char *)tmp.data, tmp.len, &code))
      out->code = code;
  } else if (t >= 0 && doc->tokens[t].type != CC_JSON_NULL) {
    *why = "\"code\" is not a string";
    rv = CONNECTC_ERR_PROTOCOL;
  }
  t = cc_json_object_get(doc, obj, "message");
  if (rv == CONNECTC_OK && t >= 0 && doc->tokens[t].type == CC_JSON_STRING) {
    cc_buf_clear(&tmp);
    rv = cc_json_string_append(doc, (size_t)t, &tmp, a);
    if (rv == CONNECTC_OK) {
      connectc_code keep = out->code;
      rv = connectc_error_set_message(out, keep, tmp.data ? (const char *)tmp.data : "", tmp.len);
    }
  } else if (rv == CONNECTC_OK && t >= 0 && doc->tokens[t].type != CC_JSON_NULL) {
    *why = "\"message\" is not a string";
    rv = CONNECTC_ERR_PROTOCOL;
  }
  t = cc_json_object_get(doc, obj, "details");
  if (rv == CONNECTC_OK && t >= 0 && doc->tokens[t].type == CC_JSON_ARRAY) {
    size_t i = (size_t)t + 1;
    for (uint32_t k = 0; rv == CONNECTC_OK && k < doc->tokens[t].size; k++) {
      size_t d = i;
      i = doc->tokens[d].next;
      if (doc->tokens[d].type != CC_JSON_OBJECT) {
        *why = "a detail is not a JSON object";
        rv = CONNECTC_ERR_PROTOCOL;
        break;
      }
      long ty = cc_json_object_get(doc, d, "type");
      long va = cc_json_object_get(doc, d, "value");
      if ((ty >= 0 && doc->tokens[ty].type != CC_JSON_STRING) ||
          (va >= 0 && doc->tokens[va].type != CC_JSON_STRING)) {
        *why = "a detail's type or value is not a string";
        rv = CONNECTC_ERR_PROTOCOL;
        break;
      }
      cc_buf type = CC_BUF_INIT, b64 = CC_BUF_INIT, value = CC_BUF_INIT;
      if (ty >= 0) rv = cc_json_string_append(doc, (size_t)ty, &type, a);
      if (rv == CONNECTC_OK && va >= 0) rv = cc_json_string_append(doc, (size_t)va, &b64, a);
      if (rv == CONNECTC_OK &&
          cc_b64_decode(&value, a, b64.data ? (const char *)b64.data : "", b64.len,
                        CC_B64_ACCEPT_STD | CC_B64_ACCEPT_URL) != CONNECTC_OK) {
        *why = "a detail's value is not base64";
        rv = CONNECTC_ERR_PROTOCOL;
      }
      if (rv == CONNECTC_OK) rv = cc_buf_append_byte(&type, a, 0);
      if (rv == CONNECTC_OK) {
        /* A type URL keeps only the name after its last '/'. */
        const char *name = (const char *)type.data;
        const char *slash = strrchr(name, '/');
        if (slash) name = slash + 1;
        rv = connectc_error_add_detail(out, name, value.data, value.len);
      }
      cc_buf_free(&type, a);
      cc_buf_free(&b64, a);
      cc_buf_free(&value, a);
    }
  } else if (rv == CONNECTC_OK && t >= 0 && doc->tokens[t].type != CC_JSON_NULL) {
    *why = "\"details\" is not an array";
    rv = CONNECTC_ERR_PROTOCOL;
  }
  cc_buf_free(&tmp, a);
  return rv;
}

int cc_error_json_parse(const char *in, size_t len, connectc_error *out) {
  cc_json_doc doc;
  if (cc_json_parse(in, len, &error_limits, &out->alloc, &doc, NULL) != CONNECTC_OK) {
    connectc_error_reset(out);
    return CONNECTC_ERR_PROTOCOL;
  }
  const char *why = NULL;
  int rv = read_error_object(&doc, 0, out, &why);
  cc_json_doc_free(&doc, &out->alloc);
  if (rv) connectc_error_reset(out);
  return rv == CONNECTC_ERR_NOMEM ? rv : rv ? CONNECTC_ERR_PROTOCOL : CONNECTC_OK;
}

static int end_stream_fail(connectc_error *err, const char *why) {
  connectc_error_reset(err);
  connectc_error_set(err, CONNECTC_CODE_INTERNAL, "unmarshal end stream message: %s", why);
  return CONNECTC_ERR_PROTOCOL;
}

int cc_end_stream_parse(const char *in, size_t len, connectc_error *err,
                        connectc_headers *metadata) {
  cc_json_doc doc;
  connectc_error perr;
  connectc_error_init(&perr, &err->alloc);
  if (cc_json_parse(in, len, &error_limits, &err->alloc, &doc, &perr) != CONNECTC_OK) {
    int rv = end_stream_fail(err, perr.message ? perr.message : "invalid JSON");
    connectc_error_reset(&perr);
    return rv;
  }
  connectc_error_reset(&perr);
  const char *why = NULL;
  int rv = CONNECTC_OK;
  if (doc.tokens[0].type != CC_JSON_OBJECT) {
    why = "not a JSON object";
    rv = CONNECTC_ERR_PROTOCOL;
  }
  long t = rv ? -1 : cc_json_object_get(&doc, 0, "error");
  connectc_error_reset(err);
  if (t >= 0 && doc.tokens[t].type != CC_JSON_NULL) {
    rv = read_error_object(&doc, (size_t)t, err, &why);
    /* An error without a known code is still an error (connect-go). */
    if (rv == CONNECTC_OK && err->code == CONNECTC_CODE_OK) err->code = CONNECTC_CODE_UNKNOWN;
  }
  t = rv ? -1 : cc_json_object_get(&doc, 0, "metadata");
  if (t >= 0 && doc.tokens[t].type == CC_JSON_OBJECT) {
    cc_buf name = CC_BUF_INIT, val = CC_BUF_INIT;
    size_t i = (size_t)t + 1;
    for (uint32_t k = 0; rv == CONNECTC_OK && k < doc.tokens[t].size; k++) {
      size_t key = i, arr = i + 1;
      i = doc.tokens[arr].next;
      if (doc.tokens[arr].type != CC_JSON_ARRAY) {
        why = "metadata values must be arrays of strings";
        rv = CONNECTC_ERR_PROTOCOL;
        break;
      }
      cc_buf_clear(&name);
      rv = cc_json_string_append(&doc, key, &name, &err->alloc);
      size_t j = arr + 1;
      for (uint32_t m = 0; rv == CONNECTC_OK && m < doc.tokens[arr].size; m++) {
        if (doc.tokens[j].type != CC_JSON_STRING) {
          why = "metadata values must be arrays of strings";
          rv = CONNECTC_ERR_PROTOCOL;
          break;
        }
        cc_buf_clear(&val);
        rv = cc_json_string_append(&doc, j, &val, &err->alloc);
        if (rv == CONNECTC_OK) {
          rv = connectc_headers_add(metadata, name.data ? (const char *)name.data : "", name.len,
                                    val.data ? (const char *)val.data : "", val.len);
          if (rv == CONNECTC_ERR_ARGUMENT) {
            why = "invalid metadata name or value";
            rv = CONNECTC_ERR_PROTOCOL;
          }
        }
        j = doc.tokens[j].next;
      }
    }
    cc_buf_free(&name, &err->alloc);
    cc_buf_free(&val, &err->alloc);
  } else if (rv == CONNECTC_OK && t >= 0 && doc.tokens[t].type != CC_JSON_NULL) {
    why = "metadata is not a JSON object";
    rv = CONNECTC_ERR_PROTOCOL;
  }
  cc_json_doc_free(&doc, &err->alloc);
  if (rv == CONNECTC_ERR_NOMEM) return rv;
  if (rv) return end_stream_fail(err, why ? why : "invalid end-of-stream message");
  return CONNECTC_OK;
}
