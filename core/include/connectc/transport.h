/**
 * @file connectc/transport.h
 * @brief The interface between client calls and whatever moves their
 * bytes.
 *
 * Part of libconnectc-core. The typed client layer (libconnectc's
 * client.h) runs calls through a connectc_transport; the libcurl adapter
 * provides one (connectc_curl_transport()), so does the Mongoose adapter
 * (connectc_mg_client_transport()), and an application can write its own
 * on any HTTP library or event loop.
 */
#ifndef CONNECTC_TRANSPORT_H
#define CONNECTC_TRANSPORT_H

#include "connectc/client_call.h"

#ifdef __cplusplus
extern "C" {
#endif

/** What moves client calls: a table of functions and their context,
 * passed by value. Zero-initialise it (designated initializers or memset):
 * the struct only grows at the end.
 *
 * Asynchronous transports also fill `start` and `wake` (both NULL for a
 * blocking-only transport; then connectc_async_call_new() refuses with
 * CONNECTC_ERR_UNSUPPORTED). */
typedef struct connectc_transport {
  /** Runs `call` to completion: its on_close has fired when it returns.
   * Returns CONNECTC_OK, or a negative CONNECTC_ERR_* when the call could
   * not be run (connectc_client_invoke() returns it). Required for the
   * synchronous typed layer. */
  int (*perform)(void *ctx, connectc_client_call *call);
  /** The current time, in milliseconds, of the monotonic clock the
   * transport enforces deadlines with (the `now_ms` of new calls). May be
   * NULL: calls then start at time 0. */
  int64_t (*now_ms)(void *ctx);
  /** Handed to every function of the table. */
  void *ctx;
  /** Begins moving `call` and returns at once (the request head must be
   * available). From then on the transport drives the call from its own
   * loop; once it no longer touches the call (after its on_close, outside
   * every callback) it calls released(arg) exactly once. When start fails
   * it returns a negative CONNECTC_ERR_* and never calls released. */
  int (*start)(void *ctx, connectc_client_call *call, void (*released)(void *arg), void *arg);
  /** The call has new request bytes, closed its send side or was
   * canceled: resume a paused upload, or abort the transfer. */
  void (*wake)(void *ctx, connectc_client_call *call);
  /** A compression context the transport lends to every call the typed
   * layer runs through it (connectc_client_config.compress_ctx), so that
   * its calls reuse one set of zlib and zstd states; NULL: each call makes
   * its own. Borrowed from the transport's owner: it must outlive those
   * calls, and it may be filled only when no two of them use it at the
   * same time, i.e. when one thread drives them all. The libcurl (one
   * connectc_curl per thread) and Mongoose (one loop thread) transports
   * fill it. */
  connectc_compress_ctx *compress_ctx;
} connectc_transport;

#ifdef __cplusplus
}
#endif

#endif
