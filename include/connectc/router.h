/*
 * router.h: maps procedure paths to methods and their handlers. The router
 * is the "application" of a Connect server: a transport adapter (the
 * libmicrohttpd one, or your own HTTP server) asks it for a server call
 * per request and then feeds that call. It does no I/O.
 */
#ifndef CONNECTC_ROUTER_H
#define CONNECTC_ROUTER_H

#include "connectc/call.h"

#ifdef __cplusplus
extern "C" {
#endif

/* One routable method and the handler behind it (generated code fills
 * these; see codegen/README.md). */
typedef struct connectc_route {
  const connectc_method_desc *method;
  /* Callbacks of every server call for this method; they receive the
   * per-call state from call_new as user_data. */
  connectc_server_callbacks callbacks;
  /* Creates per-call state when a request arrives (may be NULL: then
   * user_data is route_data). Return NULL to refuse (out of memory). */
  void *(*call_new)(void *route_data, connectc_server_call *call);
  /* Frees per-call state when the adapter deletes the call. May be NULL. */
  void (*call_del)(void *route_data, void *call_data);
  void *route_data;
} connectc_route;

typedef struct connectc_router connectc_router;

/* `cfg` (limits, codecs, ...) is copied and applies to every call the
 * router creates. `alloc` may be NULL. */
connectc_router *connectc_router_new(const connectc_server_config *cfg,
                                     const connectc_allocator *alloc);
void connectc_router_del(connectc_router *r);
/* Adds a route (copied; method, callbacks' targets and route_data are
 * borrowed and must outlive the router). A second route for the same
 * procedure fails with CONNECTC_ERR_ARGUMENT. */
int connectc_router_add(connectc_router *r, const connectc_route *route);
/* The route for an exact procedure path (no query), or NULL. */
const connectc_route *connectc_router_find(const connectc_router *r, const char *path,
                                           size_t len);
/*
 * Creates the server call for a request to `path` (the query, if any,
 * must be stripped first). For an unknown path the call answers 404 once
 * its head is received. Delete it with connectc_router_call_del.
 */
int connectc_router_call_new(connectc_router *r, const char *path, size_t len,
                             connectc_server_call **out);
void connectc_router_call_del(connectc_router *r, connectc_server_call *call);

/* Per-call user data (set by the router from the route's call_new). */
void connectc_server_call_set_user_data(connectc_server_call *call, void *user_data);
void *connectc_server_call_user_data(const connectc_server_call *call);
/* The method the call serves, or NULL for an unrouted (404) call. */
const connectc_method_desc *connectc_server_call_method(const connectc_server_call *call);

/*
 * Transport hooks for handlers that complete from other threads. The core
 * never locks; a threaded adapter registers these so that code outside its
 * own thread (an asynchronous handler) can take the call's lock, act on the
 * call, release it and wake the transport. See connectc_server_call_run.
 */
typedef struct connectc_transport_ops {
  void (*lock)(void *ctx);
  void (*unlock)(void *ctx);
  /* The call has new output (or finished): resume sending. Called with the
   * lock held. */
  void (*wake)(void *ctx);
  /* Keep the call alive across asynchronous work; unref may free it. */
  void (*ref)(void *ctx);
  void (*unref)(void *ctx);
} connectc_transport_ops;

void connectc_server_call_set_transport(connectc_server_call *call,
                                        const connectc_transport_ops *ops, void *ctx);

/* Runs fn(call, arg) under the transport's lock and wakes the transport
 * afterwards. Without transport hooks it simply calls fn. Safe from any
 * thread while the caller holds a reference (connectc_server_call_ref). */
void connectc_server_call_run(connectc_server_call *call,
                              void (*fn)(connectc_server_call *call, void *arg), void *arg);
void connectc_server_call_ref(connectc_server_call *call);
void connectc_server_call_unref(connectc_server_call *call);

#ifdef __cplusplus
}
#endif

#endif
