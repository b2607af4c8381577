/*
 * connectc - a sans-IO implementation of the Connect RPC protocol in C.
 *
 * common.h: the types every other header uses: allocators, return codes,
 * Connect status codes, Connect error values and header lists.
 *
 * Ownership conventions used throughout the library:
 *  - A `const T *` argument is borrowed for the duration of the call only,
 *    unless the function's comment says it is retained.
 *  - Every object created with `connectc_X_new` is released with
 *    `connectc_X_del`; every struct initialised with `connectc_X_init` is
 *    released with `connectc_X_reset`.
 *  - Functions returning `int` return CONNECTC_OK (0) or a negative
 *    CONNECTC_ERR_* value; `connectc_strerror()` names it.
 */
#ifndef CONNECTC_COMMON_H
#define CONNECTC_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "connectc/export.h"
#include "connectc/version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define CONNECTC_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#else
#define CONNECTC_PRINTF(fmt_idx, arg_idx)
#endif

/* ------------------------------------------------------------------ */
/* Allocator                                                           */
/* ------------------------------------------------------------------ */

/*
 * A user-replaceable allocator. The library never calls malloc directly:
 * every allocation goes through the allocator given at creation time (or
 * the default one, wrapping the C library, when NULL is given).
 * `realloc` must behave like C realloc (NULL ptr allocates); `free` must
 * accept NULL.
 */
typedef struct connectc_allocator {
  void *(*malloc)(size_t size, void *user_data);
  void *(*realloc)(void *ptr, size_t size, void *user_data);
  void (*free)(void *ptr, void *user_data);
  void *user_data;
} connectc_allocator;

/* The default allocator (C library malloc/realloc/free). Never NULL. */
CONNECTC_API const connectc_allocator *connectc_default_allocator(void);

/* ------------------------------------------------------------------ */
/* Library return codes                                                */
/* ------------------------------------------------------------------ */

typedef enum connectc_rv {
  CONNECTC_OK = 0,
  /* An allocation failed. */
  CONNECTC_ERR_NOMEM = -1,
  /* The caller passed an invalid argument (API misuse). */
  CONNECTC_ERR_ARGUMENT = -2,
  /* The operation is not valid in the object's current state. */
  CONNECTC_ERR_STATE = -3,
  /* The peer's bytes violate the protocol; a connectc_error says how. */
  CONNECTC_ERR_PROTOCOL = -4,
  /* A configured limit was exceeded; a connectc_error says which. */
  CONNECTC_ERR_LIMIT = -5,
  /* The feature is not supported (or not compiled into this build). */
  CONNECTC_ERR_UNSUPPORTED = -6,
  /* A user callback asked to abort the operation. */
  CONNECTC_ERR_CALLBACK = -7,
  /* An output buffer supplied by the caller is too small. */
  CONNECTC_ERR_BUFFER = -8,
  /* The RPC ended with a Connect error; the connectc_error says which. */
  CONNECTC_ERR_RPC = -9,
  /* The send window is full: nothing was queued, the call goes on; send
   * again once told it is writable (connectc_server_callbacks.on_writable,
   * connectc_responder_on_writable). */
  CONNECTC_ERR_FULL = -10
} connectc_rv;

/* A static, human-readable description of a connectc_rv value. */
CONNECTC_API const char *connectc_strerror(int rv);

/* ------------------------------------------------------------------ */
/* Connect status codes                                                */
/* ------------------------------------------------------------------ */

typedef enum connectc_code {
  CONNECTC_CODE_OK = 0,
  CONNECTC_CODE_CANCELED = 1,
  CONNECTC_CODE_UNKNOWN = 2,
  CONNECTC_CODE_INVALID_ARGUMENT = 3,
  CONNECTC_CODE_DEADLINE_EXCEEDED = 4,
  CONNECTC_CODE_NOT_FOUND = 5,
  CONNECTC_CODE_ALREADY_EXISTS = 6,
  CONNECTC_CODE_PERMISSION_DENIED = 7,
  CONNECTC_CODE_RESOURCE_EXHAUSTED = 8,
  CONNECTC_CODE_FAILED_PRECONDITION = 9,
  CONNECTC_CODE_ABORTED = 10,
  CONNECTC_CODE_OUT_OF_RANGE = 11,
  CONNECTC_CODE_UNIMPLEMENTED = 12,
  CONNECTC_CODE_INTERNAL = 13,
  CONNECTC_CODE_UNAVAILABLE = 14,
  CONNECTC_CODE_DATA_LOSS = 15,
  CONNECTC_CODE_UNAUTHENTICATED = 16
} connectc_code;

/* The Connect wire name of a code ("invalid_argument"), or NULL if the
 * value is not one of the sixteen codes (CONNECTC_CODE_OK gives "ok"). */
CONNECTC_API const char *connectc_code_name(connectc_code code);

/* Parses a Connect wire name ("invalid_argument"). Returns 1 and sets *out
 * when known, 0 otherwise. `len` is the length of `name` (no NUL needed). */
CONNECTC_API int connectc_code_from_name(const char *name, size_t len, connectc_code *out);

/* The HTTP status a server sends for an error with this code (Connect
 * protocol table: e.g. invalid_argument -> 400, unimplemented -> 501). */
CONNECTC_API int connectc_code_to_http_status(connectc_code code);

/* The code a client infers from an HTTP status when the response is not a
 * valid Connect error (e.g. 401 -> unauthenticated, 404 -> unimplemented,
 * 429/502/503/504 -> unavailable, anything else -> unknown). */
CONNECTC_API connectc_code connectc_code_from_http_status(int status);

/* ------------------------------------------------------------------ */
/* Connect errors                                                      */
/* ------------------------------------------------------------------ */

/* One error detail: a protobuf message of fully-qualified type `type`
 * (e.g. "google.rpc.RetryInfo") serialized in `value`. */
typedef struct connectc_error_detail {
  char *type;     /* NUL-terminated, owned by the error */
  uint8_t *value; /* owned by the error; may be NULL when value_len is 0 */
  size_t value_len;
} connectc_error_detail;

/*
 * A Connect error value. `code == CONNECTC_CODE_OK` means "no error".
 * Initialise with connectc_error_init(); release with connectc_error_reset().
 * All strings and detail buffers are owned by the error and freed with the
 * allocator it was initialised with.
 */
typedef struct connectc_error {
  connectc_code code;
  char *message; /* NUL-terminated UTF-8, or NULL for no message */
  connectc_error_detail *details;
  size_t n_details;
  connectc_allocator alloc;
} connectc_error;

/* `alloc` may be NULL (default allocator); it is copied. */
CONNECTC_API void connectc_error_init(connectc_error *err, const connectc_allocator *alloc);
/* Frees everything and returns the error to code OK, keeping its allocator. */
CONNECTC_API void connectc_error_reset(connectc_error *err);
/* Replaces code and message (printf-style). Existing details are kept.
 * Returns CONNECTC_OK or CONNECTC_ERR_NOMEM (the code is set even then). */
CONNECTC_API int connectc_error_set(connectc_error *err, connectc_code code, const char *fmt, ...)
    CONNECTC_PRINTF(3, 4);
CONNECTC_API int connectc_error_setv(connectc_error *err, connectc_code code, const char *fmt, va_list ap)
    CONNECTC_PRINTF(3, 0);
/* Replaces the message with `len` bytes copied from `msg` (no formatting). */
CONNECTC_API int connectc_error_set_message(connectc_error *err, connectc_code code, const char *msg,
                               size_t len);
/* Appends a detail; `type` and `value` are copied. */
CONNECTC_API int connectc_error_add_detail(connectc_error *err, const char *type, const uint8_t *value,
                              size_t value_len);
/* Deep copy of src into dst (dst must be initialised; its old contents are
 * released). */
CONNECTC_API int connectc_error_copy(connectc_error *dst, const connectc_error *src);

/* ------------------------------------------------------------------ */
/* Header lists (HTTP headers, trailers, Connect metadata)             */
/* ------------------------------------------------------------------ */

typedef struct connectc_header {
  char *name;  /* lower-case, NUL-terminated, owned by the list */
  char *value; /* NUL-terminated, owned by the list */
  size_t name_len;
  size_t value_len;
} connectc_header;

/*
 * An ordered multi-map of header names to values. Names are stored
 * lower-cased; lookups are case-insensitive. Values are stored as given
 * (for `-bin` headers that is the base64 text; see connectc_headers_add_bin
 * and connectc_headers_get_bin).
 */
typedef struct connectc_headers {
  connectc_header *items;
  size_t len;
  size_t cap;
  connectc_allocator alloc;
} connectc_headers;

CONNECTC_API void connectc_headers_init(connectc_headers *h, const connectc_allocator *alloc);
CONNECTC_API void connectc_headers_reset(connectc_headers *h);
/* Appends a copy of name (lower-cased) and value. Returns CONNECTC_ERR_ARGUMENT
 * if the name is empty or is not a valid HTTP token, or the value holds
 * CR, LF or NUL. */
CONNECTC_API int connectc_headers_add(connectc_headers *h, const char *name, size_t name_len,
                         const char *value, size_t value_len);
/* Convenience for NUL-terminated name and value. */
CONNECTC_API int connectc_headers_adds(connectc_headers *h, const char *name, const char *value);
/* Appends a binary value base64-encoded (standard alphabet, unpadded, as
 * connect-go sends). `name` must end in "-bin". */
CONNECTC_API int connectc_headers_add_bin(connectc_headers *h, const char *name, const uint8_t *value,
                             size_t value_len);
/* Removes every entry with this name. Returns how many were removed. */
CONNECTC_API size_t connectc_headers_remove(connectc_headers *h, const char *name);
/* The first value for `name` (case-insensitive), or NULL. Borrowed from h. */
CONNECTC_API const char *connectc_headers_get(const connectc_headers *h, const char *name);
/* The `index`-th value for `name`, or NULL. */
CONNECTC_API const connectc_header *connectc_headers_get_nth(const connectc_headers *h, const char *name,
                                                size_t index);
/* How many entries have this name. */
CONNECTC_API size_t connectc_headers_count(const connectc_headers *h, const char *name);
/* Decodes the `index`-th value of a `-bin` header (padded or unpadded
 * base64) into a newly allocated buffer (*out, *out_len; free with the
 * list's allocator via connectc_free). Returns CONNECTC_ERR_PROTOCOL if the
 * value is not base64, CONNECTC_ERR_ARGUMENT if there is no such entry. */
CONNECTC_API int connectc_headers_get_bin(const connectc_headers *h, const char *name, size_t index,
                             uint8_t **out, size_t *out_len);
/* Deep copy (dst must be initialised; entries are appended). */
CONNECTC_API int connectc_headers_append_all(connectc_headers *dst, const connectc_headers *src);

/* Frees memory returned by the library, with the given allocator
 * (NULL = default). */
CONNECTC_API void connectc_free(const connectc_allocator *alloc, void *ptr);

/* Version of the library linked at run time as "MAJOR.MINOR.PATCH"
 * (static storage); equal to CONNECTC_VERSION_STRING of the headers it
 * was built with (connectc/version.h). */
CONNECTC_API const char *connectc_version(void);
/* The same as one comparable number, MAJOR * 1000000 + MINOR * 1000 +
 * PATCH (CONNECTC_VERSION_NUMBER of the headers it was built with). */
CONNECTC_API long connectc_version_number(void);

#ifdef __cplusplus
}
#endif

#endif /* CONNECTC_COMMON_H */
