/*
 * Internal: parsing and formatting of the Connect protocol's HTTP-level
 * pieces: content types, Connect-Protocol-Version, Connect-Timeout-Ms,
 * compression negotiation headers, reserved header names and the Connect
 * GET query string. Pure functions over bytes; no allocation unless an
 * output buffer is passed.
 */
#ifndef CONNECTC_CORE_PROTOCOL_H
#define CONNECTC_CORE_PROTOCOL_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "connectc/call.h"
#include "connectc/common.h"
#include "connectc/compress.h"

/* ---- content types ---- */

typedef struct cc_content_type {
  connectc_protocol protocol;
  int streaming;         /* enveloped messages: connect+, and every gRPC(-Web) type */
  int bare;              /* gRPC(-Web) type without "+<codec>": the codec is proto */
  const char *codec;     /* points into the parsed input (or static "proto" when
                            bare); not NUL-terminated */
  size_t codec_len;      /* e.g. "proto", "json" */
} cc_content_type;

/*
 * Parses a Content-Type value of any of the three protocols:
 * "application/<codec>" (Connect unary), "application/connect+<codec>"
 * (Connect streaming), "application/grpc[+<codec>]" (gRPC) and
 * "application/grpc-web[+<codec>]" (gRPC-Web; the bare forms mean proto).
 * Type and subtype are matched case-insensitively; parameters after ';'
 * are refused except charset=utf-8 for json. Returns CONNECTC_OK or
 * CONNECTC_ERR_PROTOCOL (not a content type of these protocols).
 */
int cc_content_type_parse(const char *value, size_t len, cc_content_type *out);
/* Appends the content type of `protocol` for `codec`: Connect unary or
 * streaming (`streaming`), "application/grpc[-web]+<codec>", or the bare
 * gRPC(-Web) form when `bare` and the codec is proto. */
int cc_content_type_format(cc_buf *out, const connectc_allocator *alloc,
                           connectc_protocol protocol, int streaming, int bare,
                           const char *codec);

/* ---- Connect-Timeout-Ms ---- */

/* Parses a Connect-Timeout-Ms value: 1 to 10 ASCII digits, nothing else.
 * Returns CONNECTC_OK or CONNECTC_ERR_PROTOCOL. */
int cc_timeout_parse(const char *value, size_t len, int64_t *ms_out);
/* Formats ms (clamped to 9999999999) into buf (>= 11 bytes), NUL-terminated;
 * returns the length. */
size_t cc_timeout_format(int64_t ms, char buf[11]);

/* ---- compression negotiation ---- */

/* Parses a comma-separated Accept-Encoding / Connect-Accept-Encoding list,
 * ignoring whitespace, q-values and names this build does not support.
 * Sets bit (1 << connectc_compression) in *mask for each supported name
 * found (identity included). Never fails: garbage is ignored. */
void cc_accept_encoding_parse(const char *value, size_t len, unsigned *mask);
/* Picks the compression for a response: `preferred` if the peer accepts it,
 * else identity. */
connectc_compression cc_negotiate_compression(unsigned peer_accept_mask,
                                              connectc_compression preferred);

/* ---- headers ---- */

/* 1 if an application may not set this header name itself because the
 * protocol owns it (content-type, content-length, content-encoding,
 * accept-encoding, connect-protocol-version, connect-timeout-ms,
 * connect-content-encoding, connect-accept-encoding, te, transfer-encoding,
 * host, connection, ... see protocol.c), case-insensitive. */
int cc_header_is_reserved(const char *name, size_t len);
/* 1 if `name` ends with "-bin" (case-insensitive). */
int cc_header_is_binary(const char *name, size_t len);

/* ---- Connect GET ---- */

typedef struct cc_get_query {
  /* Each points into the decoded query (owned by the caller's cc_buf
   * passed to cc_get_query_parse), NUL-terminated; NULL when absent. */
  const char *connect;     /* must be "v1" */
  const char *encoding;    /* codec name, required */
  const char *compression; /* optional */
  int base64;              /* 1 when base64=1 */
  const uint8_t *message;  /* decoded message bytes (after base64 if base64=1) */
  size_t message_len;
} cc_get_query;

/*
 * Parses the query string of a Connect GET request (without the leading
 * '?'): percent-decoding, '+' as space, parameters connect, encoding,
 * message, base64, compression; unknown parameters ignored. `scratch` holds
 * the decoded data and must outlive *out. When base64=1 the message is
 * URL-safe base64 (padded or not; standard alphabet also accepted).
 * Returns CONNECTC_OK, or CONNECTC_ERR_PROTOCOL with err =
 * invalid_argument (missing encoding / message, bad percent-escape, bad
 * base64, connect != v1, duplicate parameters). `err` may be NULL.
 */
int cc_get_query_parse(const char *query, size_t len, cc_buf *scratch,
                       const connectc_allocator *alloc, cc_get_query *out,
                       connectc_error *err);
/*
 * Appends a GET query (no leading '?') carrying `message` with codec
 * `encoding`: connect=v1&encoding=..&[compression=..&]message=.. ; proto
 * (binary) messages and compressed messages are sent as unpadded URL-safe
 * base64 with base64=1; JSON messages are percent-encoded as text.
 */
int cc_get_query_format(cc_buf *out, const connectc_allocator *alloc, const char *encoding,
                        connectc_compression compression, const uint8_t *message,
                        size_t message_len);

#endif
