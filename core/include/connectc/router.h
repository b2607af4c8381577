/*
 * router.h: maps procedure paths to methods and their handlers. The router
 * is the "application" of a Connect server: a transport adapter (the
 * libmicrohttpd one, or your own HTTP server) asks it for a server call
 * per request and then feeds that call. It does no I/O.
 */
#ifndef CONNECTC_ROUTER_H
#define CONNECTC_ROUTER_H

#include "connectc/server_call.h"

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
  /* Frees route_data when the router is deleted (not when
   * connectc_router_add fails: the caller still owns it then). May be
   * NULL. */
  void (*route_data_del)(void *route_data);
} connectc_route;

typedef struct connectc_router connectc_router;

/* Creates a router in *out. `cfg` (limits, codecs, ...; NULL for the
 * defaults) is copied and applies to every call the router creates.
 * `alloc` may be NULL. Returns CONNECTC_OK, CONNECTC_ERR_ARGUMENT (out
 * NULL) or CONNECTC_ERR_NOMEM; *out is NULL on failure. */
CONNECTC_API int connectc_router_new(const connectc_server_config *cfg, const connectc_allocator *alloc,
                        connectc_router **out);
/* Frees the router and, through route_data_del, the data of its routes.
 * Every call it created must have been deleted first. NULL is ignored. */
CONNECTC_API void connectc_router_del(connectc_router *r);
/* The allocator the router was created with (never NULL). */
CONNECTC_API const connectc_allocator *connectc_router_allocator(const connectc_router *r);
/* The configuration every call the router creates uses. */
CONNECTC_API const connectc_server_config *connectc_router_config(const connectc_router *r);
/* Adds a route (copied; method, callbacks' targets and route_data are
 * borrowed and must outlive the router). A second route for the same
 * procedure fails with CONNECTC_ERR_ARGUMENT. */
CONNECTC_API int connectc_router_add(connectc_router *r, const connectc_route *route);
/* The route for an exact procedure path (no query), or NULL. */
CONNECTC_API const connectc_route *connectc_router_find(const connectc_router *r, const char *path,
                                           size_t len);
/*
 * Creates the server call for a request to `path` (the query, if any,
 * must be stripped first). For an unknown path the call answers 404 once
 * its head is received. Delete it with connectc_router_call_del.
 */
CONNECTC_API int connectc_router_call_new(connectc_router *r, const char *path, size_t len,
                             connectc_server_call **out);
CONNECTC_API void connectc_router_call_del(connectc_router *r, connectc_server_call *call);

#ifdef __cplusplus
}
#endif

#endif
