/* Typed synchronous handlers on top of the router and the server call. */
#define _POSIX_C_SOURCE 200809L /* pthreads */

#include <pthread.h>
#include <string.h>

#include "buf.h"
#include "connectc/service.h"
#include "proto_internal.h"

struct connectc_response_writer {
  connectc_server_call *call;
  const connectc_codec *codec;
  const connectc_allocator *alloc;
};

int connectc_response_writer_send(connectc_response_writer *s, const ProtobufCMessage *msg) {
  if (!s || !msg) return CONNECTC_ERR_ARGUMENT;
  uint8_t stack[CC_SMALL_MESSAGE], *bytes = NULL;
  const uint8_t *data = NULL;
  size_t len = 0;
  int rv = cc_marshal_small(s->codec, msg, stack, sizeof stack, s->alloc, &data, &len, &bytes, NULL);
  if (rv == CONNECTC_OK) rv = connectc_server_call_send(s->call, data, len);
  cc_free(s->alloc, bytes);
  if (rv == CONNECTC_ERR_FULL) {
    /* A synchronous handler runs on the server's thread, which cannot
     * send anything until it returns: what it streams must fit the
     * window. */
    connectc_error e;
    connectc_error_init(&e, s->alloc);
    connectc_error_set(&e, CONNECTC_CODE_RESOURCE_EXHAUSTED,
                       "the response stream exceeds the send window of %zu bytes "
                       "(connectc_server_config.send_window_bytes): a synchronous handler's "
                       "messages wait in memory until it returns; stream more with an "
                       "asynchronous handler and connectc_responder_on_writable",
                       connectc_server_call_send_window(s->call));
    connectc_server_call_finish(s->call, &e);
    connectc_error_reset(&e);
    rv = CONNECTC_ERR_LIMIT;
  }
  return rv;
}

/* What a typed route keeps (one per registered method). */
typedef struct typed_route {
  connectc_typed_method method;
  const void *handlers;
  void *impl;
  const connectc_codec *json;
  connectc_allocator alloc;
  size_t max_collected; /* bytes of requests one call may accumulate */
  size_t max_decoded;   /* memory their decoded forms may take */
} typed_route;

/* Bytes of decoded requests a call holds before its arena takes a block
 * from the route's allocator: a small request's message and strings. */
#define TYPED_ARENA_FIRST 512u

/* Per call: the decoded requests. For asynchronous handlers this is also
 * the responder they hold. */
typedef struct connectc_responder typed_call;
struct connectc_responder {
  typed_route *route;
  connectc_server_call *call;
  ProtobufCMessage **requests; /* &first until a second request arrives */
  ProtobufCMessage *first;
  size_t n_requests, cap_requests;
  size_t collected; /* serialized bytes of the requests kept so far */
  size_t decoded;   /* memory decoding them took */
  int failed;
  void *scratch; /* connectc_responder_scratch */
  void (*on_cancel)(connectc_responder *r, const connectc_error *why, void *arg);
  void *on_cancel_arg;
  connectc_code cancel_code; /* why the call ended early, or OK */
  int started;     /* streaming: on_start ran (the handler holds the responder) */
  void *user_data; /* connectc_responder_set_user_data */
  connectc_server_stream *sync; /* synchronous streaming: the worker's stream */
  void (*on_writable)(connectc_responder *r, void *arg);
  void *on_writable_arg;
  int inside_call; /* lives in the server call's storage: freed with it */
  /* The decoded requests of a unary or client-stream call (all of them
   * live until the call ends) come from this arena, which starts in
   * `arena_first`: one reset frees them. Last, and not zeroed. */
  connectc_arena arena;
  max_align_t arena_first[TYPED_ARENA_FIRST / sizeof(max_align_t)];
};

/* A synchronous streaming handler's side of the call: requests queued by
 * the transport's thread for the worker thread. Guarded by `mu`; the
 * transport's lock is never taken while `mu` is held. */
struct connectc_server_stream {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  typed_call *c;
  ProtobufCMessage *queue[CONNECTC_STREAM_MAX_QUEUED];
  size_t sizes[CONNECTC_STREAM_MAX_QUEUED]; /* serialized size of each */
  size_t head, len;
  size_t queued_bytes; /* serialized bytes of the queued requests */
  int ended;           /* the client sent everything */
  int gone;            /* the call ended (canceled, deadline, failed) */
  int writable;        /* the send window has room again */
  int recv_paused;     /* the queue is filling: the transport was asked to stop */
};

/* A queue past half its message or byte limit pauses the transport's
 * reading (connectc_server_call_pause_recv); one back under a quarter
 * resumes it. A transport that cannot pause still meets the limits. */
static int queue_high(const connectc_server_stream *s, size_t max_bytes) {
  return s->len >= CONNECTC_STREAM_MAX_QUEUED / 2 || s->queued_bytes >= max_bytes / 2;
}
static int queue_low(const connectc_server_stream *s, size_t max_bytes) {
  return s->len <= CONNECTC_STREAM_MAX_QUEUED / 4 && s->queued_bytes <= max_bytes / 4;
}

static const connectc_codec *codec_for(const typed_route *r, connectc_server_call *call) {
  const char *name = connectc_server_call_codec(call);
  if (name && strcmp(name, "json") == 0 && r->json) return r->json;
  return connectc_codec_proto();
}

static void *typed_call_new(void *route_data, connectc_server_call *call) {
  typed_route *r = route_data;
  /* In the server call's own allocation when the router reserved it
   * (connectc_route.call_data_size). */
  size_t room = 0;
  typed_call *c = connectc_server_call_storage(call, &room);
  int inside = c && room >= sizeof *c;
  if (!inside) c = cc_malloc(&r->alloc, sizeof *c);
  if (!c) return NULL;
  memset(c, 0, offsetof(typed_call, arena));
  connectc_arena_init(&c->arena, &r->alloc, c->arena_first, sizeof c->arena_first);
  c->inside_call = inside;
  c->route = r;
  c->call = call;
  c->requests = &c->first;
  c->cap_requests = 1;
  return c;
}

static void typed_call_del(void *route_data, void *call_data) {
  typed_route *r = route_data;
  typed_call *c = call_data;
  if (!c) return;
  /* The requests are in the arena, unless a streaming handler took
   * them one by one (each freed when it is done with). */
  connectc_arena_reset(&c->arena);
  if (c->requests != &c->first) cc_free(&r->alloc, c->requests);
  cc_free(&r->alloc, c->scratch);
  if (!c->inside_call) cc_free(&r->alloc, c);
}

static void fail(connectc_server_call *call, connectc_error *e) {
  if (e->code == CONNECTC_CODE_OK) e->code = CONNECTC_CODE_UNKNOWN;
  connectc_server_call_finish(call, e);
}

/* Streaming: the handler takes over the responder at the call's start. */
static void *stream_worker(void *arg);

static void fail_code(connectc_server_call *call, connectc_code code, const char *msg) {
  connectc_error e;
  connectc_error_init(&e, NULL);
  connectc_error_set(&e, code, "%s", msg);
  connectc_server_call_finish(call, &e);
  connectc_error_reset(&e);
}

/* Starts the worker thread of a synchronous streaming handler. */
static void sync_start(typed_call *c) {
  typed_route *r = c->route;
  if (!connectc_server_call_has_hooks(c->call)) {
    fail_code(c->call, CONNECTC_CODE_INTERNAL,
              "a synchronous streaming handler needs an adapter with threads");
    return;
  }
  connectc_server_stream *s = cc_malloc(&r->alloc, sizeof *s);
  if (!s) {
    fail_code(c->call, CONNECTC_CODE_RESOURCE_EXHAUSTED, "out of memory starting the handler");
    return;
  }
  memset(s, 0, sizeof *s);
  s->c = c;
  pthread_mutex_init(&s->mu, NULL);
  pthread_cond_init(&s->cv, NULL);
  c->sync = s;
  connectc_server_call_ref(c->call); /* the worker's, dropped when it finishes */
  pthread_attr_t attr;
  pthread_t t;
  pthread_attr_init(&attr);
  pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
  int err = pthread_create(&t, &attr, stream_worker, s);
  pthread_attr_destroy(&attr);
  if (err != 0) {
    c->sync = NULL;
    pthread_cond_destroy(&s->cv);
    pthread_mutex_destroy(&s->mu);
    cc_free(&r->alloc, s);
    fail_code(c->call, CONNECTC_CODE_RESOURCE_EXHAUSTED, "cannot start a thread for the handler");
    connectc_server_call_unref(c->call);
  }
}

static void stream_start(typed_call *c) {
  if (c->started) return;
  c->started = 1;
  if (c->route->method.stream->run) {
    sync_start(c);
    return;
  }
  connectc_server_call_ref(c->call); /* until connectc_responder_finish */
  c->route->method.stream->on_start(c->route->handlers, c->route->impl, c);
}

/* Tells the worker the call is over (transport's thread, lock held). */
static void sync_gone(typed_call *c) {
  connectc_server_stream *s = c->sync;
  if (!s) return;
  pthread_mutex_lock(&s->mu);
  s->gone = 1;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

/* Queues a request for the worker; 0 when the queue is full (the handler
 * is not reading: the call fails instead of growing without bound). */
static int sync_push(typed_call *c, ProtobufCMessage *m, size_t len) {
  connectc_server_stream *s = c->sync;
  pthread_mutex_lock(&s->mu);
  int ok = s->len < CONNECTC_STREAM_MAX_QUEUED && len <= c->route->max_collected - s->queued_bytes;
  if (ok) {
    s->queue[(s->head + s->len) % CONNECTC_STREAM_MAX_QUEUED] = m;
    s->sizes[(s->head + s->len) % CONNECTC_STREAM_MAX_QUEUED] = len;
    s->len++;
    s->queued_bytes += len;
    pthread_cond_broadcast(&s->cv);
  }
  int pause = ok && !s->recv_paused && queue_high(s, c->route->max_collected);
  if (pause) s->recv_paused = 1;
  pthread_mutex_unlock(&s->mu);
  /* The transport's side (its lock held): pausing is allowed here. */
  if (pause) connectc_server_call_pause_recv(c->call);
  return ok;
}

static void op_resume_recv(connectc_server_call *call, void *arg) {
  (void)arg;
  connectc_server_call_resume_recv(call);
}

/* Streaming: decode one request and hand it over at once. */
static int stream_message(typed_call *c, connectc_server_call *call, const uint8_t *data,
                          size_t len) {
  typed_route *r = c->route;
  stream_start(c);
  if (connectc_server_call_is_finished(call)) return 1;
  connectc_error e;
  connectc_error_init(&e, &r->alloc);
  ProtobufCMessage *m = NULL;
  const connectc_codec *codec = codec_for(r, call);
  /* Handed on one at a time: unknown fields dropped, the call's budget
   * per message. */
  connectc_codec_options opts = {.max_decoded_bytes = r->max_decoded,
                                 .discard_unknown_fields = 1};
  int rv = codec->unmarshal(codec, r->method.input, data, len, &opts, &r->alloc, &m, &e);
  if (rv == CONNECTC_OK && c->sync) {
    if (!sync_push(c, m, len)) {
      connectc_message_free(m, &r->alloc);
      connectc_error_set(&e, CONNECTC_CODE_RESOURCE_EXHAUSTED,
                         "the handler is not reading its requests: %u waiting (limit %u) or "
                         "%zu bytes (limit %zu)",
                         (unsigned)CONNECTC_STREAM_MAX_QUEUED, (unsigned)CONNECTC_STREAM_MAX_QUEUED,
                         len, r->max_collected);
      rv = CONNECTC_ERR_LIMIT;
      c->failed = 1;
      fail(call, &e);
      sync_gone(c);
    }
  } else if (rv == CONNECTC_OK) {
    r->method.stream->on_request(r->handlers, r->impl, c, m);
    connectc_message_free(m, &r->alloc);
  } else {
    c->failed = 1;
    fail(call, &e);
  }
  connectc_error_reset(&e);
  return rv == CONNECTC_OK ? 0 : 1;
}

static int typed_message(connectc_server_call *call, const uint8_t *data, size_t len, void *ud) {
  typed_call *c = ud;
  typed_route *r = c->route;
  if (r->method.stream && r->method.implemented) return stream_message(c, call, data, len);
  connectc_error e;
  connectc_error_init(&e, &r->alloc);
  ProtobufCMessage *m = NULL;
  const connectc_codec *codec = codec_for(r, call);
  int rv;
  /* Each message is within the receive limit, but a client stream could
   * send them forever: bound what one call keeps. */
  if (len > r->max_collected - c->collected || c->n_requests >= CONNECTC_TYPED_MAX_REQUESTS) {
    connectc_error_set(&e, CONNECTC_CODE_RESOURCE_EXHAUSTED,
                       "the request stream exceeds %zu bytes or %u messages kept for the handler",
                       r->max_collected, (unsigned)CONNECTC_TYPED_MAX_REQUESTS);
    rv = CONNECTC_ERR_LIMIT;
  } else {
    c->collected += len;
    /* Unknown fields are dropped (nothing sends a request on), and what
     * decoding allocates counts against the call's budget: held requests
     * of a client stream add up. */
    cc_budget budget;
    cc_budget_init(&budget, connectc_arena_allocator(&c->arena), r->max_decoded - c->decoded);
    connectc_codec_options opts = {.max_decoded_bytes = r->max_decoded - c->decoded,
                                   .discard_unknown_fields = 1};
    rv = codec->unmarshal(codec, r->method.input, data, len, &opts, &budget.alloc, &m, &e);
    c->decoded += budget.used;
    if (rv != CONNECTC_OK && (budget.exceeded || rv == CONNECTC_ERR_LIMIT))
      connectc_error_set(&e, CONNECTC_CODE_RESOURCE_EXHAUSTED,
                         "the requests of this call take more than %zu bytes of memory once "
                         "decoded (limits.decoded_max_bytes), at request %zu of %zu bytes",
                         r->max_decoded, c->n_requests + 1, len);
  }
  if (rv == CONNECTC_OK) {
    ProtobufCMessage **nr = c->requests;
    if (c->n_requests == c->cap_requests) { /* doubles; leaves `first` at 1 */
      size_t ncap = c->cap_requests * 2;
      nr = c->requests == &c->first ? cc_malloc(&r->alloc, ncap * sizeof *nr)
                                    : cc_realloc(&r->alloc, c->requests, ncap * sizeof *nr);
      if (nr && c->requests == &c->first) nr[0] = c->first;
      if (nr) c->cap_requests = ncap;
    }
    if (!nr) {
      /* m stays in the arena until the call ends. */
      connectc_error_set(&e, CONNECTC_CODE_RESOURCE_EXHAUSTED, "out of memory keeping a request");
      rv = CONNECTC_ERR_NOMEM;
    } else {
      c->requests = nr;
      c->requests[c->n_requests++] = m;
    }
  }
  if (rv != CONNECTC_OK) {
    c->failed = 1;
    fail(call, &e);
  }
  connectc_error_reset(&e);
  return rv == CONNECTC_OK ? 0 : 1;
}

static void typed_end(connectc_server_call *call, void *ud) {
  typed_call *c = ud;
  typed_route *r = c->route;
  if (c->failed || connectc_server_call_is_finished(call)) return;
  connectc_error e;
  connectc_error_init(&e, &r->alloc);
  if (!r->method.implemented) {
    connectc_error_set(&e, CONNECTC_CODE_UNIMPLEMENTED, "%s is not implemented",
                       r->method.desc->procedure);
    fail(call, &e);
    connectc_error_reset(&e);
    return;
  }
  if (r->method.stream) {
    stream_start(c);
    if (c->sync) {
      pthread_mutex_lock(&c->sync->mu);
      c->sync->ended = 1;
      pthread_cond_broadcast(&c->sync->cv);
      pthread_mutex_unlock(&c->sync->mu);
    } else if (!connectc_server_call_is_finished(call) && !r->method.stream->run) {
      r->method.stream->on_requests_end(r->handlers, r->impl, c);
    }
    connectc_error_reset(&e);
    return;
  }
  if (r->method.invoke_async) {
    /* The responder holds the call until connectc_responder_finish. */
    connectc_server_call_ref(call);
    r->method.invoke_async(r->handlers, r->impl, c, (const ProtobufCMessage *const *)c->requests,
                           c->n_requests);
    connectc_error_reset(&e);
    return;
  }
  connectc_response_writer stream = {.call = call, .codec = codec_for(r, call), .alloc = &r->alloc};
  int rv = r->method.invoke(r->handlers, r->impl, call, (const ProtobufCMessage *const *)c->requests,
                            c->n_requests, &stream, &e);
  if (!connectc_server_call_is_finished(call)) {
    if (rv != 0) fail(call, &e);
    else connectc_server_call_finish(call, NULL);
  }
  connectc_error_reset(&e);
}

/* The client went away or the deadline passed. */
static void typed_cancel(connectc_server_call *call, const connectc_error *why, void *ud) {
  (void)call;
  typed_call *c = ud;
  c->cancel_code = why->code;
  sync_gone(c);
  if (c->on_cancel) {
    void (*fn)(connectc_responder *, const connectc_error *, void *) = c->on_cancel;
    c->on_cancel = NULL; /* once */
    fn(c, why, c->on_cancel_arg);
  }
}

/* The client took enough of the queued response: tell the handler. */
static void typed_writable(connectc_server_call *call, void *ud) {
  (void)call;
  typed_call *c = ud;
  if (!c->on_writable) return;
  void (*fn)(connectc_responder *, void *) = c->on_writable;
  c->on_writable = NULL; /* once */
  fn(c, c->on_writable_arg);
}

static const char *const proto_only[] = {"proto", NULL};

static void typed_route_del(void *route_data) {
  typed_route *r = route_data;
  connectc_allocator a = r->alloc;
  cc_free(&a, r);
}

int connectc_router_add_typed(connectc_router *router, const connectc_typed_method *method,
                              const void *handlers, void *impl, const connectc_codec *json) {
  if (!router || !method || !method->desc || !method->input || !method->output ||
      (!!method->invoke + !!method->invoke_async + !!method->stream) != 1)
    return CONNECTC_ERR_ARGUMENT;
  if (method->stream &&
      (method->desc->stream_type == CONNECTC_STREAM_UNARY ||
       method->desc->stream_type == CONNECTC_STREAM_SERVER ||
       !(method->stream->run
             ? !method->stream->on_start && !method->stream->on_request &&
                   !method->stream->on_requests_end
             : method->stream->on_start && method->stream->on_request &&
                   method->stream->on_requests_end)))
    return CONNECTC_ERR_ARGUMENT;
  const connectc_allocator *a = connectc_router_allocator(router);
  typed_route *r = cc_malloc(a, sizeof *r);
  if (!r) return CONNECTC_ERR_NOMEM;
  r->method = *method;
  r->handlers = handlers;
  r->impl = impl;
  r->json = json;
  r->alloc = *a;
  size_t recv_max = connectc_router_config(router)->limits.recv_max_bytes;
  if (recv_max == 0) recv_max = CONNECTC_DEFAULT_RECV_MAX_BYTES;
  r->max_collected = recv_max > SIZE_MAX / 16 ? SIZE_MAX : recv_max * 16;
  size_t decoded_max = connectc_router_config(router)->limits.decoded_max_bytes;
  r->max_decoded = decoded_max ? decoded_max : CONNECTC_DEFAULT_DECODED_MAX_BYTES;
  connectc_route route = {
      .method = method->desc,
      .callbacks = {.on_message = typed_message,
                    .on_end = typed_end,
                    .on_cancel = typed_cancel,
                    .on_writable = typed_writable},
      .call_new = typed_call_new,
      .call_del = typed_call_del,
      .call_data_size = sizeof(typed_call),
      .route_data = r,
      .route_data_del = typed_route_del,
      /* Without a JSON codec, JSON requests get 415 rather than being read
       * as protobuf. */
      .codecs = json ? NULL : proto_only,
  };
  int rv = connectc_router_add(router, &route);
  if (rv) cc_free(a, r);
  return rv;
}

/* ------------------------------------------------------------------ */
/* Responders: every operation runs under the transport's lock          */
/* ------------------------------------------------------------------ */

typedef struct responder_op {
  connectc_responder *r;
  const ProtobufCMessage *msg;
  const char *name, *value;
  const connectc_error *err;
  const uint8_t *bytes;
  size_t len;
  int rv;
} responder_op;

static void op_send(connectc_server_call *call, void *arg) {
  responder_op *op = arg;
  if (connectc_server_call_is_finished(call)) {
    op->rv = CONNECTC_ERR_STATE;
    return;
  }
  op->rv = connectc_server_call_send(call, op->bytes, op->len);
}

int connectc_responder_send(connectc_responder *r, const ProtobufCMessage *msg) {
  if (!r || !msg) return CONNECTC_ERR_ARGUMENT;
  /* Marshal outside the lock: the codec only reads the call's codec name,
   * fixed since the request head. */
  uint8_t stack[CC_SMALL_MESSAGE], *heap = NULL;
  responder_op op = {r, NULL, NULL, NULL, NULL, NULL, 0, CONNECTC_OK};
  int rv = cc_marshal_small(codec_for(r->route, r->call), msg, stack, sizeof stack, &r->route->alloc,
                            &op.bytes, &op.len, &heap, NULL);
  if (rv != CONNECTC_OK) return rv;
  connectc_server_call_run(r->call, op_send, &op);
  cc_free(&r->route->alloc, heap);
  return op.rv;
}

static void op_header(connectc_server_call *call, void *arg) {
  responder_op *op = arg;
  connectc_response_head head;
  if (connectc_server_call_is_finished(call) ||
      connectc_server_call_response_head(call, &head) == CONNECTC_OK) {
    op->rv = CONNECTC_ERR_STATE; /* the head is on its way already */
    return;
  }
  op->rv = connectc_headers_adds(connectc_server_call_response_headers(call), op->name, op->value);
}

static void op_trailer(connectc_server_call *call, void *arg) {
  responder_op *op = arg;
  if (connectc_server_call_is_finished(call)) {
    op->rv = CONNECTC_ERR_STATE;
    return;
  }
  op->rv = connectc_headers_adds(connectc_server_call_response_trailers(call), op->name, op->value);
}

int connectc_responder_add_header(connectc_responder *r, const char *name, const char *value) {
  if (!r || !name || !value) return CONNECTC_ERR_ARGUMENT;
  responder_op op = {r, NULL, name, value, NULL, NULL, 0, CONNECTC_OK};
  connectc_server_call_run(r->call, op_header, &op);
  return op.rv;
}

int connectc_responder_add_trailer(connectc_responder *r, const char *name, const char *value) {
  if (!r || !name || !value) return CONNECTC_ERR_ARGUMENT;
  responder_op op = {r, NULL, name, value, NULL, NULL, 0, CONNECTC_OK};
  connectc_server_call_run(r->call, op_trailer, &op);
  return op.rv;
}

static void op_flush(connectc_server_call *call, void *arg) {
  responder_op *op = arg;
  op->rv = connectc_server_call_is_finished(call) ? CONNECTC_ERR_STATE
                                                  : connectc_server_call_flush_headers(call);
}

int connectc_responder_flush_headers(connectc_responder *r) {
  if (!r) return CONNECTC_ERR_ARGUMENT;
  responder_op op = {r, NULL, NULL, NULL, NULL, NULL, 0, CONNECTC_OK};
  connectc_server_call_run(r->call, op_flush, &op);
  return op.rv;
}

static void op_finish(connectc_server_call *call, void *arg) {
  responder_op *op = arg;
  if (connectc_server_call_is_finished(call)) {
    op->rv = CONNECTC_ERR_STATE;
    return;
  }
  op->rv = connectc_server_call_finish(call, op->err);
}

int connectc_responder_finish(connectc_responder *r, const connectc_error *err) {
  if (!r) return CONNECTC_ERR_ARGUMENT;
  responder_op op = {r, NULL, NULL, NULL, err, NULL, 0, CONNECTC_OK};
  connectc_server_call *call = r->call;
  connectc_server_call_run(call, op_finish, &op);
  connectc_server_call_unref(call); /* may free r */
  return op.rv;
}

static void op_done(connectc_server_call *call, void *arg) {
  responder_op *op = arg;
  op->rv = connectc_server_call_is_finished(call);
}

int connectc_responder_is_done(connectc_responder *r) {
  if (!r) return 1;
  responder_op op = {r, NULL, NULL, NULL, NULL, NULL, 0, 0};
  connectc_server_call_run(r->call, op_done, &op);
  return op.rv;
}

connectc_server_call *connectc_responder_call(connectc_responder *r) { return r ? r->call : NULL; }

void connectc_responder_set_user_data(connectc_responder *r, void *user_data) {
  if (r) r->user_data = user_data;
}

void *connectc_responder_user_data(const connectc_responder *r) { return r ? r->user_data : NULL; }

void *connectc_responder_scratch(connectc_responder *r, size_t size) {
  if (!r || r->scratch) return NULL;
  r->scratch = cc_malloc(&r->route->alloc, size ? size : 1);
  return r->scratch;
}

typedef struct cancel_op {
  connectc_responder *r;
  void (*fn)(connectc_responder *r, const connectc_error *why, void *arg);
  void *arg;
} cancel_op;

static void op_on_cancel(connectc_server_call *call, void *arg) {
  cancel_op *op = arg;
  if (!connectc_server_call_is_finished(call)) {
    op->r->on_cancel = op->fn;
    op->r->on_cancel_arg = op->arg;
    return;
  }
  /* Finished normally, or unset after the end: nothing to tell. */
  if (op->r->cancel_code == CONNECTC_CODE_OK || !op->fn) return;
  connectc_error e;
  connectc_error_init(&e, &op->r->route->alloc);
  connectc_error_set(&e, op->r->cancel_code, "%s",
                     op->r->cancel_code == CONNECTC_CODE_DEADLINE_EXCEEDED
                         ? "the deadline passed"
                         : "the client went away");
  op->fn(op->r, &e, op->arg);
  connectc_error_reset(&e);
}

void connectc_responder_on_cancel(connectc_responder *r,
                                  void (*fn)(connectc_responder *r, const connectc_error *why,
                                             void *arg),
                                  void *arg) {
  if (!r) return;
  cancel_op op = {r, fn, arg};
  /* When the call already ended, fn runs at once under the lock and may
   * finish the responder, dropping what can be the last reference (the
   * transport's is gone once the connection completed): hold one until
   * the lock is released. */
  connectc_server_call *call = r->call;
  connectc_server_call_ref(call);
  connectc_server_call_run(call, op_on_cancel, &op);
  connectc_server_call_unref(call);
}

/* ------------------------------------------------------------------ */
/* Synchronous streaming handlers: one worker thread per call           */
/* ------------------------------------------------------------------ */

typedef struct sync_finish_op {
  typed_call *c;
  const connectc_error *err;
} sync_finish_op;

/* Under the transport's lock: the worker lets go and the call finishes. */
static void op_sync_finish(connectc_server_call *call, void *arg) {
  sync_finish_op *op = arg;
  op->c->sync = NULL;
  if (!connectc_server_call_is_finished(call)) connectc_server_call_finish(call, op->err);
}

static void *stream_worker(void *arg) {
  connectc_server_stream *s = arg;
  typed_call *c = s->c;
  typed_route *r = c->route;
  connectc_server_call *call = c->call;
  connectc_error e;
  connectc_error_init(&e, &r->alloc);
  int rv = r->method.stream->run(r->handlers, r->impl, s, &e);
  if (rv != 0 && e.code == CONNECTC_CODE_OK) e.code = CONNECTC_CODE_UNKNOWN;
  sync_finish_op op = {c, rv != 0 ? &e : NULL};
  connectc_server_call_run(call, op_sync_finish, &op);
  /* No callback reaches `s` any more (c->sync is NULL): drain and free. */
  while (s->len) {
    connectc_message_free(s->queue[s->head], &r->alloc);
    s->head = (s->head + 1) % CONNECTC_STREAM_MAX_QUEUED;
    s->len--;
  }
  pthread_cond_destroy(&s->cv);
  pthread_mutex_destroy(&s->mu);
  connectc_allocator a = r->alloc;
  cc_free(&a, s);
  connectc_error_reset(&e);
  connectc_server_call_unref(call); /* may free the call */
  return NULL;
}

int connectc_server_stream_recv(connectc_server_stream *s, ProtobufCMessage **request) {
  if (!s || !request) return CONNECTC_ERR_ARGUMENT;
  *request = NULL;
  pthread_mutex_lock(&s->mu);
  while (s->len == 0 && !s->ended && !s->gone) pthread_cond_wait(&s->cv, &s->mu);
  int rv = CONNECTC_OK;
  if (s->len > 0) {
    *request = s->queue[s->head];
    s->queued_bytes -= s->sizes[s->head];
    s->head = (s->head + 1) % CONNECTC_STREAM_MAX_QUEUED;
    s->len--;
  } else if (s->gone) {
    rv = CONNECTC_ERR_STATE;
  }
  int resume = s->recv_paused && !s->gone && queue_low(s, s->c->route->max_collected);
  if (resume) s->recv_paused = 0;
  pthread_mutex_unlock(&s->mu);
  /* The worker holds a reference to the call until it returns; the
   * transport's lock is taken only with mu released. */
  if (resume) connectc_server_call_run(s->c->call, op_resume_recv, NULL);
  return rv;
}

/* The window has room again (transport's thread, its lock held: the
 * allowed order is the transport's lock, then mu). */
static void stream_writable(connectc_responder *r, void *arg) {
  (void)r;
  connectc_server_stream *s = arg;
  pthread_mutex_lock(&s->mu);
  s->writable = 1;
  pthread_cond_broadcast(&s->cv);
  pthread_mutex_unlock(&s->mu);
}

int connectc_server_stream_send(connectc_server_stream *s, const ProtobufCMessage *message) {
  if (!s) return CONNECTC_ERR_ARGUMENT;
  int rv;
  /* The worker may wait: while the client reads slower than the handler
   * sends, until the send window has room (or the call ends). */
  while ((rv = connectc_responder_send(s->c, message)) == CONNECTC_ERR_FULL) {
    pthread_mutex_lock(&s->mu);
    s->writable = 0;
    pthread_mutex_unlock(&s->mu);
    connectc_responder_on_writable(s->c, stream_writable, s);
    pthread_mutex_lock(&s->mu);
    while (!s->writable && !s->gone) pthread_cond_wait(&s->cv, &s->mu);
    int gone = s->gone && !s->writable;
    pthread_mutex_unlock(&s->mu);
    if (gone) return CONNECTC_ERR_STATE;
  }
  return rv;
}

connectc_responder *connectc_server_stream_responder(connectc_server_stream *s) {
  return s ? s->c : NULL;
}

const connectc_allocator *connectc_server_stream_allocator(const connectc_server_stream *s) {
  return &s->c->route->alloc;
}

typedef struct writable_op {
  connectc_responder *r;
  void (*fn)(connectc_responder *r, void *arg);
  void *arg;
} writable_op;

static void op_on_writable(connectc_server_call *call, void *arg) {
  writable_op *op = arg;
  if (connectc_server_call_is_finished(call)) {
    op->r->on_writable = NULL; /* ended: on_cancel says so, not this */
    return;
  }
  if (op->fn && connectc_server_call_writable(call)) {
    op->r->on_writable = NULL;
    op->fn(op->r, op->arg); /* room already: at once */
    return;
  }
  op->r->on_writable = op->fn;
  op->r->on_writable_arg = op->arg;
  if (op->fn) connectc_server_call_want_writable(call);
}

void connectc_responder_on_writable(connectc_responder *r,
                                    void (*fn)(connectc_responder *r, void *arg), void *arg) {
  if (!r) return;
  writable_op op = {r, fn, arg};
  /* fn may finish the responder when it runs at once: hold the call. */
  connectc_server_call *call = r->call;
  connectc_server_call_ref(call);
  connectc_server_call_run(call, op_on_writable, &op);
  connectc_server_call_unref(call);
}
