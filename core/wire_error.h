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
 * URL-safe base64, padded or not; a detail type given as a type URL keeps
 * only the name after its last '/'. Unknown members (e.g. "debug") are
 * ignored. A missing or unknown "code" leaves out->code at
 * CONNECTC_CODE_OK and keeps the message and details, as connect-go does:
 * the caller picks the code (from the HTTP status). Returns CONNECTC_OK,
 * or CONNECTC_ERR_PROTOCOL when the bytes are not an error object at all
 * (not JSON, not an object, members of the wrong JSON type, bad base64).
 * Depth is bounded (16).
 */
int cc_error_json_parse(const char *in, size_t len, connectc_error *out);

/* Appends the end-of-stream JSON. `e` may be NULL or have code OK (no
 * "error" member); `metadata` may be NULL or empty (no "metadata" member);
 * the result for neither is "{}". */
int cc_end_stream_write(cc_buf *out, const connectc_allocator *alloc, const connectc_error *e,
                        const connectc_headers *metadata);

/*
 * Parses an end-of-stream message. On success `err` holds the error (code
 * OK if there was none; an "error" object without a known code gives
 * `unknown`) and `metadata` (initialised by the caller) gains the
 * trailers. Malformed end-of-stream JSON returns CONNECTC_ERR_PROTOCOL
 * with `err` set to internal "unmarshal end stream message: <problem>"
 * (connect-go's wording). Metadata values must be arrays of strings and
 * names valid header names.
 */
int cc_end_stream_parse(const char *in, size_t len, connectc_error *err,
                        connectc_headers *metadata);

#endif
