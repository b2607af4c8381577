/*
 * Internal: the JSON forms of Connect errors.
 *
 * Error JSON (unary error bodies, and the "error" member of end-of-stream):
 *   {"code":"invalid_argument","message":"...","details":[
 *     {"type":"google.rpc.RetryInfo","value":"<base64>"}]}
 * End-of-stream JSON (the last envelope of a streaming response, flag 0x02):
 *   {"error":{...},"metadata":{"key":["v1","v2"]}}
 */
#ifndef CONNECTC_CORE_WIRE_ERROR_H
#define CONNECTC_CORE_WIRE_ERROR_H

#include "buf.h"
#include "connectc/common.h"

/* Appends the error JSON of `e` (e->code must not be OK). Detail values
 * are written in standard base64 without padding (as connect-go). The
 * message member is omitted when NULL or empty. */
int cc_error_json_write(cc_buf *out, const connectc_allocator *alloc, const connectc_error *e);

/*
 * Parses an error JSON body into `out` (initialised by the caller; its
 * previous contents replaced). Detail values are decoded from standard or
 * URL-safe base64, padded or not. Unknown members are ignored. Returns
 * CONNECTC_OK, or CONNECTC_ERR_PROTOCOL when the bytes are not a Connect
 * error (not JSON, not an object, "code" missing or not a known code name,
 * wrong member types): callers then fall back to the HTTP status mapping.
 * Depth bounded; never allocates more than a small multiple of len.
 */
int cc_error_json_parse(const char *in, size_t len, connectc_error *out);

/* Appends the end-of-stream JSON. `e` may be NULL or have code OK (no
 * "error" member); `metadata` may be NULL or empty (no "metadata" member);
 * the result for neither is "{}". */
int cc_end_stream_write(cc_buf *out, const connectc_allocator *alloc, const connectc_error *e,
                        const connectc_headers *metadata);

/*
 * Parses an end-of-stream message. On success `err` holds the error (code
 * OK if there was none) and `metadata` (initialised by the caller) gains the
 * trailers. Malformed end-of-stream JSON returns CONNECTC_ERR_PROTOCOL and
 * sets `err` to an internal... (see wire_error.c for the exact code and
 * message, which follow connect-go). Metadata values must be arrays of
 * strings; names must be valid header names.
 */
int cc_end_stream_parse(const char *in, size_t len, connectc_error *err,
                        connectc_headers *metadata);

#endif
