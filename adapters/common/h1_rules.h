/*
 * h1_rules.h: the HTTP/1 request rules every connectc server shares
 * (connectc/http.h), applied by the adapters that read HTTP/1.1 heads
 * themselves: the core's check reads the head once and hands out its
 * fields, after h1.h's scanner found where it ends. Header only, so that
 * the object library of h1.c and chunked.c keeps no link to the core.
 * Internal to connectc's adapters; not installed.
 */
#ifndef CONNECTC_ADAPTERS_H1_RULES_H
#define CONNECTC_ADAPTERS_H1_RULES_H

#include <stdio.h>

#include "connectc/http.h"
#include "h1.h"

/*
 * Checks a complete request head of `len` bytes, as cc_h1_scan() measured
 * it, with connectc_http1_check_head_fields() within `lim` (fields: room
 * for its field limit), then parses the request target. Returns 0 with
 * *head, fields[0..head->n_fields), *keep_alive and *target filled
 * (pointing into buf), or -1 with *why set: answer it
 * (connectc_http1_write_refusal()) and close.
 */
static inline int cc_h1_check_rules(const char *buf, size_t len, const connectc_http1_limits *lim,
                                    connectc_http1_head *head, connectc_http1_field *fields,
                                    size_t max_fields, int *keep_alive,
                                    connectc_http_target *target, connectc_http_refusal *why) {
  int rv = connectc_http1_check_head_fields(buf, len, lim, head, fields, max_fields, keep_alive,
                                            why);
  if (rv != 1 || head->head_len != len) {
    if (rv >= 0 || rv == CONNECTC_ERR_ARGUMENT) {
      /* The two scanners disagree on where the head ends (or the caller
       * gave too few fields: a bug, answered the same way). */
      why->status = 400;
      why->code = CONNECTC_CODE_INVALID_ARGUMENT;
      snprintf(why->message, sizeof why->message, "malformed request head");
    }
    return -1;
  }
  return connectc_http_parse_target(head->target, head->target_len, target, why) == CONNECTC_OK
             ? 0
             : -1;
}

/* How the body of a request that passed cc_h1_check_rules() is framed:
 * chunked, Content-Length bytes (*length, else 0), or none. */
static inline cc_h1_body cc_h1_request_body(const connectc_http1_head *h, uint64_t *length) {
  *length = 0;
  if (h->chunked) return CC_H1_BODY_CHUNKED;
  if (!h->has_content_length || h->content_length == 0) return CC_H1_BODY_NONE;
  *length = h->content_length;
  return CC_H1_BODY_LENGTH;
}

/* Whether the client waits for 100 Continue: an HTTP/1.0 client's
 * expectation is ignored (RFC 9110 10.1.1). */
static inline int cc_h1_wants_continue(const connectc_http1_head *h) {
  return h->expect_continue && h->minor == 1;
}

#endif
