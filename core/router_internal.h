/* Internal: blocks the router owns on behalf of typed routes. */
#ifndef CONNECTC_CORE_ROUTER_INTERNAL_H
#define CONNECTC_CORE_ROUTER_INTERNAL_H

#include "connectc/router.h"

/* The router's allocator. */
const connectc_allocator *cc_router_alloc(const connectc_router *r);
/* The configuration calls created by the router use. */
const connectc_server_config *cc_router_config(const connectc_router *r);
/* The router frees `block` (with its allocator) when it is deleted. */
int cc_router_keep(connectc_router *r, void *block);

#endif
