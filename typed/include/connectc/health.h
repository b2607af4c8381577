/**
 * \file health.h
 * gRPC health checking (grpc.health.v1.Health: Check and Watch), the
 * protocol Kubernetes probes, load balancers and `grpcurl ... health`
 * speak, over every protocol the router serves.
 *
 * The application keeps one connectc_health, sets each service's status
 * as it changes (from any thread), and mounts it on its router once. The
 * empty service name "" stands for the server as a whole; it starts as
 * SERVING.
 */
#ifndef CONNECTC_HEALTH_H
#define CONNECTC_HEALTH_H

#include "connectc/codec.h"
#include "connectc/router.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A service's status, as grpc.health.v1 spells it. */
typedef enum connectc_serving_status {
  CONNECTC_HEALTH_UNKNOWN = 0,         /**< not known */
  CONNECTC_HEALTH_SERVING = 1,         /**< serving */
  CONNECTC_HEALTH_NOT_SERVING = 2,     /**< known, but not serving */
  CONNECTC_HEALTH_SERVICE_UNKNOWN = 3  /**< (Watch only) no such service yet */
} connectc_serving_status;

/** The statuses and the Watch calls waiting for changes (opaque). */
typedef struct connectc_health connectc_health;

/**
 * Creates the status table, with "" (the whole server) SERVING.
 * @param alloc the allocator (NULL: default); copied.
 * @param out receives the table; NULL on failure.
 * @return CONNECTC_OK, CONNECTC_ERR_ARGUMENT (out NULL) or CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_health_new(const connectc_allocator *alloc, connectc_health **out);
/**
 * Frees the table. Every call of the router it was mounted on must have
 * ended first (stop the server before, or call connectc_health_shutdown()).
 * @param h the table; NULL is ignored.
 */
CONNECTC_API void connectc_health_del(connectc_health *h);
/**
 * Sets a service's status (copied name) and tells every Watch of it. Safe
 * from any thread.
 * @param h the table.
 * @param service the fully-qualified service name, or "" for the server.
 * @param status the new status (not SERVICE_UNKNOWN, which only Watch
 *        reports).
 * @return CONNECTC_OK, CONNECTC_ERR_ARGUMENT or CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_health_set(connectc_health *h, const char *service,
                                     connectc_serving_status status);
/**
 * For a graceful stop: every service becomes NOT_SERVING, every Watch is
 * told and then finished (status OK), and later Watch calls get their
 * status and finish at once. Safe from any thread.
 * @param h the table.
 */
CONNECTC_API void connectc_health_shutdown(connectc_health *h);
/**
 * Mounts grpc.health.v1.Health on `router`: Check answers the status of
 * the service asked about (not_found for one never set); Watch sends the
 * status now (SERVICE_UNKNOWN for one never set) and again on every change,
 * until the client goes away or connectc_health_shutdown().
 * @param router the router; borrowed.
 * @param h the table; borrowed: it must outlive the router's calls.
 * @param json a JSON codec for application/json requests, or NULL (proto
 *        only); borrowed.
 * @return CONNECTC_OK, CONNECTC_ERR_ARGUMENT (a route already taken) or
 *         CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_health_register(connectc_router *router, connectc_health *h,
                                          const connectc_codec *json);

#ifdef __cplusplus
}
#endif

#endif
