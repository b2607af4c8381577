/*
 * Internal: the pieces of the gRPC and gRPC-Web protocols that are not
 * shared with Connect: grpc-timeout, the percent-encoding of grpc-message,
 * google.rpc.Status (grpc-status-details-bin) on the wire, the status
 * carried in trailers, and gRPC-Web's trailer block. Pure functions over
 * bytes; they allocate only into the buffers and lists they are given.
 */
#ifndef CONNECTC_CORE_GRPC_H
#define CONNECTC_CORE_GRPC_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "connectc/common.h"

/* The flag of the envelope that carries gRPC-Web's trailers. */
#define CC_GRPC_WEB_FLAG_TRAILERS 0x80u

/* Longest grpc-timeout value: 8 digits and a unit, plus a NUL. */
#define CC_GRPC_TIMEOUT_MAX 10

/*
 * Parses a grpc-timeout value: 1 to 8 ASCII digits then one unit of
 * H (hours), M (minutes), S, m (milliseconds), u, n; nothing else. Sets
 * *ms_out to the duration in milliseconds, rounded down (a deadline never
 * grows by parsing). Returns CONNECTC_OK or CONNECTC_ERR_PROTOCOL.
 */
int cc_grpc_timeout_parse(const char *value, size_t len, int64_t *ms_out);
/* Formats ms (clamped to [0, 99999999 hours]) in the finest unit that fits
 * in 8 digits, rounding down: "200m", "100000S". buf holds
 * CC_GRPC_TIMEOUT_MAX bytes; returns the length. */
size_t cc_grpc_timeout_format(int64_t ms, char buf[CC_GRPC_TIMEOUT_MAX]);

/* Appends the grpc-message form of s[0..len): bytes below 0x20, above
 * 0x7E and '%' become %XX (upper-case hex). */
int cc_grpc_percent_encode(cc_buf *out, const connectc_allocator *a, const char *s, size_t len);
/* Appends the decoding of a grpc-message value (%XX, either case, else
 * literal) and a NUL (not counted in out->len). Returns CONNECTC_OK or
 * CONNECTC_ERR_PROTOCOL for a '%' not followed by two hex digits. */
int cc_grpc_percent_decode(cc_buf *out, const connectc_allocator *a, const char *s, size_t len);

/* Appends `e` as a serialized google.rpc.Status: code, message, and each
 * detail as an Any with type_url "type.googleapis.com/<type>". */
int cc_grpc_status_encode(cc_buf *out, const connectc_allocator *a, const connectc_error *e);
/*
 * Parses a serialized google.rpc.Status into `out` (initialised; its code,
 * message and details are replaced): the Any type URLs lose everything up
 * to their last '/'. Unknown fields are skipped. Returns CONNECTC_OK,
 * CONNECTC_ERR_PROTOCOL (not well-formed protobuf, or fields of the wrong
 * wire type) or CONNECTC_ERR_NOMEM.
 */
int cc_grpc_status_decode(const uint8_t *p, size_t len, connectc_error *out);

/*
 * The outcome the status trailers describe (grpc-status, grpc-message,
 * grpc-status-details-bin), into `err` (initialised). With no grpc-status
 * the call failed: `unknown` when other trailers arrived (have_trailers),
 * `internal` when none did. The details-bin Status, when present and valid,
 * overrides code and message and provides the details. Returns CONNECTC_OK
 * (err->code may be OK) or CONNECTC_ERR_NOMEM.
 */
int cc_grpc_status_from_trailers(const connectc_headers *t, int have_trailers,
                                 connectc_error *err);
/* Appends grpc-status, grpc-message (only for a failure with a message)
 * and grpc-status-details-bin (only with details; unpadded base64). */
int cc_grpc_status_to_trailers(connectc_headers *t, const connectc_error *e);
/* Removes the three status entries from a trailer list. */
void cc_grpc_status_strip(connectc_headers *t);

/*
 * Parses a gRPC-Web trailer block ("name: value" lines ending in CRLF; a
 * bare LF and a missing final line end are tolerated; names are
 * case-insensitive, values trimmed) into `out` (names lower-cased).
 * Returns CONNECTC_OK, or CONNECTC_ERR_PROTOCOL with err = internal
 * naming what is wrong (a line without ':', a name that is not a token, a
 * control character in a value), or CONNECTC_ERR_NOMEM.
 */
int cc_grpc_web_trailers_parse(const uint8_t *p, size_t len, connectc_headers *out,
                               connectc_error *err);
/* Appends the block for `t`: lower-case names sorted (repeated names keep
 * their order), "name: value\r\n" each. */
int cc_grpc_web_trailers_format(cc_buf *out, const connectc_allocator *a,
                                const connectc_headers *t);

#endif
