/**
 * @file connectc/common.h
 * @brief The types every other header uses: allocators, return codes,
 * Connect status codes, Connect error values and header lists.
 *
 * Part of libconnectc-core. connectc is a sans-IO implementation of the
 * Connect RPC protocol in C.
 *
 * Ownership conventions used throughout the library:
 *  - A `const T *` argument is borrowed for the duration of the call only,
 *    unless the function's documentation says it is retained.
 *  - Every object created with `connectc_X_new` is released with
 *    `connectc_X_del`; every struct initialised with `connectc_X_init` is
 *    released with `connectc_X_reset`.
 *  - Functions returning `int` return CONNECTC_OK (0) or a negative
 *    CONNECTC_ERR_* value; connectc_strerror() names it.
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

/**
 * @def CONNECTC_PRINTF(fmt_idx, arg_idx)
 * @brief Marks a printf-style function so that GCC and clang check its
 * format string (argument `fmt_idx`) against its arguments (from
 * `arg_idx`; 0 for a `va_list` function). Empty with other compilers.
 */
#if defined(__GNUC__) || defined(__clang__)
#define CONNECTC_PRINTF(fmt_idx, arg_idx) __attribute__((format(printf, fmt_idx, arg_idx)))
#else
#define CONNECTC_PRINTF(fmt_idx, arg_idx)
#endif

/* ------------------------------------------------------------------ */
/* Allocator                                                           */
/* ------------------------------------------------------------------ */

/**
 * A user-replaceable allocator. The core, the typed layer and the libcurl
 * adapter never call malloc directly: every allocation goes through the
 * allocator given at creation time (or the default one, wrapping the C
 * library, when NULL is given); zlib, brotli and zstd allocate through it
 * too. (The libmicrohttpd adapter allocates its own bookkeeping with the
 * C library; libcurl and libmicrohttpd use their own allocators.)
 *
 * Objects that take an allocator copy the struct, so the struct itself
 * may be temporary; `user_data` must stay valid as long as any object
 * created with it.
 */
typedef struct connectc_allocator {
  /** Allocates `size` bytes (the library never asks for 0) and returns
   * NULL on failure. */
  void *(*malloc)(size_t size, void *user_data);
  /** Must behave like C realloc: a NULL `ptr` allocates, and on failure
   * NULL is returned and `ptr` is left intact. */
  void *(*realloc)(void *ptr, size_t size, void *user_data);
  /** Frees what `malloc` or `realloc` returned; must accept NULL. */
  void (*free)(void *ptr, void *user_data);
  /** Handed to each of the three functions. */
  void *user_data;
} connectc_allocator;

/**
 * The default allocator (C library malloc/realloc/free).
 * @return a pointer to static storage; never NULL.
 */
CONNECTC_API const connectc_allocator *connectc_default_allocator(void);

struct connectc_arena_block;

/**
 * An arena: a connectc_allocator that hands out memory from large blocks
 * and gives it all back at once with connectc_arena_reset(). Decoded
 * message trees are its use: protobuf-c allocates once per string, bytes
 * field and sub-message, and an arena turns those into one block
 * allocation (or none, when the first block, which the caller provides,
 * is large enough).
 *
 * `free` only takes back the most recent allocation (a temporary freed at
 * once costs no space); any other freed memory stays taken until the
 * reset. `realloc` grows the most recent allocation in place when there
 * is room, and otherwise copies. Every allocation is aligned for any
 * type (max_align_t).
 *
 * Not thread-safe: one arena is used by one thread at a time. Its
 * members are private. The arena points at itself (the allocator's
 * `user_data`), so it must not be moved or copied after
 * connectc_arena_init().
 */
typedef struct connectc_arena {
  connectc_allocator alloc_;          /**< private: what connectc_arena_allocator returns */
  connectc_allocator base_;           /**< private: where blocks come from */
  struct connectc_arena_block *heap_; /**< private: blocks taken from base_, newest first */
  unsigned char *first_;              /**< private: the caller's block, or NULL */
  size_t first_size_;                 /**< private: its size */
  unsigned char *cur_;                /**< private: free space in the current block */
  unsigned char *end_;                /**< private: the end of the current block */
  unsigned char *last_;               /**< private: header of the most recent allocation */
  size_t next_block_;                 /**< private: size of the next block taken from base_ */
} connectc_arena;

/**
 * Initialises an arena.
 * @param arena the arena; it must stay where it is until its last use.
 * @param base where blocks beyond the first come from; may be NULL
 *        (default allocator); copied.
 * @param first a first block for the arena to use before it takes any
 *        from `base` (in a call's own storage, or on the stack), or NULL.
 *        Borrowed: it must outlive the arena's use. Need not be aligned.
 * @param first_size its size in bytes (0 when `first` is NULL).
 */
CONNECTC_API void connectc_arena_init(connectc_arena *arena, const connectc_allocator *base,
                                      void *first, size_t first_size);
/**
 * The allocator that allocates from the arena.
 * @param arena an initialised arena.
 * @return a pointer into the arena (valid as long as the arena is);
 *         never NULL.
 */
CONNECTC_API const connectc_allocator *connectc_arena_allocator(connectc_arena *arena);
/**
 * Frees everything allocated from the arena at once: the blocks taken
 * from `base` go back to it, and the arena starts again in its first
 * block. Every pointer it handed out becomes invalid. The arena may be
 * used again, or dropped without further calls.
 * @param arena an initialised arena.
 */
CONNECTC_API void connectc_arena_reset(connectc_arena *arena);
/**
 * @param arena an initialised arena.
 * @return the bytes the arena holds from `base` (0 while everything fits
 *         in the first block).
 */
CONNECTC_API size_t connectc_arena_heap_bytes(const connectc_arena *arena);

/* ------------------------------------------------------------------ */
/* Library return codes                                                */
/* ------------------------------------------------------------------ */

/** The library's return codes: CONNECTC_OK or a negative error. */
typedef enum connectc_rv {
  /** Success. */
  CONNECTC_OK = 0,
  /** An allocation failed. */
  CONNECTC_ERR_NOMEM = -1,
  /** The caller passed an invalid argument (API misuse). */
  CONNECTC_ERR_ARGUMENT = -2,
  /** The operation is not valid in the object's current state. */
  CONNECTC_ERR_STATE = -3,
  /** The peer's bytes violate the protocol; a connectc_error says how. */
  CONNECTC_ERR_PROTOCOL = -4,
  /** A configured limit was exceeded; a connectc_error says which. */
  CONNECTC_ERR_LIMIT = -5,
  /** The feature is not supported (or not compiled into this build). */
  CONNECTC_ERR_UNSUPPORTED = -6,
  /** A user callback asked to abort the operation. */
  CONNECTC_ERR_CALLBACK = -7,
  /** An output buffer supplied by the caller is too small. */
  CONNECTC_ERR_BUFFER = -8,
  /** The RPC ended with a Connect error; the connectc_error says which. */
  CONNECTC_ERR_RPC = -9,
  /** The send window is full: nothing was queued, the call goes on; send
   * again once told it is writable (connectc_server_callbacks.on_writable,
   * connectc_responder_on_writable). */
  CONNECTC_ERR_FULL = -10
} connectc_rv;

/**
 * A human-readable description of a return code.
 * @param rv a connectc_rv value (any int is accepted).
 * @return a static string ("success", "out of memory", ...); "unknown
 *         error" for a value that is not a connectc_rv. Never NULL.
 */
CONNECTC_API const char *connectc_strerror(int rv);

/* ------------------------------------------------------------------ */
/* Connect status codes                                                */
/* ------------------------------------------------------------------ */

/** The Connect (and gRPC) status codes. */
typedef enum connectc_code {
  /** Not an error: the RPC succeeded. */
  CONNECTC_CODE_OK = 0,
  /** The RPC was canceled, typically by the caller. */
  CONNECTC_CODE_CANCELED = 1,
  /** Unknown error (also: an error that fits no other code). */
  CONNECTC_CODE_UNKNOWN = 2,
  /** The client sent an invalid argument or request. */
  CONNECTC_CODE_INVALID_ARGUMENT = 3,
  /** The deadline passed before the RPC completed. */
  CONNECTC_CODE_DEADLINE_EXCEEDED = 4,
  /** A requested entity was not found. */
  CONNECTC_CODE_NOT_FOUND = 5,
  /** The entity the client tried to create already exists. */
  CONNECTC_CODE_ALREADY_EXISTS = 6,
  /** The caller may not run this operation. */
  CONNECTC_CODE_PERMISSION_DENIED = 7,
  /** A resource (a quota, a size limit, memory) is exhausted. */
  CONNECTC_CODE_RESOURCE_EXHAUSTED = 8,
  /** The system is not in the state the operation needs. */
  CONNECTC_CODE_FAILED_PRECONDITION = 9,
  /** The operation was aborted (a concurrency conflict, for example). */
  CONNECTC_CODE_ABORTED = 10,
  /** The operation went past a valid range. */
  CONNECTC_CODE_OUT_OF_RANGE = 11,
  /** The operation is not implemented, supported or enabled. */
  CONNECTC_CODE_UNIMPLEMENTED = 12,
  /** An invariant the system relies on is broken. */
  CONNECTC_CODE_INTERNAL = 13,
  /** The service is unavailable for now; retrying may help. */
  CONNECTC_CODE_UNAVAILABLE = 14,
  /** Unrecoverable data loss or corruption. */
  CONNECTC_CODE_DATA_LOSS = 15,
  /** The caller has no valid credentials. */
  CONNECTC_CODE_UNAUTHENTICATED = 16
} connectc_code;

/**
 * The Connect wire name of a code.
 * @param code any value.
 * @return a static string ("invalid_argument"; "ok" for CONNECTC_CODE_OK),
 *         or NULL if the value is none of the seventeen codes.
 */
CONNECTC_API const char *connectc_code_name(connectc_code code);

/**
 * Parses a Connect wire name ("invalid_argument"). Only the sixteen error
 * codes parse: "ok" is not an error code on the wire. The match is exact
 * and case-sensitive.
 * @param name the name, `len` bytes (no NUL needed); borrowed for the call.
 * @param len length of `name` in bytes.
 * @param out receives the code when the name is known; untouched
 *        otherwise.
 * @return 1 when the name is known, 0 otherwise.
 */
CONNECTC_API int connectc_code_from_name(const char *name, size_t len, connectc_code *out);

/**
 * The HTTP status a Connect server sends for an error with this code
 * (Connect protocol table: e.g. invalid_argument -> 400,
 * unimplemented -> 501).
 * @param code any value.
 * @return the HTTP status: 200 for CONNECTC_CODE_OK, 499 for canceled,
 *         and 500 for a value that is not a code.
 */
CONNECTC_API int connectc_code_to_http_status(connectc_code code);

/**
 * The code a client infers from an HTTP status when the response is not a
 * valid Connect error (the Connect protocol table).
 * @param status an HTTP status code.
 * @return CONNECTC_CODE_INTERNAL for 400, unauthenticated for 401,
 *         permission_denied for 403, unimplemented for 404, unavailable for
 *         429, 502, 503 and 504, and unknown for anything else.
 */
CONNECTC_API connectc_code connectc_code_from_http_status(int status);

/* ------------------------------------------------------------------ */
/* Connect errors                                                      */
/* ------------------------------------------------------------------ */

/** One error detail: a protobuf message of fully-qualified type `type`
 * (e.g. "google.rpc.RetryInfo") serialized in `value`. */
typedef struct connectc_error_detail {
  char *type;     /**< NUL-terminated, owned by the error */
  uint8_t *value; /**< owned by the error; may be NULL when value_len is 0 */
  size_t value_len; /**< length of `value` in bytes */
} connectc_error_detail;

/**
 * A Connect error value. `code == CONNECTC_CODE_OK` means "no error".
 * Initialise with connectc_error_init(); release with connectc_error_reset().
 * All strings and detail buffers are owned by the error and freed with the
 * allocator it was initialised with. Read the members directly; change
 * them only through the functions below.
 */
typedef struct connectc_error {
  connectc_code code; /**< the status code; CONNECTC_CODE_OK for none */
  char *message; /**< NUL-terminated UTF-8, or NULL for no message */
  connectc_error_detail *details; /**< `n_details` details, or NULL */
  size_t n_details; /**< number of entries in `details` */
  connectc_allocator alloc; /**< what the strings and details are allocated with */
} connectc_error;

/**
 * Initialises an error to code OK, no message, no details.
 * @param err the error to initialise (its old contents are not freed).
 * @param alloc the allocator for its strings and details; may be NULL
 *        (default allocator); copied.
 */
CONNECTC_API void connectc_error_init(connectc_error *err, const connectc_allocator *alloc);
/**
 * Frees everything and returns the error to code OK, keeping its
 * allocator: the error may be used again without another init.
 * @param err an initialised error.
 */
CONNECTC_API void connectc_error_reset(connectc_error *err);
/**
 * Replaces code and message (printf-style). Existing details are kept.
 * @param err an initialised error.
 * @param code the new code; set even when the function fails.
 * @param fmt printf format of the message; NULL leaves the error without
 *        a message.
 * @param ... the format's arguments.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_NOMEM when the message could not be allocated (the
 *         error then has the code and no message);
 *         CONNECTC_ERR_ARGUMENT when formatting failed (vsnprintf error).
 */
CONNECTC_API int connectc_error_set(connectc_error *err, connectc_code code, const char *fmt, ...)
    CONNECTC_PRINTF(3, 4);
/**
 * connectc_error_set() with a `va_list`.
 * @param err an initialised error.
 * @param code the new code; set even when the function fails.
 * @param fmt printf format of the message; NULL leaves the error without
 *        a message.
 * @param ap the format's arguments; consumed as by vsnprintf.
 * @return as connectc_error_set().
 */
CONNECTC_API int connectc_error_setv(connectc_error *err, connectc_code code, const char *fmt, va_list ap)
    CONNECTC_PRINTF(3, 0);
/**
 * Replaces code and message with `len` bytes copied from `msg` (no
 * formatting). Existing details are kept.
 * @param err an initialised error.
 * @param code the new code; set even when the function fails.
 * @param msg the message bytes, copied; NULL leaves the error without a
 *        message.
 * @param len number of bytes of `msg` to copy (a NUL is added).
 * @return CONNECTC_OK, or CONNECTC_ERR_NOMEM (the error then has the code
 *         and no message).
 */
CONNECTC_API int connectc_error_set_message(connectc_error *err, connectc_code code, const char *msg,
                               size_t len);
/**
 * Appends a detail.
 * @param err an initialised error.
 * @param type fully-qualified message type, NUL-terminated; copied.
 * @param value the serialized message, copied; may be NULL when
 *        `value_len` is 0.
 * @param value_len length of `value` in bytes.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `type` is NULL;
 *         CONNECTC_ERR_NOMEM (the error keeps its previous details).
 */
CONNECTC_API int connectc_error_add_detail(connectc_error *err, const char *type, const uint8_t *value,
                              size_t value_len);
/**
 * Deep copy of `src` into `dst`: code, message and details, allocated with
 * `dst`'s allocator. `dst`'s old contents are released first.
 * @param dst an initialised error; may be the same as `src` (no-op).
 * @param src the error to copy; borrowed for the call.
 * @return CONNECTC_OK, or CONNECTC_ERR_NOMEM (then `dst` has src's code and
 *         possibly only part of its message and details).
 */
CONNECTC_API int connectc_error_copy(connectc_error *dst, const connectc_error *src);

/* ------------------------------------------------------------------ */
/* Header lists (HTTP headers, trailers, Connect metadata)             */
/* ------------------------------------------------------------------ */

/** One entry of a connectc_headers list. */
typedef struct connectc_header {
  char *name;  /**< lower-case, NUL-terminated, owned by the list */
  char *value; /**< NUL-terminated, owned by the list */
  size_t name_len; /**< length of `name`, without the NUL */
  size_t value_len; /**< length of `value`, without the NUL */
} connectc_header;

/**
 * An ordered multi-map of header names to values. Names are stored
 * lower-cased; lookups are case-insensitive. Values are stored as given
 * (for `-bin` headers that is the base64 text; see connectc_headers_add_bin
 * and connectc_headers_get_bin).
 *
 * Initialise with connectc_headers_init(), release with
 * connectc_headers_reset(). The entries may be read directly
 * (`items[0..len)`); change the list only through the functions below.
 */
typedef struct connectc_headers {
  connectc_header *items; /**< the entries, in insertion order; NULL when empty */
  size_t len; /**< number of entries */
  size_t cap; /**< entries allocated (private) */
  connectc_allocator alloc; /**< what the entries are allocated with */
  /** Private: the blocks the entries' names and values (and the first
   * entries) live in, so that a list of a few headers costs one
   * allocation. Moving a list by struct assignment is allowed; copying it
   * that way is not (use connectc_headers_append_all()). */
  struct connectc_headers_block *blocks;
} connectc_headers;

/**
 * Initialises an empty list.
 * @param h the list to initialise (its old contents are not freed).
 * @param alloc allocator of its entries; may be NULL (default); copied.
 */
CONNECTC_API void connectc_headers_init(connectc_headers *h, const connectc_allocator *alloc);
/**
 * Frees every entry and empties the list, keeping its allocator: the list
 * may be used again without another init.
 * @param h an initialised list.
 */
CONNECTC_API void connectc_headers_reset(connectc_headers *h);
/**
 * Appends a copy of name (lower-cased) and value.
 * @param h an initialised list.
 * @param name the header name, `name_len` bytes (no NUL needed); copied.
 * @param name_len length of `name`; must not be 0.
 * @param value the value, `value_len` bytes (no NUL needed); copied; may
 *        be NULL when `value_len` is 0.
 * @param value_len length of `value`.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT if the name is NULL, empty or not a valid
 *         HTTP token, or the value holds CR, LF or NUL (nothing is added);
 *         CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_headers_add(connectc_headers *h, const char *name, size_t name_len,
                         const char *value, size_t value_len);
/**
 * connectc_headers_add() for a NUL-terminated name and value.
 * @param h an initialised list.
 * @param name NUL-terminated header name; copied.
 * @param value NUL-terminated value; copied.
 * @return as connectc_headers_add(); also CONNECTC_ERR_ARGUMENT when
 *         `name` or `value` is NULL.
 */
CONNECTC_API int connectc_headers_adds(connectc_headers *h, const char *name, const char *value);
/**
 * Appends a binary value base64-encoded (standard alphabet, unpadded, as
 * connect-go sends).
 * @param h an initialised list.
 * @param name NUL-terminated header name ending in "-bin" (in any case);
 *        copied.
 * @param value the bytes to encode; may be NULL when `value_len` is 0.
 * @param value_len length of `value`.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT if the name is NULL, does not end in
 *         "-bin" or is not a valid HTTP token, or `value` is NULL with a
 *         non-zero length;
 *         CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_headers_add_bin(connectc_headers *h, const char *name, const uint8_t *value,
                             size_t value_len);
/**
 * Removes every entry with this name (case-insensitive). The removed
 * entries' bytes are released with the list (connectc_headers_reset()),
 * not here: a list that is edited for a long time should be rebuilt.
 * @param h an initialised list.
 * @param name NUL-terminated header name.
 * @return how many entries were removed.
 */
CONNECTC_API size_t connectc_headers_remove(connectc_headers *h, const char *name);
/**
 * The first value for a name (case-insensitive).
 * @param h an initialised list.
 * @param name NUL-terminated header name.
 * @return the NUL-terminated value, borrowed from `h`: valid until that
 *         entry is removed or the list is reset. NULL when there is none.
 */
CONNECTC_API const char *connectc_headers_get(const connectc_headers *h, const char *name);
/**
 * The `index`-th entry with a name (case-insensitive).
 * @param h an initialised list.
 * @param name NUL-terminated header name.
 * @param index 0 for the first entry with this name.
 * @return the entry, borrowed from `h`: valid until the list is next
 *         modified. NULL when there is no such entry.
 */
CONNECTC_API const connectc_header *connectc_headers_get_nth(const connectc_headers *h, const char *name,
                                                size_t index);
/**
 * How many entries have this name (case-insensitive).
 * @param h an initialised list.
 * @param name NUL-terminated header name.
 * @return the number of entries.
 */
CONNECTC_API size_t connectc_headers_count(const connectc_headers *h, const char *name);
/**
 * Decodes the `index`-th value of a `-bin` header (standard or URL-safe
 * base64, padded or unpadded) into a newly allocated buffer.
 * @param h an initialised list.
 * @param name NUL-terminated header name.
 * @param index 0 for the first entry with this name.
 * @param out receives the bytes (never NULL on success, also for an empty
 *        value), allocated with the list's allocator: the caller frees it
 *        with connectc_free(&h->alloc, *out).
 * @param out_len receives the number of bytes.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT if there is no such entry;
 *         CONNECTC_ERR_PROTOCOL if the value is not base64;
 *         CONNECTC_ERR_NOMEM.
 *         `*out` and `*out_len` are set only on success.
 */
CONNECTC_API int connectc_headers_get_bin(const connectc_headers *h, const char *name, size_t index,
                             uint8_t **out, size_t *out_len);
/**
 * Appends a deep copy of every entry of `src` to `dst`.
 * @param dst an initialised list; may be the same list as `src`.
 * @param src the entries to copy; borrowed for the call.
 * @return CONNECTC_OK, or CONNECTC_ERR_NOMEM (then only some entries may
 *         have been appended).
 */
CONNECTC_API int connectc_headers_append_all(connectc_headers *dst, const connectc_headers *src);

/**
 * Frees memory the library returned to the caller (compressed buffers,
 * decoded `-bin` values, marshalled messages...).
 * @param alloc the allocator it was allocated with; NULL means the
 *        default allocator.
 * @param ptr the memory; NULL is ignored.
 */
CONNECTC_API void connectc_free(const connectc_allocator *alloc, void *ptr);

/**
 * Version of the library linked at run time. Compare it with
 * CONNECTC_VERSION_STRING of the headers a program was compiled with
 * (connectc/version.h).
 * @return "MAJOR.MINOR.PATCH", static storage.
 */
CONNECTC_API const char *connectc_version(void);
/**
 * Version of the library linked at run time as one comparable number.
 * Compare it with CONNECTC_VERSION_NUMBER of the headers a program was
 * compiled with.
 * @return MAJOR * 1000000 + MINOR * 1000 + PATCH.
 */
CONNECTC_API long connectc_version_number(void);

#ifdef __cplusplus
}
#endif

#endif /* CONNECTC_COMMON_H */
