/* The router: procedure path -> route, and server call creation. */
#include <string.h>

#include "buf.h"
#include "call_internal.h"
#include "connectc/router.h"

struct connectc_router {
  connectc_allocator alloc;
  connectc_server_config cfg;
  connectc_route *routes;
  size_t n, cap;
  struct owned {
    void *data;
    void (*del)(void *data);
  } *owned;
  size_t n_owned;
};

/* The route and per-call data behind each call the router created. */
typedef struct routed_call {
  const connectc_route *route;
  void *call_data;
} routed_call;

int connectc_router_new(const connectc_server_config *cfg, const connectc_allocator *alloc,
                        connectc_router **out) {
  if (!out) return CONNECTC_ERR_ARGUMENT;
  *out = NULL;
  const connectc_allocator *a = cc_alloc_or_default(alloc);
  connectc_router *r = cc_malloc(a, sizeof *r);
  if (!r) return CONNECTC_ERR_NOMEM;
  memset(r, 0, sizeof *r);
  r->alloc = *a;
  if (cfg) r->cfg = *cfg;
  *out = r;
  return CONNECTC_OK;
}

void connectc_router_del(connectc_router *r) {
  if (!r) return;
  connectc_allocator a = r->alloc;
  for (size_t i = 0; i < r->n; i++)
    if (r->routes[i].route_data_del) r->routes[i].route_data_del(r->routes[i].route_data);
  for (size_t i = 0; i < r->n_owned; i++) r->owned[i].del(r->owned[i].data);
  cc_free(&a, r->owned);
  cc_free(&a, r->routes);
  cc_free(&a, r);
}

const connectc_route *connectc_router_find(const connectc_router *r, const char *path,
                                           size_t len) {
  /* Linear: services have tens of methods; a hash can replace this
   * without changing the API if profiles ever show it. */
  for (size_t i = 0; i < r->n; i++) {
    const char *p = r->routes[i].method->procedure;
    if (strlen(p) == len && memcmp(p, path, len) == 0) return &r->routes[i];
  }
  return NULL;
}

int connectc_router_add(connectc_router *r, const connectc_route *route) {
  if (!r || !route || !route->method || !route->method->procedure ||
      route->method->procedure[0] != '/')
    return CONNECTC_ERR_ARGUMENT;
  const char *p = route->method->procedure;
  if (connectc_router_find(r, p, strlen(p))) return CONNECTC_ERR_ARGUMENT;
  if (r->n == r->cap) {
    size_t ncap = r->cap ? r->cap * 2 : 16;
    connectc_route *nr = cc_realloc(&r->alloc, r->routes, ncap * sizeof *nr);
    if (!nr) return CONNECTC_ERR_NOMEM;
    r->routes = nr;
    r->cap = ncap;
  }
  r->routes[r->n++] = *route;
  return CONNECTC_OK;
}

int connectc_router_call_new(connectc_router *r, const char *path, size_t len,
                             connectc_server_call **out) {
  if (!r || !out || (!path && len)) return CONNECTC_ERR_ARGUMENT;
  const connectc_route *route = connectc_router_find(r, path, len);
  connectc_server_call *call = NULL;
  connectc_server_config cfg = r->cfg;
  if (route && route->codecs) cfg.codecs = route->codecs;
  int rv = cc_server_call_new_sized(&cfg, route ? route->method : NULL,
                                    route ? &route->callbacks : NULL, NULL, &r->alloc,
                                    route && route->call_new ? route->call_data_size : 0, &call);
  if (rv) return rv;
  if (route) {
    void *data = route->route_data;
    if (route->call_new) {
      data = route->call_new(route->route_data, call);
      if (!data) {
        connectc_server_call_del(call);
        return CONNECTC_ERR_NOMEM;
      }
    }
    connectc_server_call_set_user_data(call, data);
  }
  *out = call;
  return CONNECTC_OK;
}

void connectc_router_call_del(connectc_router *r, connectc_server_call *call) {
  if (!call) return;
  const connectc_method_desc *m = connectc_server_call_method(call);
  if (r && m) {
    const connectc_route *route = connectc_router_find(r, m->procedure, strlen(m->procedure));
    if (route && route->call_new && route->call_del)
      route->call_del(route->route_data, connectc_server_call_user_data(call));
  }
  connectc_server_call_del(call);
}

const connectc_allocator *connectc_router_allocator(const connectc_router *r) {
  return &r->alloc;
}

const connectc_server_config *connectc_router_config(const connectc_router *r) {
  return &r->cfg;
}

size_t connectc_router_route_count(const connectc_router *r) { return r ? r->n : 0; }

const connectc_route *connectc_router_route_at(const connectc_router *r, size_t i) {
  return r && i < r->n ? &r->routes[i] : NULL;
}

int connectc_router_own(connectc_router *r, void *data, void (*del)(void *data)) {
  if (!r || (data && !del)) return CONNECTC_ERR_ARGUMENT;
  if (!data) return CONNECTC_OK;
  struct owned *grown = cc_realloc(&r->alloc, r->owned, (r->n_owned + 1) * sizeof *grown);
  if (!grown) return CONNECTC_ERR_NOMEM;
  r->owned = grown;
  r->owned[r->n_owned].data = data;
  r->owned[r->n_owned].del = del;
  r->n_owned++;
  return CONNECTC_OK;
}
