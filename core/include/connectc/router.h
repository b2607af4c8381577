/**
 * @file connectc/router.h
 * @brief Maps procedure paths to methods and their handlers.
 *
 * Part of libconnectc-core. The router is the "application" of a Connect
 * server: a transport adapter (the libmicrohttpd one, or your own HTTP
 * server) asks it for a server call per request and then feeds that call.
 * It does no I/O and takes no lock: add every route before serving;
 * finding routes and creating calls only read it.
 */
#ifndef CONNECTC_ROUTER_H
#define CONNECTC_ROUTER_H

#include "connectc/server_call.h"

#ifdef __cplusplus
extern "C" {
#endif

/** One routable method and the handler behind it (generated code fills
 * these; see codegen/README.md). Zero-initialise it (designated
 * initializers or memset): the struct only grows at the end. */
typedef struct connectc_route {
  /** The method; required; borrowed: it must outlive the router. */
  const connectc_method_desc *method;
  /** Callbacks of every server call for this method; they receive the
   * per-call state from call_new as user_data. */
  connectc_server_callbacks callbacks;
  /** Creates per-call state when a request arrives (may be NULL: then
   * user_data is route_data). Return NULL to refuse (out of memory:
   * connectc_router_call_new() then fails with CONNECTC_ERR_NOMEM). */
  void *(*call_new)(void *route_data, connectc_server_call *call);
  /** Frees per-call state when the adapter deletes the call
   * (connectc_router_call_del()). Called only when call_new is set. May be
   * NULL. */
  void (*call_del)(void *route_data, void *call_data);
  /** Handed to call_new, call_del and route_data_del. */
  void *route_data;
  /** Frees route_data when the router is deleted (not when
   * connectc_router_add fails: the caller still owns it then). May be
   * NULL. */
  void (*route_data_del)(void *route_data);
  /** The codecs this route serves (NULL-terminated list of static names),
   * when not every codec of the router's configuration: a request in
   * another gets 415. NULL means the router's. */
  const char *const *codecs;
  /** Bytes of per-call state the router reserves inside each server
   * call's own allocation (zeroed, aligned for any object), so that
   * call_new need not allocate: it finds them with
   * connectc_server_call_storage() and may return them as its call data.
   * They go with the call; call_del must not free them. 0: none. */
  size_t call_data_size;
} connectc_route;

/** A router: procedure paths to routes (opaque). */
typedef struct connectc_router connectc_router;

/**
 * Creates a router.
 * @param cfg limits, codecs...; NULL for the defaults; copied (the codec
 *        list it points to is retained: see connectc_server_config). It
 *        applies to every call the router creates.
 * @param alloc allocator of the router and of its calls; may be NULL
 *        (default); copied.
 * @param out receives the router; set to NULL on failure.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `out` is NULL;
 *         CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_router_new(const connectc_server_config *cfg, const connectc_allocator *alloc,
                        connectc_router **out);
/**
 * Hands `data` to the router: it calls del(data) when it is deleted, after
 * the routes' route_data_del. For state several routes share (a reflection
 * or health service registered in one call).
 * @param r the router.
 * @param data what to free; may be NULL (then nothing is recorded).
 * @param del how to free it; must not be NULL when data is not.
 * @return CONNECTC_OK, CONNECTC_ERR_ARGUMENT or CONNECTC_ERR_NOMEM (data
 *         is then not owned: the caller frees it).
 */
CONNECTC_API int connectc_router_own(connectc_router *r, void *data, void (*del)(void *data));
/**
 * How many routes the router has.
 * @param r the router; NULL gives 0.
 * @return the number of routes added.
 */
CONNECTC_API size_t connectc_router_route_count(const connectc_router *r);
/**
 * One route, in the order they were added (e.g. to list the services a
 * server offers).
 * @param r the router.
 * @param i an index below connectc_router_route_count().
 * @return the route (owned by the router; invalidated by connectc_router_add()),
 *         or NULL for an index out of range.
 */
CONNECTC_API const connectc_route *connectc_router_route_at(const connectc_router *r, size_t i);
/**
 * Frees the router and, through route_data_del, the data of its routes.
 * Every call it created must have been deleted first.
 * @param r the router; NULL is ignored.
 */
CONNECTC_API void connectc_router_del(connectc_router *r);
/**
 * The allocator the router was created with.
 * @param r the router; must not be NULL.
 * @return the router's copy (never NULL), valid until it is deleted.
 */
CONNECTC_API const connectc_allocator *connectc_router_allocator(const connectc_router *r);
/**
 * The configuration every call the router creates uses.
 * @param r the router; must not be NULL.
 * @return the router's copy, valid until it is deleted.
 */
CONNECTC_API const connectc_server_config *connectc_router_config(const connectc_router *r);
/**
 * Adds a route. On success the router owns route_data (route_data_del
 * frees it with the router).
 * @param r the router.
 * @param route the route; copied; the method, the callbacks' targets and
 *        route_data are borrowed and must outlive the router.
 * @return CONNECTC_OK;
 *         CONNECTC_ERR_ARGUMENT when `r` or `route` is NULL, the route has
 *         no method or procedure, the procedure does not start with '/',
 *         or a route for the same procedure exists;
 *         CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_router_add(connectc_router *r, const connectc_route *route);
/**
 * The route for an exact procedure path (no query; case-sensitive).
 * @param r the router; must not be NULL.
 * @param path the path, `len` bytes (no NUL needed); borrowed for the call.
 * @param len length of `path`.
 * @return the router's copy of the route, valid until the next
 *         connectc_router_add() or connectc_router_del(); NULL when no
 *         route has this procedure.
 */
CONNECTC_API const connectc_route *connectc_router_find(const connectc_router *r, const char *path,
                                           size_t len);
/**
 * Creates the server call for a request to `path`, with the router's
 * configuration and allocator, the route's callbacks, and the route's
 * call_new result (or route_data) as its user_data. For an unknown path
 * the call answers 404 once its head is received. Delete it with
 * connectc_router_call_del().
 * @param r the router.
 * @param path the request path, `len` bytes (no NUL needed), the query,
 *        if any, stripped first; borrowed for the call.
 * @param len length of `path`.
 * @param out receives the call; untouched on failure.
 * @return CONNECTC_OK (also for an unknown path);
 *         CONNECTC_ERR_ARGUMENT when `r` or `out` is NULL, or `path` is
 *         NULL with a non-zero length;
 *         CONNECTC_ERR_NOMEM, also when the route's call_new returned NULL.
 */
CONNECTC_API int connectc_router_call_new(connectc_router *r, const char *path, size_t len,
                             connectc_server_call **out);
/**
 * Deletes a call made by connectc_router_call_new(): the route's call_del
 * frees its per-call state (when the route has call_new and call_del),
 * then the call is freed.
 * @param r the router that made the call; if NULL, call_del is not run.
 * @param call the call; NULL is ignored.
 */
CONNECTC_API void connectc_router_call_del(connectc_router *r, connectc_server_call *call);

#ifdef __cplusplus
}
#endif

#endif
