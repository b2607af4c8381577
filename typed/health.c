/* grpc.health.v1.Health on the generated asynchronous handler interface.
 *
 * Watch calls stay open: each is a watcher in the table's list. Locking:
 * the table's mutex is never held while calling into a responder (which
 * takes the transport's lock), because a watcher's cancel callback runs
 * with the transport's lock held and takes the table's mutex. A watcher
 * being written to by a setter (`sending`) is finished by that setter, not
 * by its cancel callback, so it never disappears under the setter. */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <string.h>

#include "buf.h"
#include "connectc/health.h"
#include "connectc/service.h"
#include "grpc/health/v1/health.connect.h"

typedef Grpc__Health__V1__HealthCheckRequest CheckReq;
typedef Grpc__Health__V1__HealthCheckResponse CheckResp;

typedef struct entry {
  char *service;
  connectc_serving_status status;
} entry;

typedef struct watcher {
  connectc_responder *r;
  char *service;
  int sending;   /* setters writing to it right now */
  int cancelled; /* the call ended while a setter held it */
  int finishing; /* a shutdown took it off the list */
  int owned;     /* whoever set this finishes and frees it */
  struct watcher *next;
} watcher;

struct connectc_health {
  connectc_allocator alloc;
  pthread_mutex_t mu;
  entry *entries;
  size_t n, cap;
  watcher *watchers;
  int shut_down;
};

int connectc_health_new(const connectc_allocator *alloc, connectc_health **out) {
  if (!out) return CONNECTC_ERR_ARGUMENT;
  *out = NULL;
  const connectc_allocator *a = cc_alloc_or_default(alloc);
  connectc_health *h = cc_malloc(a, sizeof *h);
  if (!h) return CONNECTC_ERR_NOMEM;
  memset(h, 0, sizeof *h);
  h->alloc = *a;
  pthread_mutex_init(&h->mu, NULL);
  int rv = connectc_health_set(h, "", CONNECTC_HEALTH_SERVING);
  if (rv) {
    connectc_health_del(h);
    return rv;
  }
  *out = h;
  return CONNECTC_OK;
}

void connectc_health_del(connectc_health *h) {
  if (!h) return;
  for (size_t i = 0; i < h->n; i++) cc_free(&h->alloc, h->entries[i].service);
  cc_free(&h->alloc, h->entries);
  pthread_mutex_destroy(&h->mu);
  connectc_allocator a = h->alloc;
  cc_free(&a, h);
}

/* Under h->mu. */
static entry *find(connectc_health *h, const char *service) {
  for (size_t i = 0; i < h->n; i++)
    if (strcmp(h->entries[i].service, service) == 0) return &h->entries[i];
  return NULL;
}

static connectc_serving_status status_of(connectc_health *h, const char *service, int *known) {
  entry *e = find(h, service);
  *known = e != NULL;
  return e ? e->status : CONNECTC_HEALTH_SERVICE_UNKNOWN;
}

static int send_status(connectc_responder *r, connectc_serving_status st) {
  CheckResp resp = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
  resp.status = (Grpc__Health__V1__HealthCheckResponse__ServingStatus)st;
  return grpc_health_v1_health_watch__respond(r, &resp);
}

static void free_watcher(connectc_health *h, watcher *w) {
  cc_free(&h->alloc, w->service);
  cc_free(&h->alloc, w);
}

/* Sends the current status to the watchers of `service` (NULL: all), and
 * finishes them when `finish` is set. */
static void notify(connectc_health *h, const char *service, int finish) {
  pthread_mutex_lock(&h->mu);
  size_t n = 0;
  for (watcher *w = h->watchers; w; w = w->next)
    if (!service || strcmp(w->service, service) == 0) n++;
  watcher *small[16];
  watcher **list = n <= 16 ? small : cc_malloc(&h->alloc, n * sizeof *list);
  connectc_serving_status *sts = cc_malloc(&h->alloc, (n ? n : 1) * sizeof *sts);
  if (!list || !sts) {
    /* Out of memory: the watchers miss this change, nothing breaks. */
    pthread_mutex_unlock(&h->mu);
    if (list != small) cc_free(&h->alloc, list);
    cc_free(&h->alloc, sts);
    return;
  }
  size_t k = 0;
  watcher **link = &h->watchers;
  while (*link) {
    watcher *w = *link;
    if (!service || strcmp(w->service, service) == 0) {
      int known;
      w->sending++;
      sts[k] = status_of(h, w->service, &known);
      list[k++] = w;
      if (finish) {
        *link = w->next;
        w->finishing = 1;
        continue;
      }
    }
    link = &w->next;
  }
  pthread_mutex_unlock(&h->mu);
  for (size_t i = 0; i < k; i++) {
    watcher *w = list[i];
    (void)send_status(w->r, sts[i]); /* fails harmlessly once the call ended */
    pthread_mutex_lock(&h->mu);
    int mine = --w->sending == 0 && (w->cancelled || w->finishing) && !w->owned;
    if (mine) w->owned = 1;
    pthread_mutex_unlock(&h->mu);
    if (mine) {
      connectc_responder_finish(w->r, NULL);
      free_watcher(h, w);
    }
  }
  if (list != small) cc_free(&h->alloc, list);
  cc_free(&h->alloc, sts);
}

int connectc_health_set(connectc_health *h, const char *service, connectc_serving_status status) {
  if (!h || !service || (unsigned)status > CONNECTC_HEALTH_NOT_SERVING) return CONNECTC_ERR_ARGUMENT;
  pthread_mutex_lock(&h->mu);
  entry *e = find(h, service);
  int changed = !e || e->status != status;
  if (!e) {
    char *copy = cc_strndup(&h->alloc, service, strlen(service));
    if (copy && h->n == h->cap) {
      size_t ncap = h->cap ? h->cap * 2 : 8;
      entry *grown = cc_realloc(&h->alloc, h->entries, ncap * sizeof *grown);
      if (grown) {
        h->entries = grown;
        h->cap = ncap;
      }
    }
    if (!copy || h->n == h->cap) {
      pthread_mutex_unlock(&h->mu);
      cc_free(&h->alloc, copy);
      return CONNECTC_ERR_NOMEM;
    }
    e = &h->entries[h->n++];
    e->service = copy;
  }
  e->status = status;
  pthread_mutex_unlock(&h->mu);
  if (changed) notify(h, service, 0);
  return CONNECTC_OK;
}

void connectc_health_shutdown(connectc_health *h) {
  if (!h) return;
  pthread_mutex_lock(&h->mu);
  h->shut_down = 1;
  for (size_t i = 0; i < h->n; i++) h->entries[i].status = CONNECTC_HEALTH_NOT_SERVING;
  pthread_mutex_unlock(&h->mu);
  notify(h, NULL, 1);
}

/* ---- the handlers ---- */

static void h_check(void *impl, connectc_responder *r, const CheckReq *req) {
  connectc_health *h = impl;
  const char *service = req->service ? req->service : "";
  pthread_mutex_lock(&h->mu);
  int known;
  connectc_serving_status st = status_of(h, service, &known);
  pthread_mutex_unlock(&h->mu);
  if (!known) {
    connectc_error e;
    connectc_error_init(&e, NULL);
    connectc_error_set(&e, CONNECTC_CODE_NOT_FOUND, "unknown service \"%s\"", service);
    connectc_responder_finish(r, &e);
    connectc_error_reset(&e);
    return;
  }
  CheckResp resp = GRPC__HEALTH__V1__HEALTH_CHECK_RESPONSE__INIT;
  resp.status = (Grpc__Health__V1__HealthCheckResponse__ServingStatus)st;
  grpc_health_v1_health_check__respond(r, &resp);
  connectc_responder_finish(r, NULL);
}

/* The Watch call ended (client gone, deadline): runs with the transport's
 * lock held. */
static void watch_cancelled(connectc_responder *r, const connectc_error *why, void *arg) {
  (void)why;
  (void)r;
  watcher *w = arg;
  connectc_health *h = connectc_responder_user_data(r);
  pthread_mutex_lock(&h->mu);
  for (watcher **link = &h->watchers; *link; link = &(*link)->next)
    if (*link == w) {
      *link = w->next;
      break;
    }
  int busy = w->sending > 0 || w->owned;
  w->cancelled = 1;
  if (!busy) w->owned = 1;
  pthread_mutex_unlock(&h->mu);
  if (busy) return; /* a setter finishes it */
  connectc_responder_finish(w->r, NULL);
  free_watcher(h, w);
}

static void h_watch(void *impl, connectc_responder *r, const CheckReq *req) {
  connectc_health *h = impl;
  const char *service = req->service ? req->service : "";
  watcher *w = cc_malloc(&h->alloc, sizeof *w);
  char *copy = w ? cc_strndup(&h->alloc, service, strlen(service)) : NULL;
  if (!copy) {
    cc_free(&h->alloc, w);
    connectc_error e;
    connectc_error_init(&e, NULL);
    connectc_error_set(&e, CONNECTC_CODE_RESOURCE_EXHAUSTED, "out of memory for the watch");
    connectc_responder_finish(r, &e);
    connectc_error_reset(&e);
    return;
  }
  memset(w, 0, sizeof *w);
  w->r = r;
  w->service = copy;
  connectc_responder_set_user_data(r, h);
  pthread_mutex_lock(&h->mu);
  int known;
  connectc_serving_status st = status_of(h, service, &known);
  int shut = h->shut_down;
  if (!shut) {
    w->next = h->watchers;
    h->watchers = w;
  }
  w->sending = 1; /* until the first status is out */
  pthread_mutex_unlock(&h->mu);
  (void)send_status(r, st);
  pthread_mutex_lock(&h->mu);
  int mine = --w->sending == 0 && (shut || w->cancelled || w->finishing) && !w->owned;
  if (mine) w->owned = 1;
  int other = w->owned && !mine; /* a shutdown's setter has it */
  pthread_mutex_unlock(&h->mu);
  if (mine) {
    connectc_responder_finish(r, NULL);
    free_watcher(h, w);
    return;
  }
  if (other) return;
  /* From here the cancel callback (or a shutdown) finishes it; if the call
   * already ended, the callback runs now. */
  connectc_responder_on_cancel(r, watch_cancelled, w);
}

int connectc_health_register(connectc_router *router, connectc_health *h,
                             const connectc_codec *json) {
  if (!router || !h) return CONNECTC_ERR_ARGUMENT;
  static const grpc_health_v1_health__async_handlers handlers = {
      .check = h_check,
      .watch = h_watch,
  };
  return grpc_health_v1_health__register_async(router, &handlers, h, json);
}
