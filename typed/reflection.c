/* Server reflection, grpc.reflection.v1 and v1alpha, on the generated
 * streaming handler interface: one response per request, at once. */
#include <string.h>

#include "buf.h"
#include "connectc/reflection.h"
#include "connectc/service.h"
#include "google/protobuf/any.connect.h"
#include "google/protobuf/duration.connect.h"
#include "google/protobuf/empty.connect.h"
#include "google/protobuf/field_mask.connect.h"
#include "google/protobuf/struct.connect.h"
#include "google/protobuf/timestamp.connect.h"
#include "google/protobuf/wrappers.connect.h"
#include "grpc/health/v1/health.connect.h"
#include "grpc/reflection/v1/reflection.connect.h"
#include "grpc/reflection/v1alpha/reflection.connect.h"

/* What one registration serves. */
typedef struct reflection {
  connectc_allocator alloc;
  connectc_router *router;
  const connectc_file_descriptor **files; /* the application's, then the library's */
  size_t n_files;
} reflection;

/* The library's own files, always described. */
static const connectc_file_descriptor *const builtin[] = {
    &grpc_reflection_v1_reflection__file_descriptor,
    &grpc_reflection_v1alpha_reflection__file_descriptor,
    &grpc_health_v1_health__file_descriptor,
    &google_protobuf_any__file_descriptor,
    &google_protobuf_duration__file_descriptor,
    &google_protobuf_empty__file_descriptor,
    &google_protobuf_field_mask__file_descriptor,
    &google_protobuf_struct__file_descriptor,
    &google_protobuf_timestamp__file_descriptor,
    &google_protobuf_wrappers__file_descriptor,
};

/* Per stream: the files already sent (each goes once). */
typedef struct stream_state {
  reflection *rf;
  const connectc_file_descriptor **sent;
  size_t n_sent, cap_sent;
} stream_state;

/* Depth-first search through the given files and their imports. The
 * graph is acyclic (protoc refuses import cycles) and `seen` bounds the
 * walk anyway. */
typedef int (*match_fn)(const connectc_file_descriptor *f, const char *want);

static int match_name(const connectc_file_descriptor *f, const char *want) {
  return strcmp(f->name, want) == 0;
}

static int match_symbol(const connectc_file_descriptor *f, const char *want) {
  for (size_t i = 0; i < f->n_symbols; i++)
    if (strcmp(f->symbols[i], want) == 0) return 1;
  return 0;
}

/* Iterative walk with an explicit stack (no recursion on untrusted depth:
 * the depth is the generator's import depth, bounded by `cap`). */
static const connectc_file_descriptor *find_file(const reflection *rf, match_fn match,
                                                 const char *want) {
  const connectc_file_descriptor *stack[256];
  size_t top = 0;
  for (size_t i = 0; i < rf->n_files; i++) {
    top = 0;
    stack[top++] = rf->files[i];
    while (top > 0) {
      const connectc_file_descriptor *f = stack[--top];
      if (match(f, want)) return f;
      for (size_t d = 0; d < f->n_deps && top < sizeof stack / sizeof stack[0]; d++)
        stack[top++] = f->deps[d];
    }
  }
  return NULL;
}

static int already_sent(const stream_state *st, const connectc_file_descriptor *f) {
  for (size_t i = 0; i < st->n_sent; i++)
    if (st->sent[i] == f || strcmp(st->sent[i]->name, f->name) == 0) return 1;
  return 0;
}

/* Collects `root` (always, first) and those of its imports not yet sent on
 * this stream, as grpc-go's reflection answers. */
static int collect(stream_state *st, const connectc_file_descriptor *root,
                   const connectc_file_descriptor **out, size_t cap, size_t *n) {
  const connectc_file_descriptor *stack[256];
  size_t top = 0;
  stack[top++] = root;
  while (top > 0) {
    const connectc_file_descriptor *f = stack[--top];
    int sent = already_sent(st, f);
    if (sent && f != root) continue;
    if (*n == cap) return CONNECTC_ERR_LIMIT;
    if (sent) { /* the root again: send it, record nothing */
      out[(*n)++] = f;
      for (size_t d = 0; d < f->n_deps && top < sizeof stack / sizeof stack[0]; d++)
        stack[top++] = f->deps[d];
      continue;
    }
    if (st->n_sent == st->cap_sent) {
      size_t ncap = st->cap_sent ? st->cap_sent * 2 : 16;
      const connectc_file_descriptor **grown =
          cc_realloc(&st->rf->alloc, (void *)st->sent, ncap * sizeof *grown);
      if (!grown) return CONNECTC_ERR_NOMEM;
      st->sent = grown;
      st->cap_sent = ncap;
    }
    st->sent[st->n_sent++] = f;
    out[(*n)++] = f;
    for (size_t d = 0; d < f->n_deps && top < sizeof stack / sizeof stack[0]; d++)
      stack[top++] = f->deps[d];
  }
  return CONNECTC_OK;
}

/* The answer to one request, in the v1 message types (v1alpha's have the
 * same layout field for field; see answer_v1alpha). */
typedef Grpc__Reflection__V1__ServerReflectionRequest Req1;
typedef Grpc__Reflection__V1__ServerReflectionResponse Resp1;

#define MAX_FILES 256

static int answer(stream_state *st, const char *host, int which, const char *arg,
                  Resp1 *resp, ProtobufCBinaryData *files, const connectc_file_descriptor **fds,
                  Grpc__Reflection__V1__FileDescriptorResponse *fdr,
                  Grpc__Reflection__V1__ListServiceResponse *lsr,
                  Grpc__Reflection__V1__ServiceResponse *svcs, Grpc__Reflection__V1__ServiceResponse **svc_ptrs,
                  char **names, size_t max_svcs, Grpc__Reflection__V1__ErrorResponse *er,
                  ProtobufCBinaryData **file_ptrs) {
  (void)host;
  reflection *rf = st->rf;
  resp->valid_host = (char *)"";
  if (which == 7) { /* list_services */
    size_t n = 0;
    for (size_t i = 0; i < connectc_router_route_count(rf->router) && n < max_svcs; i++) {
      const connectc_route *r = connectc_router_route_at(rf->router, i);
      const char *p = r->method->procedure + 1; /* "/pkg.Svc/Method" */
      const char *slash = strchr(p, '/');
      size_t len = slash ? (size_t)(slash - p) : strlen(p);
      int dup = 0;
      for (size_t k = 0; k < n && !dup; k++) dup = strlen(names[k]) == len && memcmp(names[k], p, len) == 0;
      if (dup) continue;
      names[n] = cc_strndup(&rf->alloc, p, len);
      if (!names[n]) return CONNECTC_ERR_NOMEM;
      Grpc__Reflection__V1__ServiceResponse init = GRPC__REFLECTION__V1__SERVICE_RESPONSE__INIT;
      svcs[n] = init;
      svcs[n].name = names[n];
      svc_ptrs[n] = &svcs[n];
      n++;
    }
    lsr->service = svc_ptrs;
    lsr->n_service = n;
    resp->message_response_case = GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_LIST_SERVICES_RESPONSE;
    resp->list_services_response = lsr;
    return CONNECTC_OK;
  }
  const connectc_file_descriptor *f = NULL;
  const char *what = "";
  if (which == 3) {
    f = find_file(rf, match_name, arg);
    what = "file";
  } else if (which == 4) {
    f = find_file(rf, match_symbol, arg);
    what = "symbol";
  }
  if (!f) {
    er->error_code = CONNECTC_CODE_NOT_FOUND;
    er->error_message = (char *)(which == 3 || which == 4 ? what : "extension");
    resp->message_response_case = GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE;
    resp->error_response = er;
    return CONNECTC_OK;
  }
  size_t n = 0;
  int rv = collect(st, f, fds, MAX_FILES, &n);
  if (rv == CONNECTC_ERR_NOMEM) return rv;
  for (size_t i = 0; i < n; i++) {
    files[i].data = (uint8_t *)fds[i]->data;
    files[i].len = fds[i]->len;
    file_ptrs[i] = &files[i];
  }
  (void)file_ptrs;
  fdr->file_descriptor_proto = files;
  fdr->n_file_descriptor_proto = n;
  resp->message_response_case = GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_FILE_DESCRIPTOR_RESPONSE;
  resp->file_descriptor_response = fdr;
  return CONNECTC_OK;
}

/* Which query a request carries (the oneof case numbers are the field
 * numbers, the same in v1 and v1alpha) and its string argument. */
static int query_of(int which_case, const char *by_name, const char *by_symbol, const char **arg) {
  *arg = "";
  switch (which_case) {
    case 3: *arg = by_name ? by_name : ""; return 3;
    case 4: *arg = by_symbol ? by_symbol : ""; return 4;
    case 5: return 5;
    case 6: return 6;
    case 7: return 7;
    default: return 0;
  }
}

/* Builds and sends one response to a v1 request. For v1alpha the same
 * response, built in the v1 types, is re-read as v1alpha (the two
 * versions are the same messages on the wire). */
static void respond(stream_state *st, connectc_responder *r, int v1alpha, const Req1 *req, int which,
                    const char *arg) {
  reflection *rf = st->rf;
  Resp1 resp = GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__INIT;
  Grpc__Reflection__V1__FileDescriptorResponse fdr = GRPC__REFLECTION__V1__FILE_DESCRIPTOR_RESPONSE__INIT;
  Grpc__Reflection__V1__ListServiceResponse lsr = GRPC__REFLECTION__V1__LIST_SERVICE_RESPONSE__INIT;
  Grpc__Reflection__V1__ErrorResponse er = GRPC__REFLECTION__V1__ERROR_RESPONSE__INIT;
  size_t max_svcs = connectc_router_route_count(rf->router) + 1;
  Grpc__Reflection__V1__ServiceResponse *svcs = cc_malloc(&rf->alloc, max_svcs * sizeof *svcs);
  Grpc__Reflection__V1__ServiceResponse **svc_ptrs = cc_malloc(&rf->alloc, max_svcs * sizeof *svc_ptrs);
  char **names = cc_malloc(&rf->alloc, max_svcs * sizeof *names);
  ProtobufCBinaryData *files = cc_malloc(&rf->alloc, MAX_FILES * sizeof *files);
  ProtobufCBinaryData **file_ptrs = cc_malloc(&rf->alloc, MAX_FILES * sizeof *file_ptrs);
  const connectc_file_descriptor **fds = cc_malloc(&rf->alloc, MAX_FILES * sizeof *fds);
  int rv = svcs && svc_ptrs && names && files && file_ptrs && fds ? CONNECTC_OK : CONNECTC_ERR_NOMEM;
  if (names) memset(names, 0, max_svcs * sizeof *names);
  if (rv == CONNECTC_OK && which == 0) {
    er.error_code = CONNECTC_CODE_INVALID_ARGUMENT;
    er.error_message = (char *)"the request carries no query";
    resp.message_response_case = GRPC__REFLECTION__V1__SERVER_REFLECTION_RESPONSE__MESSAGE_RESPONSE_ERROR_RESPONSE;
    resp.error_response = &er;
  } else if (rv == CONNECTC_OK) {
    rv = answer(st, "", which, arg, &resp, files, fds, &fdr, &lsr, svcs, svc_ptrs, names, max_svcs,
                &er, file_ptrs);
  }
  if (rv == CONNECTC_OK) {
    resp.original_request = (Req1 *)req;
    if (v1alpha) {
      ProtobufCAllocator pa = connectc_protobuf_allocator(&rf->alloc);
      size_t len = protobuf_c_message_get_packed_size(&resp.base);
      uint8_t *buf = cc_malloc(&rf->alloc, len ? len : 1);
      Grpc__Reflection__V1alpha__ServerReflectionResponse *alpha = NULL;
      if (buf) {
        protobuf_c_message_pack(&resp.base, buf);
        alpha = grpc__reflection__v1alpha__server_reflection_response__unpack(&pa, len, buf);
      }
      rv = alpha ? grpc_reflection_v1alpha_server_reflection_server_reflection_info__respond(r, alpha)
                 : CONNECTC_ERR_NOMEM;
      if (alpha) grpc__reflection__v1alpha__server_reflection_response__free_unpacked(alpha, &pa);
      cc_free(&rf->alloc, buf);
    } else {
      rv = grpc_reflection_v1_server_reflection_server_reflection_info__respond(r, &resp);
    }
  }
  for (size_t i = 0; names && i < max_svcs; i++) cc_free(&rf->alloc, names[i]);
  cc_free(&rf->alloc, names);
  cc_free(&rf->alloc, svcs);
  cc_free(&rf->alloc, svc_ptrs);
  cc_free(&rf->alloc, files);
  cc_free(&rf->alloc, file_ptrs);
  cc_free(&rf->alloc, (void *)fds);
  if (rv != CONNECTC_OK) {
    connectc_error e;
    connectc_error_init(&e, NULL);
    connectc_error_set(&e, CONNECTC_CODE_RESOURCE_EXHAUSTED, "out of memory answering a reflection request");
    connectc_responder_finish(r, &e);
    connectc_error_reset(&e);
  }
}

static void state_free(stream_state *st) {
  if (!st) return;
  connectc_allocator a = st->rf->alloc;
  cc_free(&a, (void *)st->sent);
  cc_free(&a, st);
}

static void on_cancel(connectc_responder *r, const connectc_error *why, void *arg) {
  (void)why;
  stream_state *st = arg;
  connectc_responder_set_user_data(r, NULL);
  state_free(st);
  connectc_responder_finish(r, NULL);
}

static void start(void *impl, connectc_responder *r) {
  reflection *rf = impl;
  stream_state *st = cc_malloc(&rf->alloc, sizeof *st);
  if (!st) {
    connectc_error e;
    connectc_error_init(&e, NULL);
    connectc_error_set(&e, CONNECTC_CODE_RESOURCE_EXHAUSTED, "out of memory starting reflection");
    connectc_responder_finish(r, &e);
    connectc_error_reset(&e);
    return;
  }
  memset(st, 0, sizeof *st);
  st->rf = rf;
  connectc_responder_set_user_data(r, st);
  connectc_responder_on_cancel(r, on_cancel, st);
}

static void end(void *impl, connectc_responder *r) {
  (void)impl;
  stream_state *st = connectc_responder_user_data(r);
  connectc_responder_set_user_data(r, NULL);
  state_free(st);
  connectc_responder_finish(r, NULL);
}

static void request_v1(void *impl, connectc_responder *r, const Req1 *req) {
  (void)impl;
  stream_state *st = connectc_responder_user_data(r);
  if (!st) return;
  const char *arg;
  int which = query_of((int)req->message_request_case, req->file_by_filename,
                       req->file_containing_symbol, &arg);
  respond(st, r, 0, req, which, arg);
}

static void request_v1alpha(void *impl, connectc_responder *r,
                            const Grpc__Reflection__V1alpha__ServerReflectionRequest *req) {
  (void)impl;
  stream_state *st = connectc_responder_user_data(r);
  if (!st) return;
  /* Read as v1 (the same message on the wire), answered as v1alpha. */
  reflection *rf = st->rf;
  ProtobufCAllocator pa = connectc_protobuf_allocator(&rf->alloc);
  size_t len = protobuf_c_message_get_packed_size(&req->base);
  uint8_t *buf = cc_malloc(&rf->alloc, len ? len : 1);
  Req1 *v1 = NULL;
  if (buf) {
    protobuf_c_message_pack(&req->base, buf);
    v1 = grpc__reflection__v1__server_reflection_request__unpack(&pa, len, buf);
  }
  cc_free(&rf->alloc, buf);
  if (!v1) {
    connectc_error e;
    connectc_error_init(&e, NULL);
    connectc_error_set(&e, CONNECTC_CODE_RESOURCE_EXHAUSTED, "out of memory reading a reflection request");
    connectc_responder_finish(r, &e);
    connectc_error_reset(&e);
    return;
  }
  const char *arg;
  int which = query_of((int)v1->message_request_case, v1->file_by_filename,
                       v1->file_containing_symbol, &arg);
  respond(st, r, 1, v1, which, arg);
  grpc__reflection__v1__server_reflection_request__free_unpacked(v1, &pa);
}

static void reflection_del(void *p) {
  reflection *rf = p;
  connectc_allocator a = rf->alloc;
  cc_free(&a, (void *)rf->files);
  cc_free(&a, rf);
}

int connectc_reflection_register(connectc_router *router,
                                 const connectc_file_descriptor *const *files, size_t n_files,
                                 const connectc_codec *json) {
  if (!router || (!files && n_files)) return CONNECTC_ERR_ARGUMENT;
  const connectc_allocator *a = connectc_router_allocator(router);
  size_t nb = sizeof builtin / sizeof builtin[0];
  reflection *rf = cc_malloc(a, sizeof *rf);
  const connectc_file_descriptor **all = rf ? cc_malloc(a, (n_files + nb) * sizeof *all) : NULL;
  if (!all) {
    cc_free(a, rf);
    return CONNECTC_ERR_NOMEM;
  }
  memset(rf, 0, sizeof *rf);
  rf->alloc = *a;
  rf->router = router;
  for (size_t i = 0; i < n_files; i++) all[i] = files[i];
  for (size_t i = 0; i < nb; i++) all[n_files + i] = builtin[i];
  rf->files = all;
  rf->n_files = n_files + nb;
  static const grpc_reflection_v1_server_reflection__streaming_handlers v1 = {
      .server_reflection_info = {.on_start = start, .on_request = request_v1, .on_requests_end = end},
  };
  static const grpc_reflection_v1alpha_server_reflection__streaming_handlers v1a = {
      .server_reflection_info = {.on_start = start, .on_request = request_v1alpha, .on_requests_end = end},
  };
  /* The router owns it from the start, so that no route can outlive it. */
  int rv = connectc_router_own(router, rf, reflection_del);
  if (rv != CONNECTC_OK) {
    reflection_del(rf);
    return rv;
  }
  rv = grpc_reflection_v1_server_reflection__register_streaming(router, &v1, rf, json);
  if (rv == CONNECTC_OK)
    rv = grpc_reflection_v1alpha_server_reflection__register_streaming(router, &v1a, rf, json);
  return rv;
}
