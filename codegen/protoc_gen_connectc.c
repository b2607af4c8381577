/*
 * protoc-gen-connectc: the connectc protoc plugin.
 *
 * Reads a CodeGeneratorRequest on stdin and answers a
 * CodeGeneratorResponse on stdout. For every file to generate,
 * "<name>.proto", it emits "<name>.connect.h" and "<name>.connect.c", which
 * sit next to protoc-c's "<name>.pb-c.h" / "<name>.pb-c.c" and hold:
 *
 *  - per message (nested and map-entry messages included): the JSON
 *    metadata the connectc JSON codec needs (connectc_message_info);
 *  - per file: "<file>__register_types()", registering those messages and
 *    those of the imported files (google/protobuf/ files excepted);
 *  - per service: one connectc_method_desc per method, with the input and
 *    output message descriptors, and an array of all methods.
 *
 * Naming rules are documented in codegen/README.md. What the generator
 * cannot handle (groups, protobuf-c's c_package option, unknown syntax) is
 * refused with CodeGeneratorResponse.error naming the file and element.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cg_util.h"
#include "google/protobuf/compiler/plugin.pb-c.h"
#include "google/protobuf/descriptor.pb-c.h"

typedef Google__Protobuf__Compiler__CodeGeneratorRequest Request;
typedef Google__Protobuf__Compiler__CodeGeneratorResponse Response;
typedef Google__Protobuf__Compiler__CodeGeneratorResponse__File ResponseFile;
typedef Google__Protobuf__FileDescriptorProto FileProto;
typedef Google__Protobuf__DescriptorProto MsgProto;
typedef Google__Protobuf__FieldDescriptorProto FieldProto;
typedef Google__Protobuf__ServiceDescriptorProto ServiceProto;
typedef Google__Protobuf__MethodDescriptorProto MethodProto;

#define PLUGIN_NAME "protoc-gen-connectc"

/* protobuf-c's file option extension (protobuf-c.proto: pb_c_file = 1019)
 * and the fields of ProtobufCFileOptions we look at. */
#define PBC_FILE_OPTIONS_EXT 1019u
#define PBC_NO_GENERATE 1u
#define PBC_C_PACKAGE 6u

/* One message of the request, by full name (no leading dot). */
typedef struct msg_entry {
  char *full_name;
  const MsgProto *msg;
  const FileProto *file;
} msg_entry;

typedef struct gen_ctx {
  const Request *req;
  msg_entry *msgs;
  size_t n_msgs;
  cg_str err; /* the first error, for CodeGeneratorResponse.error */
  /* C names declared for the current file, to refuse collisions. */
  struct {
    char *name;
    char *owner; /* who declares it, for the error message */
  } *syms;
  size_t n_syms;
} gen_ctx;

static int fail(gen_ctx *ctx, const char *fmt, ...) CG_PRINTF(2, 3);
static int fail(gen_ctx *ctx, const char *fmt, ...) {
  va_list ap;
  if (ctx->err.len) return -1;
  va_start(ap, fmt);
  cg_str_vprintf(&ctx->err, fmt, ap);
  va_end(ap);
  return -1;
}

/* ------------------------------------------------------------------ */
/* Request indexing                                                    */
/* ------------------------------------------------------------------ */

static char *join_name(const char *prefix, const char *name) {
  cg_str s = {0};
  if (prefix && *prefix) {
    cg_str_puts(&s, prefix);
    cg_str_putc(&s, '.');
  }
  cg_str_puts(&s, name);
  return cg_str_take(&s);
}

static void index_msgs(gen_ctx *ctx, const FileProto *file, const char *scope,
                       MsgProto *const *msgs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    const MsgProto *m = msgs[i];
    char *full = join_name(scope, m->name ? m->name : "");
    ctx->msgs = cg_xrealloc(ctx->msgs, (ctx->n_msgs + 1) * sizeof *ctx->msgs);
    ctx->msgs[ctx->n_msgs].full_name = full;
    ctx->msgs[ctx->n_msgs].msg = m;
    ctx->msgs[ctx->n_msgs].file = file;
    ctx->n_msgs++;
    index_msgs(ctx, file, full, m->nested_type, m->n_nested_type);
  }
}

/* Looks a message up by a type_name as protoc writes it (".pkg.Msg"). */
static const msg_entry *find_msg(const gen_ctx *ctx, const char *type_name) {
  if (!type_name) return NULL;
  if (*type_name == '.') type_name++;
  for (size_t i = 0; i < ctx->n_msgs; i++)
    if (strcmp(ctx->msgs[i].full_name, type_name) == 0) return &ctx->msgs[i];
  return NULL;
}

static const FileProto *find_file(const gen_ctx *ctx, const char *name) {
  for (size_t i = 0; i < ctx->req->n_proto_file; i++)
    if (ctx->req->proto_file[i]->name && strcmp(ctx->req->proto_file[i]->name, name) == 0)
      return ctx->req->proto_file[i];
  return NULL;
}

/* ------------------------------------------------------------------ */
/* protobuf-c file options, seen as unknown fields of FileOptions      */
/* ------------------------------------------------------------------ */

static int read_varint(const uint8_t **p, const uint8_t *end, uint64_t *out) {
  uint64_t v = 0;
  for (unsigned shift = 0; shift < 64; shift += 7) {
    uint8_t b;
    if (*p >= end) return -1;
    b = *(*p)++;
    v |= (uint64_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return 0;
    }
  }
  return -1;
}

/* Scans a serialized ProtobufCFileOptions for c_package and no_generate. */
static void scan_pbc_options(const uint8_t *p, const uint8_t *end, int *has_c_package,
                             int *no_generate) {
  while (p < end) {
    uint64_t key, v;
    if (read_varint(&p, end, &key) != 0) return;
    switch (key & 7u) {
      case 0:
        if (read_varint(&p, end, &v) != 0) return;
        if ((key >> 3) == PBC_NO_GENERATE) *no_generate = v != 0;
        break;
      case 1:
        if (end - p < 8) return;
        p += 8;
        break;
      case 2:
        if (read_varint(&p, end, &v) != 0 || v > (uint64_t)(end - p)) return;
        if ((key >> 3) == PBC_C_PACKAGE) *has_c_package = 1;
        p += v;
        break;
      case 5:
        if (end - p < 4) return;
        p += 4;
        break;
      default:
        return;
    }
  }
}

static void pbc_file_options(const FileProto *f, int *has_c_package, int *no_generate) {
  *has_c_package = 0;
  *no_generate = 0;
  if (!f->options) return;
  for (size_t i = 0; i < f->options->base.n_unknown_fields; i++) {
    const ProtobufCMessageUnknownField *u = &f->options->base.unknown_fields[i];
    const uint8_t *p = u->data, *end = u->data + u->len;
    uint64_t len;
    if (u->tag != PBC_FILE_OPTIONS_EXT || u->wire_type != PROTOBUF_C_WIRE_TYPE_LENGTH_PREFIXED)
      continue;
    /* protobuf-c keeps the length prefix in the unknown field's data. */
    if (read_varint(&p, end, &len) != 0 || len != (uint64_t)(end - p)) p = u->data;
    scan_pbc_options(p, end, has_c_package, no_generate);
  }
}

static int is_google_protobuf(const char *name) {
  return strncmp(name, "google/protobuf/", 16) == 0;
}

/* ------------------------------------------------------------------ */
/* Names                                                               */
/* ------------------------------------------------------------------ */

/* "connectrpc/conformance/v1/service.proto" -> "connectrpc/conformance/v1/service" */
static char *file_base(const char *name) {
  size_t n = strlen(name);
  char *b = cg_xstrdup(name);
  if (n > 6 && strcmp(name + n - 6, ".proto") == 0) b[n - 6] = '\0';
  return b;
}

/* The file's C prefix: its path without ".proto", every character other
 * than [A-Za-z0-9_] replaced by '_'. */
static char *file_symbol(const char *name) {
  char *b = file_base(name);
  for (char *p = b; *p; p++) {
    char c = *p;
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))) *p = '_';
  }
  return b;
}

static char *upper(const char *s) {
  char *u = cg_xstrdup(s);
  for (char *p = u; *p; p++)
    if (*p >= 'a' && *p <= 'z') *p = (char)(*p - 'a' + 'A');
  return u;
}

/* A malloc'd printf. */
static char *xfmt(const char *fmt, ...) CG_PRINTF(1, 2);
static char *xfmt(const char *fmt, ...) {
  cg_str s = {0};
  va_list ap;
  va_start(ap, fmt);
  cg_str_vprintf(&s, fmt, ap);
  va_end(ap);
  return cg_str_take(&s);
}

/* cg_snake_case(name) into a new string; refuses (naming `what`) a name
 * from which no C identifier follows: empty ("_") or starting with a digit
 * ("_1st"). */
static int c_word(gen_ctx *ctx, const char *file, const char *what, const char *name,
                  char **out) {
  cg_str s = {0};
  cg_snake_case(&s, name);
  if (s.len == 0 || (s.data[0] >= '0' && s.data[0] <= '9')) {
    cg_str_free(&s);
    return fail(ctx,
                "%s: %s: the name \"%s\" gives no C identifier (without its underscores it is "
                "empty or starts with a digit); rename it",
                file, what, name);
  }
  *out = cg_str_take(&s);
  return 0;
}

/* The service's C name S (see README, "Names"): the package components
 * and the service name, each cg_snake_case'd, joined with '_':
 * "connectrpc.conformance.v1" + "ConformanceService" ->
 * "connectrpc_conformance_v1_conformance_service". */
static int service_symbol(gen_ctx *ctx, const FileProto *file, const char *full,
                          const char *service, char **out) {
  cg_str s = {0};
  const char *p = file->package ? file->package : "";
  while (*p) {
    const char *dot = strchr(p, '.');
    size_t n = dot ? (size_t)(dot - p) : strlen(p);
    char *piece = cg_xmalloc(n + 1), *word = NULL;
    memcpy(piece, p, n);
    piece[n] = '\0';
    if (n) {
      char *what = xfmt("service %s, package component", full);
      int bad = c_word(ctx, file->name, what, piece, &word);
      free(what);
      if (bad) {
        free(piece);
        cg_str_free(&s);
        return -1;
      }
      cg_str_puts(&s, word);
      cg_str_putc(&s, '_');
      free(word);
    }
    free(piece);
    p += n;
    if (*p == '.') p++;
  }
  {
    char *word = NULL, *what = xfmt("service %s", full);
    int bad = c_word(ctx, file->name, what, service, &word);
    free(what);
    if (bad) {
      cg_str_free(&s);
      return -1;
    }
    cg_str_puts(&s, word);
    free(word);
  }
  *out = cg_str_take(&s);
  return 0;
}

/* Records a C name the generated files (or protoc-c's, which they
 * include) declare, and who declares it (`what`, e.g. "service a.B,
 * method C (client stub)"); fails, naming both, when another element
 * already claimed it. The naming scheme makes every collision impossible
 * but two: two elements whose names differ only in case or underscores,
 * and names meeting protoc-c's in a file without a package (README). */
static int claim(gen_ctx *ctx, const char *file, const char *sym, const char *what) {
  for (size_t i = 0; i < ctx->n_syms; i++)
    if (strcmp(ctx->syms[i].name, sym) == 0)
      return fail(ctx, "%s: %s: the generated C name %s is already used by %s", file, what, sym,
                  ctx->syms[i].owner);
  ctx->syms = cg_xrealloc(ctx->syms, (ctx->n_syms + 1) * sizeof *ctx->syms);
  ctx->syms[ctx->n_syms].name = cg_xstrdup(sym);
  ctx->syms[ctx->n_syms].owner = cg_xstrdup(what);
  ctx->n_syms++;
  return 0;
}

/* claim() of "<base><suffix>" by "<what> (<role>)". */
static int claim_as(gen_ctx *ctx, const char *file, const char *base, const char *suffix,
                    const char *what, const char *role) {
  char *sym = xfmt("%s%s", base, suffix), *owner = xfmt("%s (%s)", what, role);
  int rc = claim(ctx, file, sym, owner);
  free(sym);
  free(owner);
  return rc;
}

static void reset_syms(gen_ctx *ctx) {
  for (size_t i = 0; i < ctx->n_syms; i++) {
    free(ctx->syms[i].name);
    free(ctx->syms[i].owner);
  }
  free(ctx->syms);
  ctx->syms = NULL;
  ctx->n_syms = 0;
}

/* The lowerCamelCase JSON name protoc would compute; used only when the
 * request lacks json_name (protoc always fills it). */
static char *default_json_name(const char *name) {
  cg_str s = {0};
  int up = 0;
  for (const char *p = name; *p; p++) {
    if (*p == '_') {
      up = 1;
    } else if (up && *p >= 'a' && *p <= 'z') {
      cg_str_putc(&s, (char)(*p - 'a' + 'A'));
      up = 0;
    } else {
      cg_str_putc(&s, *p);
      up = 0;
    }
  }
  return cg_str_take(&s);
}

/* ------------------------------------------------------------------ */
/* Messages                                                            */
/* ------------------------------------------------------------------ */

static int cmp_field_number(const void *a, const void *b) {
  const FieldProto *fa = *(const FieldProto *const *)a;
  const FieldProto *fb = *(const FieldProto *const *)b;
  return (fa->number > fb->number) - (fa->number < fb->number);
}

static int is_map_field(const gen_ctx *ctx, const FieldProto *f) {
  const msg_entry *e;
  if (f->label != GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__LABEL__LABEL_REPEATED ||
      f->type != GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_MESSAGE)
    return 0;
  e = find_msg(ctx, f->type_name);
  return e && e->msg->options && e->msg->options->has_map_entry && e->msg->options->map_entry;
}

/* Emits the metadata of one message into `c` and its declaration into
 * `h`, and its info symbol into `infos`. */
static int gen_message(gen_ctx *ctx, const FileProto *file, const msg_entry *e, cg_str *h,
                       cg_str *c, cg_str *infos) {
  const MsgProto *m = e->msg;
  char *lower = cg_full_name_to_lower(e->full_name);
  cg_str sym = {0};
  const FieldProto **sorted = NULL;
  int rc = -1;

  /* Nested `extend` blocks do not change the message's layout; extension
   * fields are not part of the JSON metadata (see README). */
  cg_str_printf(&sym, "%s__message_info", lower);
  {
    char *what = xfmt("message %s", e->full_name);
    int bad = claim_as(ctx, file->name, lower, "__message_info", what, "JSON metadata") ||
              (m->n_field > 0 &&
               claim_as(ctx, file->name, lower, "__json_fields", what, "JSON field table")) ||
              (m->n_oneof_decl > 0 &&
               claim_as(ctx, file->name, lower, "__oneof_names", what, "oneof name table"));
    free(what);
    if (bad) goto out;
  }

  sorted = cg_xmalloc((m->n_field ? m->n_field : 1) * sizeof *sorted);
  for (size_t i = 0; i < m->n_field; i++) {
    const FieldProto *f = m->field[i];
    if (f->type == GOOGLE__PROTOBUF__FIELD_DESCRIPTOR_PROTO__TYPE__TYPE_GROUP) {
      fail(ctx, "%s: message %s, field %s: groups are not supported by " PLUGIN_NAME, file->name,
           e->full_name, f->name ? f->name : "");
      goto out;
    }
    if (f->has_oneof_index && (f->oneof_index < 0 || (size_t)f->oneof_index >= m->n_oneof_decl)) {
      fail(ctx, "%s: message %s, field %s: oneof_index %d out of range", file->name, e->full_name,
           f->name ? f->name : "", f->oneof_index);
      goto out;
    }
    sorted[i] = f;
  }
  /* protoc-c orders a descriptor's fields by number. */
  qsort(sorted, m->n_field, sizeof *sorted, cmp_field_number);

  cg_str_printf(h, "/* %s */\nextern const connectc_message_info %s;\n", e->full_name, sym.data);

  cg_str_printf(c, "/* %s */\n", e->full_name);
  if (m->n_field > 0) {
    cg_str_printf(c, "static const connectc_json_field_info %s__json_fields[%zu] = {\n", lower,
                  m->n_field);
    for (size_t i = 0; i < m->n_field; i++) {
      const FieldProto *f = sorted[i];
      char *dflt = NULL;
      const char *json = f->json_name;
      if (!json) json = dflt = default_json_name(f->name ? f->name : "");
      cg_str_printf(c, "  {.number = %d, .json_name = ", f->number);
      cg_str_c_literal(c, json);
      cg_str_printf(c, ", .oneof_index = %d, .is_map = %d, .proto3_optional = %d},\n",
                    f->has_oneof_index ? f->oneof_index : -1, is_map_field(ctx, f),
                    f->has_proto3_optional && f->proto3_optional ? 1 : 0);
      free(dflt);
    }
    cg_str_puts(c, "};\n");
  }
  if (m->n_oneof_decl > 0) {
    cg_str_printf(c, "static const char *const %s__oneof_names[%zu] = {\n", lower,
                  m->n_oneof_decl);
    for (size_t i = 0; i < m->n_oneof_decl; i++) {
      cg_str_puts(c, "  ");
      cg_str_c_literal(c, m->oneof_decl[i]->name ? m->oneof_decl[i]->name : "");
      cg_str_puts(c, ",\n");
    }
    cg_str_puts(c, "};\n");
  }
  cg_str_printf(c, "const connectc_message_info %s = {\n", sym.data);
  cg_str_printf(c, "  .descriptor = &%s__descriptor,\n", lower);
  if (m->n_field > 0)
    cg_str_printf(c, "  .fields = %s__json_fields,\n  .n_fields = %zu,\n", lower, m->n_field);
  else
    cg_str_puts(c, "  .fields = NULL,\n  .n_fields = 0,\n");
  if (m->n_oneof_decl > 0)
    cg_str_printf(c, "  .oneof_names = %s__oneof_names,\n  .n_oneofs = %zu,\n", lower,
                  m->n_oneof_decl);
  else
    cg_str_puts(c, "  .oneof_names = NULL,\n  .n_oneofs = 0,\n");
  cg_str_puts(c, "};\n\n");
  cg_str_printf(infos, "    &%s,\n", sym.data);
  rc = 0;
out:
  free(sorted);
  free(lower);
  cg_str_free(&sym);
  return rc;
}

/* ------------------------------------------------------------------ */
/* Services                                                            */
/* ------------------------------------------------------------------ */

/* The handler-table member of a method whose cg_snake_case name is
 * `word`: `word` itself, or `word_` when cg_is_reserved_member(word). `word`
 * never ends with '_', so an escaped member cannot meet another method's;
 * it never starts with '_' or a digit. */
static char *member_name(const char *word) {
  return cg_is_reserved_member(word) ? xfmt("%s_", word) : cg_xstrdup(word);
}

/* One method's C names: `rpc` is S_R; see README, "Names". */
typedef struct rpc_gen {
  const char *mname;    /* the proto name, for comments */
  const char *svc;      /* S */
  const char *rpc;      /* S_R */
  const char *member;   /* the handler-table member */
  const char *in_type;  /* protoc-c C type of the request */
  const char *out_type; /* ... and of the response */
  int client_streaming;
  int server_streaming;
} rpc_gen;

/* Appends one method's pieces of the typed handler interfaces: the struct
 * members (to hs and ahs), the typed send and respond functions and the
 * invoke trampolines (to h and c), and their registrations (to reg and
 * areg). */
static void gen_handler_pieces(const rpc_gen *g, cg_str *hs, cg_str *ahs, cg_str *h, cg_str *c,
                               cg_str *reg, cg_str *areg) {
  const char *rpc = g->rpc, *member = g->member, *in_type = g->in_type;
  /* Asynchronous variant. */
  if (g->client_streaming)
    cg_str_printf(ahs,
                  "  /* rpc %s: every request (valid until the finish); answer later, from\n"
                  "   * any thread, with %s__respond and connectc_responder_finish. */\n"
                  "  void (*%s)(void *impl, connectc_responder *responder,\n"
                  "      const %s *const *requests, size_t n_requests);\n",
                  g->mname, rpc, member, in_type);
  else
    cg_str_printf(ahs,
                  "  /* rpc %s: the request (valid until the finish); answer later, from\n"
                  "   * any thread, with %s__respond and connectc_responder_finish. */\n"
                  "  void (*%s)(void *impl, connectc_responder *responder, const %s *request);\n",
                  g->mname, rpc, member, in_type);
  cg_str_printf(h, "/* Sends one %s response from an asynchronous handler (any thread). */\n"
                   "int %s__respond(connectc_responder *responder, const %s *message);\n",
                g->mname, rpc, g->out_type);
  cg_str_printf(c, "int %s__respond(connectc_responder *responder, const %s *message) {\n"
                   "  return connectc_responder_send(responder, &message->base);\n}\n\n",
                rpc, g->out_type);
  cg_str_printf(c,
                "static void %s__invoke_async(const void *handlers, void *impl,\n"
                "    connectc_responder *responder, const ProtobufCMessage *const *requests,\n"
                "    size_t n_requests) {\n"
                "  const %s__async_handlers *h = handlers;\n",
                rpc, g->svc);
  if (g->client_streaming) {
    cg_str_printf(c,
                  "  const %s **reqs = (const %s **)connectc_responder_scratch(\n"
                  "      responder, (n_requests ? n_requests : 1) * sizeof *reqs);\n"
                  "  if (!reqs) {\n"
                  "    connectc_error e;\n"
                  "    connectc_error_init(&e, NULL);\n"
                  "    connectc_error_set(&e, CONNECTC_CODE_RESOURCE_EXHAUSTED, \"out of memory\");\n"
                  "    connectc_responder_finish(responder, &e);\n"
                  "    connectc_error_reset(&e);\n"
                  "    return;\n"
                  "  }\n"
                  "  for (size_t i = 0; i < n_requests; i++) reqs[i] = (const %s *)requests[i];\n"
                  "  h->%s(impl, responder, reqs, n_requests);\n}\n\n",
                  in_type, in_type, in_type, member);
  } else {
    cg_str_printf(c,
                  "  if (n_requests != 1) {\n"
                  "    connectc_error e;\n"
                  "    connectc_error_init(&e, NULL);\n"
                  "    connectc_error_set(&e, CONNECTC_CODE_UNIMPLEMENTED, \"expected one request\");\n"
                  "    connectc_responder_finish(responder, &e);\n"
                  "    connectc_error_reset(&e);\n"
                  "    return;\n"
                  "  }\n"
                  "  h->%s(impl, responder, (const %s *)requests[0]);\n}\n\n",
                  member, in_type);
  }
  cg_str_printf(areg,
                "  {\n"
                "    const connectc_typed_method m = {\n"
                "        .desc = &%s__method.desc,\n"
                "        .input = %s__method.input,\n"
                "        .output = %s__method.output,\n"
                "        .implemented = handlers->%s != NULL,\n"
                "        .invoke_async = %s__invoke_async,\n"
                "    };\n"
                "    int rv = connectc_router_add_typed(router, &m, handlers, impl, json);\n"
                "    if (rv) return rv;\n"
                "  }\n",
                rpc, rpc, rpc, member, rpc);
  /* Synchronous variant. */
  if (g->client_streaming)
    cg_str_printf(hs,
                  "  /* rpc %s: every request, then send responses on `responses`\n"
                  "   * with %s__send. */\n"
                  "  int (*%s)(void *impl, connectc_server_call *call, const %s *const *requests,\n"
                  "      size_t n_requests, connectc_response_writer *responses, connectc_error *error);\n",
                  g->mname, rpc, member, in_type);
  else
    cg_str_printf(hs,
                  "  /* rpc %s: the request, then send responses on `responses`\n"
                  "   * with %s__send. */\n"
                  "  int (*%s)(void *impl, connectc_server_call *call, const %s *request,\n"
                  "      connectc_response_writer *responses, connectc_error *error);\n",
                  g->mname, rpc, member, in_type);
  cg_str_printf(h, "/* Sends one %s response from a handler. */\n"
                   "int %s__send(connectc_response_writer *responses, const %s *message);\n\n",
                g->mname, rpc, g->out_type);
  cg_str_printf(c, "int %s__send(connectc_response_writer *responses, const %s *message) {\n"
                   "  return connectc_response_writer_send(responses, &message->base);\n}\n\n",
                rpc, g->out_type);
  cg_str_printf(c,
                "static int %s__invoke(const void *handlers, void *impl, connectc_server_call *call,\n"
                "    const ProtobufCMessage *const *requests, size_t n_requests,\n"
                "    connectc_response_writer *responses, connectc_error *error) {\n"
                "  const %s__handlers *h = handlers;\n",
                rpc, g->svc);
  if (g->client_streaming) {
    cg_str_printf(c,
                  "  const connectc_allocator *a = connectc_default_allocator();\n"
                  "  const %s **reqs = (const %s **)a->malloc(\n"
                  "      (n_requests ? n_requests : 1) * sizeof *reqs, a->user_data);\n"
                  "  if (!reqs) {\n"
                  "    connectc_error_set(error, CONNECTC_CODE_RESOURCE_EXHAUSTED, \"out of memory\");\n"
                  "    return 1;\n"
                  "  }\n"
                  "  for (size_t i = 0; i < n_requests; i++) reqs[i] = (const %s *)requests[i];\n"
                  "  int rv = h->%s(impl, call, reqs, n_requests, responses, error);\n"
                  "  connectc_free(a, (void *)reqs);\n"
                  "  return rv;\n}\n\n",
                  in_type, in_type, in_type, member);
  } else {
    cg_str_printf(c,
                  "  if (n_requests != 1) {\n"
                  "    connectc_error_set(error, CONNECTC_CODE_UNIMPLEMENTED, \"expected one request\");\n"
                  "    return 1;\n"
                  "  }\n"
                  "  return h->%s(impl, call, (const %s *)requests[0], responses, error);\n}\n\n",
                  member, in_type);
  }
  cg_str_printf(reg,
                "  {\n"
                "    const connectc_typed_method m = {\n"
                "        .desc = &%s__method.desc,\n"
                "        .input = %s__method.input,\n"
                "        .output = %s__method.output,\n"
                "        .invoke = %s__invoke,\n"
                "        .implemented = handlers->%s != NULL,\n"
                "    };\n"
                "    int rv = connectc_router_add_typed(router, &m, handlers, impl, json);\n"
                "    if (rv) return rv;\n"
                "  }\n",
                rpc, rpc, rpc, rpc, member);
}

/* Appends one method's pieces of the streaming handler interface:
 * unary and server-streaming methods take an asynchronous handler (one
 * request, a responder); client-streaming and bidi ones a
 * S_R__stream_handler, either callbacks on the transport's thread or a
 * synchronous `run` on a thread of its own. */
static void gen_stream_pieces(const rpc_gen *g, cg_str *shs, cg_str *h, cg_str *c, cg_str *sreg) {
  const char *rpc = g->rpc, *member = g->member, *in_type = g->in_type, *svc = g->svc;
  if (!g->client_streaming) {
    cg_str_printf(shs,
                  "  /* rpc %s: the request (valid until the finish); answer later, from\n"
                  "   * any thread, with %s__respond and connectc_responder_finish. */\n"
                  "  void (*%s)(void *impl, connectc_responder *responder, const %s *request);\n",
                  g->mname, rpc, member, in_type);
    cg_str_printf(c,
                  "static void %s__invoke_streaming(const void *handlers, void *impl,\n"
                  "    connectc_responder *responder, const ProtobufCMessage *const *requests,\n"
                  "    size_t n_requests) {\n"
                  "  const %s__streaming_handlers *h = handlers;\n"
                  "  if (n_requests != 1) {\n"
                  "    connectc_error e;\n"
                  "    connectc_error_init(&e, NULL);\n"
                  "    connectc_error_set(&e, CONNECTC_CODE_UNIMPLEMENTED, \"expected one request\");\n"
                  "    connectc_responder_finish(responder, &e);\n"
                  "    connectc_error_reset(&e);\n"
                  "    return;\n"
                  "  }\n"
                  "  h->%s(impl, responder, (const %s *)requests[0]);\n}\n\n",
                  rpc, svc, member, in_type);
    cg_str_printf(sreg,
                  "  {\n"
                  "    const connectc_typed_method m = {\n"
                  "        .desc = &%s__method.desc,\n"
                  "        .input = %s__method.input,\n"
                  "        .output = %s__method.output,\n"
                  "        .implemented = handlers->%s != NULL,\n"
                  "        .invoke_async = %s__invoke_streaming,\n"
                  "    };\n"
                  "    int rv = connectc_router_add_typed(router, &m, handlers, impl, json);\n"
                  "    if (rv) return rv;\n"
                  "  }\n",
                  rpc, rpc, rpc, member, rpc);
    return;
  }
  cg_str_printf(h,
                "/* rpc %s, streaming: each request as it arrives. Either the\n"
                " * callbacks (on the transport's thread, its lock held; on_start and\n"
                " * on_requests_end may be NULL: then nothing happens at the start, and\n"
                " * the call finishes with success at the end), answering through the\n"
                " * responder with %s__respond and connectc_responder_finish; or\n"
                " * `run` alone, on a thread of its own, reading with %s__recv and\n"
                " * sending with %s__stream_send (see connectc_stream_handler). */\n"
                "typedef struct %s__stream_handler {\n"
                "  void (*on_start)(void *impl, connectc_responder *responder);\n"
                "  void (*on_request)(void *impl, connectc_responder *responder, const %s *request);\n"
                "  void (*on_requests_end)(void *impl, connectc_responder *responder);\n"
                "  int (*run)(void *impl, connectc_server_stream *stream, connectc_error *error);\n"
                "} %s__stream_handler;\n\n"
                "/* The next %s request of a synchronous streaming handler (blocks):\n"
                " * CONNECTC_OK with *request set (free it with connectc_message_free and\n"
                " * connectc_server_stream_allocator), CONNECTC_OK with NULL once the client\n"
                " * sent everything, CONNECTC_ERR_STATE when the call ended first. */\n"
                "int %s__recv(connectc_server_stream *stream, %s **request);\n"
                "/* Sends one %s response from a synchronous streaming handler. */\n"
                "int %s__stream_send(connectc_server_stream *stream, const %s *message);\n\n",
                g->mname, rpc, rpc, rpc, rpc, in_type, rpc, g->mname, rpc, in_type, g->mname, rpc,
                g->out_type);
  cg_str_printf(shs, "  /* rpc %s: a streaming handler (%s__stream_handler). */\n"
                     "  %s__stream_handler %s;\n",
                g->mname, rpc, rpc, member);
  cg_str_printf(c,
                "int %s__recv(connectc_server_stream *stream, %s **request) {\n"
                "  ProtobufCMessage *m = NULL;\n"
                "  int rv = connectc_server_stream_recv(stream, &m);\n"
                "  if (request) *request = (%s *)m;\n"
                "  return rv;\n}\n\n"
                "int %s__stream_send(connectc_server_stream *stream, const %s *message) {\n"
                "  return connectc_server_stream_send(stream, &message->base);\n}\n\n"
                "static void %s__stream_start(const void *handlers, void *impl,\n"
                "    connectc_responder *responder) {\n"
                "  const %s__streaming_handlers *h = handlers;\n"
                "  if (h->%s.on_start) h->%s.on_start(impl, responder);\n}\n\n"
                "static void %s__stream_request(const void *handlers, void *impl,\n"
                "    connectc_responder *responder, const ProtobufCMessage *request) {\n"
                "  const %s__streaming_handlers *h = handlers;\n"
                "  h->%s.on_request(impl, responder, (const %s *)request);\n}\n\n"
                "static void %s__stream_end(const void *handlers, void *impl,\n"
                "    connectc_responder *responder) {\n"
                "  const %s__streaming_handlers *h = handlers;\n"
                "  if (h->%s.on_requests_end) h->%s.on_requests_end(impl, responder);\n"
                "  else connectc_responder_finish(responder, NULL);\n}\n\n"
                "static int %s__stream_run(const void *handlers, void *impl,\n"
                "    connectc_server_stream *stream, connectc_error *error) {\n"
                "  const %s__streaming_handlers *h = handlers;\n"
                "  return h->%s.run(impl, stream, error);\n}\n\n"
                "static const connectc_stream_handler %s__stream_async = {\n"
                "    .on_start = %s__stream_start,\n"
                "    .on_request = %s__stream_request,\n"
                "    .on_requests_end = %s__stream_end,\n"
                "};\n"
                "static const connectc_stream_handler %s__stream_sync = {\n"
                "    .run = %s__stream_run,\n"
                "};\n\n",
                rpc, in_type, in_type, rpc, g->out_type, rpc, svc, member, member, rpc, svc, member,
                in_type, rpc, svc, member, member, rpc, svc, member, rpc, rpc, rpc, rpc, rpc, rpc);
  cg_str_printf(sreg,
                "  {\n"
                "    /* run, or the callbacks (on_request at least), not both. */\n"
                "    if (handlers->%s.run && (handlers->%s.on_start || handlers->%s.on_request ||\n"
                "                             handlers->%s.on_requests_end))\n"
                "      return CONNECTC_ERR_ARGUMENT;\n"
                "    if (!handlers->%s.run && !handlers->%s.on_request &&\n"
                "        (handlers->%s.on_start || handlers->%s.on_requests_end))\n"
                "      return CONNECTC_ERR_ARGUMENT;\n"
                "    const connectc_typed_method m = {\n"
                "        .desc = &%s__method.desc,\n"
                "        .input = %s__method.input,\n"
                "        .output = %s__method.output,\n"
                "        .implemented = handlers->%s.run != NULL || handlers->%s.on_request != NULL,\n"
                "        .stream = handlers->%s.run ? &%s__stream_sync : &%s__stream_async,\n"
                "    };\n"
                "    int rv = connectc_router_add_typed(router, &m, handlers, impl, json);\n"
                "    if (rv) return rv;\n"
                "  }\n",
                member, member, member, member, member, member, member, member, rpc, rpc, rpc,
                member, member, member, rpc, rpc);
}

/* Emits the typed synchronous client stubs of one method:
 *   S_R(client, request(s), response(s), error)   high level
 *   S_R__call(client, request(s), opts, out)      low level */
static void gen_client_stubs(const rpc_gen *g, cg_str *h, cg_str *c) {
  const char *rpc = g->rpc, *in_type = g->in_type, *out_type = g->out_type;
  cg_str req_params = {0}, req_setup = {0};
  if (g->client_streaming) {
    cg_str_printf(&req_params, "const %s *const *requests, size_t n_requests", in_type);
    cg_str_printf(&req_setup,
                  "  const connectc_allocator *alloc_ =\n"
                  "      client->alloc ? client->alloc : connectc_default_allocator();\n"
                  "  const ProtobufCMessage **reqs = NULL;\n"
                  "  if (n_requests) {\n"
                  "    reqs = (const ProtobufCMessage **)alloc_->malloc(n_requests * sizeof *reqs,\n"
                  "                                                     alloc_->user_data);\n"
                  "    if (!reqs) return CONNECTC_ERR_NOMEM;\n"
                  "    for (size_t i = 0; i < n_requests; i++) reqs[i] = &requests[i]->base;\n"
                  "  }\n");
  } else {
    cg_str_printf(&req_params, "const %s *request", in_type);
  }
  const char *req_args = g->client_streaming ? "reqs, n_requests" : "&one, 1";
  /* Low level. */
  cg_str_printf(h,
                "/* %s, low level: every response message, headers, trailers and the\n"
                " * Connect error land in `out` (init it first; reset it after). Returns\n"
                " * CONNECTC_OK when the call ran, whatever its outcome. */\n"
                "int %s__call(const connectc_client *client, %s,\n"
                "    const connectc_call_options *opts, connectc_call_output *out);\n",
                g->mname, rpc, req_params.data);
  cg_str_printf(c, "int %s__call(const connectc_client *client, %s,\n"
                   "    const connectc_call_options *opts, connectc_call_output *out) {\n",
                rpc, req_params.data);
  if (g->client_streaming) {
    cg_str_puts(c, req_setup.data);
    cg_str_printf(c,
                  "  int rv = connectc_client_invoke(client, &%s__method.desc, %s__method.output, %s,\n"
                  "                                  opts, out);\n"
                  "  connectc_free(alloc_, (void *)reqs);\n"
                  "  return rv;\n}\n\n",
                  rpc, rpc, req_args);
  } else {
    cg_str_printf(c,
                  "  const ProtobufCMessage *one = &request->base;\n"
                  "  return connectc_client_invoke(client, &%s__method.desc, %s__method.output, %s,\n"
                  "                                opts, out);\n}\n\n",
                  rpc, rpc, req_args);
  }
  /* High level. */
  if (g->server_streaming) {
    cg_str_printf(h,
                  "/* %s: the responses in a new array (*responses, *n_responses; free each\n"
                  " * with connectc_message_free and the array with connectc_free, using the\n"
                  " * client's allocator). Returns CONNECTC_OK, or CONNECTC_ERR_RPC with\n"
                  " * `error` (initialised by the caller) set, or another CONNECTC_ERR_*. */\n"
                  "int %s(const connectc_client *client, %s,\n"
                  "    %s ***responses, size_t *n_responses, connectc_error *error);\n\n",
                  g->mname, rpc, req_params.data, out_type);
    cg_str_printf(c, "int %s(const connectc_client *client, %s,\n"
                     "    %s ***responses, size_t *n_responses, connectc_error *error) {\n",
                  rpc, req_params.data, out_type);
  } else {
    cg_str_printf(h,
                  "/* %s: the response in *response (free with connectc_message_free and the\n"
                  " * client's allocator). Returns CONNECTC_OK, or CONNECTC_ERR_RPC with\n"
                  " * `error` (initialised by the caller) set, or another CONNECTC_ERR_*. */\n"
                  "int %s(const connectc_client *client, %s,\n"
                  "    %s **response, connectc_error *error);\n\n",
                  g->mname, rpc, req_params.data, out_type);
    cg_str_printf(c, "int %s(const connectc_client *client, %s,\n"
                     "    %s **response, connectc_error *error) {\n",
                  rpc, req_params.data, out_type);
  }
  cg_str_printf(c,
                "  connectc_call_output out;\n"
                "  connectc_call_output_init(&out, client->alloc);\n"
                "  out.discard_metadata = 1; /* none of it is returned */\n"
                "  int rv = %s__call(client, %s, NULL, &out);\n"
                "  if (rv == CONNECTC_OK && out.error.code != CONNECTC_CODE_OK) rv = CONNECTC_ERR_RPC;\n"
                "  if (rv == CONNECTC_ERR_RPC && error) connectc_error_copy(error, &out.error);\n",
                rpc, g->client_streaming ? "requests, n_requests" : "request");
  if (g->server_streaming) {
    cg_str_printf(c,
                  "  if (rv == CONNECTC_OK) {\n"
                  "    const connectc_allocator *alloc_ =\n"
                  "        client->alloc ? client->alloc : connectc_default_allocator();\n"
                  "    %s **arr = (%s **)alloc_->malloc(\n"
                  "        (out.n_messages ? out.n_messages : 1) * sizeof *arr, alloc_->user_data);\n"
                  "    if (!arr) {\n"
                  "      rv = CONNECTC_ERR_NOMEM;\n"
                  "    } else {\n"
                  "      for (size_t i = 0; i < out.n_messages; i++) arr[i] = (%s *)out.messages[i];\n"
                  "      *responses = arr;\n"
                  "      *n_responses = out.n_messages;\n"
                  "      out.n_messages = 0; /* ownership moved */\n"
                  "    }\n"
                  "  }\n",
                  out_type, out_type, out_type);
  } else {
    cg_str_printf(c,
                  "  if (rv == CONNECTC_OK && out.n_messages == 0) rv = CONNECTC_ERR_PROTOCOL;\n"
                  "  if (rv == CONNECTC_OK) {\n"
                  "    *response = (%s *)out.messages[0];\n"
                  "    out.n_messages = 0; /* ownership moved */\n"
                  "  }\n",
                  out_type);
  }
  cg_str_puts(c, "  connectc_call_output_reset(&out);\n  return rv;\n}\n\n");
  cg_str_free(&req_params);
  cg_str_free(&req_setup);
}

/* Emits the asynchronous client stub of one method:
 *   S_R__callbacks                       typed callbacks
 *   S_R__start(client, [request,] opts, callbacks, user_data, stream)
 *   S_R__send_request(stream, request)   client and bidi streams */
static void gen_client_async(const rpc_gen *g, cg_str *h, cg_str *c) {
  const char *rpc = g->rpc;
  cg_str_printf(h,
                "/* Typed callbacks of an asynchronous %s call (each may be NULL; see\n"
                " * connectc_async_call_callbacks). `response` belongs to the callee: free it\n"
                " * with connectc_message_free and connectc_async_call_allocator(stream). */\n"
                "typedef struct %s__callbacks {\n"
                "  void (*on_headers)(connectc_async_call *stream, const connectc_headers *headers,\n"
                "      void *user_data);\n"
                "  void (*on_response)(connectc_async_call *stream, %s *response, void *user_data);\n"
                "  void (*on_close)(connectc_async_call *stream, const connectc_error *error,\n"
                "      const connectc_headers *trailers, void *user_data);\n"
                "} %s__callbacks;\n\n",
                g->mname, rpc, g->out_type, rpc);
  cg_str_printf(c,
                "static void %s__deliver(connectc_async_call *stream, ProtobufCMessage *message,\n"
                "    void *user_data) {\n"
                "  const %s__callbacks *cb = (const %s__callbacks *)connectc_async_call_typed(stream);\n"
                "  if (cb->on_response) cb->on_response(stream, (%s *)message, user_data);\n"
                "  else connectc_message_free(message, connectc_async_call_allocator(stream));\n"
                "}\n\n",
                rpc, rpc, rpc, g->out_type);
  cg_str rp = {0};
  if (!g->client_streaming) cg_str_printf(&rp, "const %s *request, ", g->in_type);
  else cg_str_puts(&rp, "");
  cg_str_printf(h,
                "/* %s, asynchronous: starts the call on the client's (asynchronous)\n"
                " * transport and returns at once; the outcome comes through `callbacks`\n"
                " * (copied), on the transport's thread. Returns CONNECTC_OK with *stream\n"
                " * set (release it with connectc_async_call_del; on_close may fire\n"
                " * before this returns), or an error with *stream NULL. */\n"
                "int %s__start(const connectc_client *client, %sconst connectc_call_options *opts,\n"
                "    const %s__callbacks *callbacks, void *user_data, connectc_async_call **stream);\n",
                g->mname, rpc, rp.data, rpc);
  cg_str_printf(c,
                "int %s__start(const connectc_client *client, %sconst connectc_call_options *opts,\n"
                "    const %s__callbacks *callbacks, void *user_data, connectc_async_call **stream) {\n"
                "  if (!callbacks%s) return CONNECTC_ERR_ARGUMENT;\n"
                "  const connectc_async_call_callbacks cb = {\n"
                "      .on_headers = callbacks->on_headers,\n"
                "      .on_message = %s__deliver,\n"
                "      .on_close = callbacks->on_close,\n"
                "      .typed = callbacks,\n"
                "      .typed_size = sizeof *callbacks,\n"
                "  };\n"
                "  int rv = connectc_async_call_new(client, &%s__method.desc, %s__method.output, opts,\n"
                "                                   &cb, user_data, stream);\n",
                rpc, rp.data, rpc, g->client_streaming ? "" : " || !request", rpc, rpc, rpc);
  if (g->client_streaming) {
    cg_str_puts(c, "  return rv;\n}\n\n");
    cg_str_printf(h,
                  "/* Queues one %s request on a started stream; close the send side with\n"
                  " * connectc_async_call_close_send. */\n"
                  "int %s__send_request(connectc_async_call *stream, const %s *request);\n",
                  g->mname, rpc, g->in_type);
    cg_str_printf(c,
                  "int %s__send_request(connectc_async_call *stream, const %s *request) {\n"
                  "  return request ? connectc_async_call_send(stream, &request->base)\n"
                  "                 : CONNECTC_ERR_ARGUMENT;\n}\n\n",
                  rpc, g->in_type);
  } else {
    cg_str_puts(c,
                "  /* A request that cannot be sent closes the call: on_close reports it. */\n"
                "  if (rv == CONNECTC_OK) (void)connectc_async_call_send(*stream, &request->base);\n"
                "  return rv;\n}\n\n");
  }
  cg_str_puts(h, "\n");
  cg_str_free(&rp);
}

/* Emits one handler interface of a service (`kind` "" or "asynchronous "):
 * the struct of typed handlers and the function that mounts them. */
static void gen_handler_set(cg_str *h, cg_str *c, const char *full, const char *kind,
                            const char *struct_sym, const char *members, const char *reg_sym,
                            const char *reg_body) {
  cg_str_printf(h,
                "/* The %styped handlers of %s (see connectc/service.h).\n"
                " * A NULL member answers `unimplemented`. */\n"
                "typedef struct %s {\n%s} %s;\n\n"
                "/* Mounts every method of %s on `router` with these %shandlers.\n"
                " * `handlers` and `impl` are borrowed; `json` serves application/json\n"
                " * (NULL: proto only, JSON requests get 415). */\n"
                "int %s(connectc_router *router, const %s *handlers, void *impl,\n"
                "    const connectc_codec *json);\n\n",
                kind, full, struct_sym, members, struct_sym, full, kind, reg_sym, struct_sym);
  cg_str_printf(c,
                "int %s(connectc_router *router, const %s *handlers, void *impl,\n"
                "    const connectc_codec *json) {\n%s  return CONNECTC_OK;\n}\n\n",
                reg_sym, struct_sym, reg_body);
}

static const char *stream_type_name(const MethodProto *m) {
  int cs = m->has_client_streaming && m->client_streaming;
  int ss = m->has_server_streaming && m->server_streaming;
  if (cs && ss) return "CONNECTC_STREAM_BIDI";
  if (cs) return "CONNECTC_STREAM_CLIENT";
  if (ss) return "CONNECTC_STREAM_SERVER";
  return "CONNECTC_STREAM_UNARY";
}

/* Claims every C name one method declares (`what`: "service S, method
 * M"), and the name of protoc-c's client function for it, which the
 * generated header sees through <name>.pb-c.h. */
static int claim_rpc(gen_ctx *ctx, const FileProto *file, const rpc_gen *g, const char *what,
                     const char *pbc_service) {
  static const struct {
    const char *suffix;
    const char *role;
  } names[] = {
      {"", "client stub"},
      {"__call", "low-level client stub"},
      {"__method", "method descriptor"},
      {"__callbacks", "asynchronous client callbacks"},
      {"__start", "asynchronous client stub"},
      {"__deliver", "asynchronous client trampoline"},
      {"__send", "handler send function"},
      {"__respond", "asynchronous handler respond function"},
      {"__invoke", "handler trampoline"},
      {"__invoke_async", "asynchronous handler trampoline"},
      {"__invoke_streaming", "streaming handler trampoline"},
  };
  static const char *const stream_names[] = {"__stream_handler", "__recv", "__stream_send",
                                             "__stream_start", "__stream_request", "__stream_end",
                                             "__stream_run", "__stream_async", "__stream_sync"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (claim_as(ctx, file->name, g->rpc, names[i].suffix, what, names[i].role) != 0) return -1;
  if (g->client_streaming &&
      claim_as(ctx, file->name, g->rpc, "__send_request", what, "asynchronous client send") != 0)
    return -1;
  for (size_t i = 0; g->client_streaming && i < sizeof stream_names / sizeof stream_names[0]; i++)
    if (claim_as(ctx, file->name, g->rpc, stream_names[i], what, "streaming handler piece") != 0)
      return -1;
  {
    cg_str pbc = {0};
    int bad;
    cg_str_printf(&pbc, "%s__", pbc_service);
    cg_camel_to_lower(&pbc, g->mname);
    bad = claim_as(ctx, file->name, pbc.data, "", what,
                   file->package && *file->package
                       ? "protoc-c's client function"
                       : "protoc-c's client function, which in a file without a package can "
                         "meet connectc's service names: give the file a package");
    cg_str_free(&pbc);
    if (bad) return -1;
  }
  return 0;
}

static int gen_service(gen_ctx *ctx, const FileProto *file, const ServiceProto *svc, cg_str *h,
                       cg_str *c) {
  const char *sname = svc->name ? svc->name : "";
  char *full = join_name(file->package, sname);
  char *sym = NULL, *usym = NULL, *pbc_service = NULL;
  cg_str arr = {0}, svc_what = {0}, hs = {0}, hreg = {0}, ahs = {0}, ahreg = {0};
  cg_str shs = {0}, sreg = {0}, sh = {0}, sc = {0};
  int rc = -1;

  cg_str_printf(&svc_what, "service %s", full);
  if (service_symbol(ctx, file, full, sname, &sym) != 0) goto out;
  usym = upper(sym);
  pbc_service = cg_full_name_to_lower(full);
  /* The service-level names: S__<word> (README, "Names"). */
  {
    static const struct {
      const char *suffix;
      const char *role;
      int needs_methods; /* only emitted for a service with methods */
    } names[] = {
        {"__method_type", "method type", 0},
        {"__methods", "method table", 1},
        {"__handlers", "handler table", 1},
        {"__register", "registration function", 1},
        {"__async_handlers", "asynchronous handler table", 1},
        {"__register_async", "asynchronous registration function", 1},
        {"__streaming_handlers", "streaming handler table", 1},
        {"__register_streaming", "streaming registration function", 1},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
      if ((svc->n_method > 0 || !names[i].needs_methods) &&
          claim_as(ctx, file->name, sym, names[i].suffix, svc_what.data, names[i].role) != 0)
        goto out;
    if (claim_as(ctx, file->name, usym, "__NAME", svc_what.data, "name macro") != 0 ||
        claim_as(ctx, file->name, usym, "__METHOD_COUNT", svc_what.data, "method count macro") != 0 ||
        claim_as(ctx, file->name, pbc_service, "__descriptor", svc_what.data,
                 "protoc-c's service descriptor") != 0 ||
        claim_as(ctx, file->name, pbc_service, "__init", svc_what.data,
                 "protoc-c's service initialiser") != 0)
      goto out;
  }
  cg_str_printf(h,
                "/* ---- service %s ---- */\n\n"
                "#define %s__NAME \"%s\"\n"
                "#define %s__METHOD_COUNT %zu\n\n"
                "/* One method of %s: its connectc_method_desc and its message types. */\n"
                "typedef struct %s__method_type {\n"
                "  connectc_method_desc desc;\n"
                "  const ProtobufCMessageDescriptor *input;\n"
                "  const ProtobufCMessageDescriptor *output;\n"
                "} %s__method_type;\n\n",
                full, usym, full, usym, svc->n_method, full, sym, sym);
  cg_str_printf(c, "/* ---- service %s ---- */\n\n", full);

  for (size_t i = 0; i < svc->n_method; i++) {
    const MethodProto *m = svc->method[i];
    const char *mname = m->name ? m->name : "";
    const msg_entry *in = find_msg(ctx, m->input_type);
    const msg_entry *outm = find_msg(ctx, m->output_type);
    int nse = m->options && m->options->has_idempotency_level &&
              m->options->idempotency_level ==
                  GOOGLE__PROTOBUF__METHOD_OPTIONS__IDEMPOTENCY_LEVEL__NO_SIDE_EFFECTS;
    char *what = xfmt("service %s, method %s", full, mname);
    char *word = NULL, *rpc = NULL, *member = NULL, *in_type = NULL, *out_type = NULL;
    char *in_lower = NULL, *out_lower = NULL;
    int bad = 1;
    rpc_gen g;
    if (!in || !outm) {
      fail(ctx, "%s: %s: unknown %s type %s", file->name, what, in ? "output" : "input",
           in ? m->output_type : m->input_type);
      goto next;
    }
    if (c_word(ctx, file->name, what, mname, &word) != 0) goto next;
    rpc = xfmt("%s_%s", sym, word);
    member = member_name(word);
    in_type = cg_full_name_to_c(in->full_name);
    out_type = cg_full_name_to_c(outm->full_name);
    g.mname = mname;
    g.svc = sym;
    g.rpc = rpc;
    g.member = member;
    g.in_type = in_type;
    g.out_type = out_type;
    g.client_streaming = m->has_client_streaming && m->client_streaming;
    g.server_streaming = m->has_server_streaming && m->server_streaming;
    if (claim_rpc(ctx, file, &g, what, pbc_service) != 0) goto next;

    in_lower = cg_full_name_to_lower(in->full_name);
    out_lower = cg_full_name_to_lower(outm->full_name);
    cg_str_printf(h, "/* rpc %s(%s%s) returns (%s%s) */\nextern const %s__method_type %s__method;\n",
                  mname, g.client_streaming ? "stream " : "", in->full_name,
                  g.server_streaming ? "stream " : "", outm->full_name, sym, rpc);
    cg_str_printf(c,
                  "const %s__method_type %s__method = {\n"
                  "  .desc = {\n"
                  "    .procedure = \"/%s/%s\",\n"
                  "    .stream_type = %s,\n"
                  "    .no_side_effects = %d,\n"
                  "  },\n"
                  "  .input = &%s__descriptor,\n"
                  "  .output = &%s__descriptor,\n"
                  "};\n\n",
                  sym, rpc, full, mname, stream_type_name(m), nse, in_lower, out_lower);
    cg_str_printf(&arr, "  &%s__method,\n", rpc);
    gen_client_stubs(&g, h, c);
    gen_client_async(&g, h, c);
    gen_handler_pieces(&g, &hs, &ahs, h, c, &hreg, &ahreg);
    gen_stream_pieces(&g, &shs, &sh, &sc, &sreg);
    bad = 0;
  next:
    free(what);
    free(word);
    free(rpc);
    free(member);
    free(in_type);
    free(out_type);
    free(in_lower);
    free(out_lower);
    if (bad) goto out;
  }
  if (svc->n_method > 0) {
    char *hsym = xfmt("%s__handlers", sym), *rsym = xfmt("%s__register", sym);
    char *ahsym = xfmt("%s__async_handlers", sym), *arsym = xfmt("%s__register_async", sym);
    char *shsym = xfmt("%s__streaming_handlers", sym), *srsym = xfmt("%s__register_streaming", sym);
    gen_handler_set(h, c, full, "asynchronous ", ahsym, ahs.data, arsym, ahreg.data);
    gen_handler_set(h, c, full, "", hsym, hs.data, rsym, hreg.data);
    /* The streaming interface: its per-method types come first, and its
     * trampolines need the table's type. */
    if (sh.data) cg_str_puts(h, sh.data);
    if (sc.data) cg_str_puts(c, sc.data);
    gen_handler_set(h, c, full, "streaming ", shsym, shs.data, srsym, sreg.data);
    free(hsym);
    free(rsym);
    free(ahsym);
    free(arsym);
    free(shsym);
    free(srsym);
    cg_str_printf(h, "/* Every method of %s, in declaration order. */\n"
                  "extern const %s__method_type *const %s__methods[%s__METHOD_COUNT];\n\n",
                  full, sym, sym, usym);
    cg_str_printf(c, "const %s__method_type *const %s__methods[%s__METHOD_COUNT] = {\n%s};\n\n",
                  sym, sym, usym, arr.data);
  } else {
    cg_str_puts(h, "\n");
  }
  rc = 0;
out:
  free(full);
  free(sym);
  free(usym);
  free(pbc_service);
  cg_str_free(&arr);
  cg_str_free(&svc_what);
  cg_str_free(&hs);
  cg_str_free(&hreg);
  cg_str_free(&ahs);
  cg_str_free(&ahreg);
  cg_str_free(&shs);
  cg_str_free(&sreg);
  cg_str_free(&sh);
  cg_str_free(&sc);
  return rc;
}

/* ------------------------------------------------------------------ */
/* Files                                                               */
/* ------------------------------------------------------------------ */

/* Whether importers call the register function of `name`. */
static int registers_import(const gen_ctx *ctx, const char *name) {
  const FileProto *f;
  int has_c_package, no_generate;
  if (is_google_protobuf(name)) return 0;
  f = find_file(ctx, name);
  if (!f) return 0;
  pbc_file_options(f, &has_c_package, &no_generate);
  return !no_generate;
}

/* The well-known types whose generated code (and descriptor) the library
 * ships: generated descriptors may point at them. */
static int is_shipped_wkt(const char *name) {
  static const char *const wkt[] = {"google/protobuf/any.proto",    "google/protobuf/duration.proto",
                                    "google/protobuf/empty.proto",  "google/protobuf/field_mask.proto",
                                    "google/protobuf/struct.proto", "google/protobuf/timestamp.proto",
                                    "google/protobuf/wrappers.proto"};
  for (size_t i = 0; i < sizeof wkt / sizeof wkt[0]; i++)
    if (strcmp(name, wkt[i]) == 0) return 1;
  return 0;
}

/* Whether an import's generated descriptor can be referred to. */
static int has_descriptor(const gen_ctx *ctx, const char *name) {
  return is_shipped_wkt(name) || registers_import(ctx, name);
}

/* Appends "  \"pkg.Name\",\n" for every enum in `enums` and, recursively,
 * every message and nested enum of `msgs`. */
static void list_symbols(cg_str *out, const char *scope, Google__Protobuf__DescriptorProto *const *msgs,
                         size_t n_msgs, Google__Protobuf__EnumDescriptorProto *const *enums,
                         size_t n_enums, size_t *count) {
  for (size_t i = 0; i < n_enums; i++) {
    char *full = join_name(scope, enums[i]->name ? enums[i]->name : "");
    cg_str_printf(out, "  \"%s\",\n", full);
    ++*count;
    free(full);
  }
  for (size_t i = 0; i < n_msgs; i++) {
    char *full = join_name(scope, msgs[i]->name ? msgs[i]->name : "");
    cg_str_printf(out, "  \"%s\",\n", full);
    ++*count;
    list_symbols(out, full, msgs[i]->nested_type, msgs[i]->n_nested_type, msgs[i]->enum_type,
                 msgs[i]->n_enum_type, count);
    free(full);
  }
}

/* Emits `<file>__file_descriptor`: the serialized FileDescriptorProto
 * (without source code info), the imports with known descriptors, and the
 * symbols the file declares, for server reflection. */
static int gen_descriptor(gen_ctx *ctx, const FileProto *file, const char *fsym, cg_str *h,
                          cg_str *c) {
  cg_str sym = {0};
  cg_str_printf(&sym, "%s__file_descriptor", fsym);
  if (claim(ctx, file->name, sym.data, "the file's descriptor") != 0) {
    cg_str_free(&sym);
    return -1;
  }
  FileProto copy = *file;
  copy.source_code_info = NULL;
  size_t n = protobuf_c_message_get_packed_size(&copy.base);
  uint8_t *bytes = cg_xmalloc(n ? n : 1);
  protobuf_c_message_pack(&copy.base, bytes);
  cg_str_printf(h,
                "/* The serialized descriptor of %s and what it declares,\n"
                " * for server reflection (connectc/reflection.h). */\n"
                "extern const connectc_file_descriptor %s;\n\n",
                file->name, sym.data);
  cg_str_printf(c, "/* ---- the file's descriptor (server reflection) ---- */\n\n"
                   "static const uint8_t %s__bytes[%zu] = {", fsym, n ? n : 1);
  for (size_t i = 0; i < n; i++)
    cg_str_printf(c, "%s0x%02x%s", i % 16 == 0 ? "\n  " : "", bytes[i], i + 1 < n ? "," : "");
  if (n == 0) cg_str_puts(c, "0");
  cg_str_puts(c, "\n};\n\n");
  free(bytes);
  size_t n_deps = 0;
  for (size_t i = 0; i < file->n_dependency; i++) n_deps += (size_t)has_descriptor(ctx, file->dependency[i]);
  if (n_deps) {
    cg_str_printf(c, "static const connectc_file_descriptor *const %s__deps[] = {\n", fsym);
    for (size_t i = 0; i < file->n_dependency; i++)
      if (has_descriptor(ctx, file->dependency[i])) {
        char *dsym = file_symbol(file->dependency[i]);
        cg_str_printf(c, "  &%s__file_descriptor,\n", dsym);
        free(dsym);
      }
    cg_str_puts(c, "};\n\n");
  }
  cg_str syms = {0}, svcs = {0};
  size_t n_syms = 0;
  list_symbols(&syms, file->package, file->message_type, file->n_message_type, file->enum_type,
               file->n_enum_type, &n_syms);
  for (size_t i = 0; i < file->n_service; i++) {
    char *full = join_name(file->package, file->service[i]->name ? file->service[i]->name : "");
    cg_str_printf(&syms, "  \"%s\",\n", full);
    cg_str_printf(&svcs, "  \"%s\",\n", full);
    n_syms++;
    for (size_t k = 0; k < file->service[i]->n_method; k++) {
      cg_str_printf(&syms, "  \"%s.%s\",\n", full,
                    file->service[i]->method[k]->name ? file->service[i]->method[k]->name : "");
      n_syms++;
    }
    free(full);
  }
  if (n_syms) cg_str_printf(c, "static const char *const %s__symbols[] = {\n%s};\n\n", fsym, syms.data);
  if (file->n_service)
    cg_str_printf(c, "static const char *const %s__services[] = {\n%s};\n\n", fsym, svcs.data);
  cg_str_printf(c,
                "const connectc_file_descriptor %s = {\n"
                "    .name = \"%s\",\n"
                "    .data = %s__bytes,\n"
                "    .len = %zu,\n",
                sym.data, file->name, fsym, n);
  if (n_deps) cg_str_printf(c, "    .deps = %s__deps,\n    .n_deps = %zu,\n", fsym, n_deps);
  if (n_syms) cg_str_printf(c, "    .symbols = %s__symbols,\n    .n_symbols = %zu,\n", fsym, n_syms);
  if (file->n_service)
    cg_str_printf(c, "    .services = %s__services,\n    .n_services = %zu,\n", fsym, file->n_service);
  cg_str_puts(c, "};\n\n");
  cg_str_free(&syms);
  cg_str_free(&svcs);
  cg_str_free(&sym);
  return 0;
}

static int gen_file(gen_ctx *ctx, const FileProto *file, Response *resp) {
  const char *name = file->name;
  char *base = file_base(name);
  char *fsym = file_symbol(name);
  char *guard_upper = upper(fsym);
  cg_str h = {0}, c = {0}, infos = {0}, reg = {0};
  int rc = -1, has_c_package, no_generate;

  reset_syms(ctx);
  pbc_file_options(file, &has_c_package, &no_generate);
  if (no_generate) {
    rc = 0; /* protoc-c emits nothing for it either */
    goto out;
  }
  if (has_c_package) {
    fail(ctx, "%s: the protobuf-c option c_package is not supported by " PLUGIN_NAME, name);
    goto out;
  }
  if (file->syntax && strcmp(file->syntax, "proto2") != 0 &&
      strcmp(file->syntax, "proto3") != 0) {
    fail(ctx, "%s: syntax \"%s\" is not supported by " PLUGIN_NAME, name, file->syntax);
    goto out;
  }
  if (!((fsym[0] >= 'a' && fsym[0] <= 'z') || (fsym[0] >= 'A' && fsym[0] <= 'Z'))) {
    fail(ctx, "%s: the file name must start with a letter to derive C names from it", name);
    goto out;
  }

  cg_str_printf(&h,
                "/* Code generated by " PLUGIN_NAME ". DO NOT EDIT.\n"
                " * source: %s */\n"
                "#ifndef CONNECTC_GEN_%s_CONNECT_H\n"
                "#define CONNECTC_GEN_%s_CONNECT_H\n\n"
                "#include \"connectc/call.h\"\n"
                "#include \"connectc/client.h\"\n"
                "#include \"connectc/service.h\"\n"
                "#include \"connectc/json_codec.h\"\n"
                "#include \"connectc/reflection.h\"\n"
                "#include \"%s.pb-c.h\"\n\n"
                "#ifdef __cplusplus\n"
                "extern \"C\" {\n"
                "#endif\n\n",
                name, guard_upper, guard_upper, base);
  cg_str_printf(&c,
                "/* Code generated by " PLUGIN_NAME ". DO NOT EDIT.\n"
                " * source: %s */\n"
                "#include \"%s.connect.h\"\n",
                name, base);
  for (size_t i = 0; i < file->n_dependency; i++)
    if (has_descriptor(ctx, file->dependency[i])) {
      char *dbase = file_base(file->dependency[i]);
      cg_str_printf(&c, "#include \"%s.connect.h\"\n", dbase);
      free(dbase);
    }
  cg_str_puts(&c, "\n#include <stddef.h>\n\n");

  /* Messages, in the order index_msgs() walked them: declaration order,
   * each message followed by its nested messages. */
  if (ctx->n_msgs) cg_str_puts(&h, "/* ---- JSON metadata of the messages ---- */\n\n");
  for (size_t i = 0; i < ctx->n_msgs; i++)
    if (ctx->msgs[i].file == file &&
        gen_message(ctx, file, &ctx->msgs[i], &h, &c, &infos) != 0)
      goto out;

  /* The register function. */
  cg_str_printf(&reg, "%s__register_types", fsym);
  if (claim(ctx, name, reg.data, "the file's type registration function") != 0) goto out;
  cg_str_printf(&h,
                "\n/*\n"
                " * Registers the JSON metadata of every message of\n"
                " * %s in `reg`, after calling the register\n"
                " * function of each imported file (google/protobuf/ files excepted:\n"
                " * the library registers the well-known types itself). Registering\n"
                " * twice is harmless. Returns CONNECTC_OK or the first error of\n"
                " * connectc_type_registry_add().\n"
                " */\n"
                "int %s(connectc_type_registry *reg);\n\n",
                name, reg.data);
  cg_str_printf(&c, "int %s(connectc_type_registry *reg) {\n", reg.data);
  {
    size_t n_deps = 0;
    for (size_t i = 0; i < file->n_dependency; i++)
      n_deps += (size_t)registers_import(ctx, file->dependency[i]);
    if (infos.len)
      cg_str_printf(&c, "  static const connectc_message_info *const infos[] = {\n%s  };\n",
                    infos.data);
    if (infos.len || n_deps) cg_str_puts(&c, "  int rc;\n");
    else cg_str_puts(&c, "  (void)reg;\n");
    for (size_t i = 0; i < file->n_dependency; i++)
      if (registers_import(ctx, file->dependency[i])) {
        char *dsym = file_symbol(file->dependency[i]);
        cg_str_printf(&c,
                      "  rc = %s__register_types(reg);\n"
                      "  if (rc != CONNECTC_OK) return rc;\n",
                      dsym);
        free(dsym);
      }
    if (infos.len)
      cg_str_puts(&c,
                  "  for (size_t i = 0; i < sizeof infos / sizeof infos[0]; i++) {\n"
                  "    rc = connectc_type_registry_add(reg, infos[i]);\n"
                  "    if (rc != CONNECTC_OK) return rc;\n"
                  "  }\n");
  }
  cg_str_puts(&c, "  return CONNECTC_OK;\n}\n\n");

  for (size_t i = 0; i < file->n_service; i++)
    if (gen_service(ctx, file, file->service[i], &h, &c) != 0) goto out;
  if (gen_descriptor(ctx, file, fsym, &h, &c) != 0) goto out;

  cg_str_printf(&h,
                "#ifdef __cplusplus\n"
                "}\n"
                "#endif\n\n"
                "#endif\n");
  /* No trailing blank line in the .c file. */
  while (c.len >= 2 && c.data[c.len - 1] == '\n' && c.data[c.len - 2] == '\n')
    c.data[--c.len] = '\0';

  {
    cg_str hn = {0}, cn = {0};
    ResponseFile *fh = cg_xmalloc(sizeof *fh), *fc = cg_xmalloc(sizeof *fc);
    google__protobuf__compiler__code_generator_response__file__init(fh);
    google__protobuf__compiler__code_generator_response__file__init(fc);
    cg_str_printf(&hn, "%s.connect.h", base);
    cg_str_printf(&cn, "%s.connect.c", base);
    fh->name = cg_str_take(&hn);
    fh->content = cg_str_take(&h);
    fc->name = cg_str_take(&cn);
    fc->content = cg_str_take(&c);
    resp->file = cg_xrealloc(resp->file, (resp->n_file + 2) * sizeof *resp->file);
    resp->file[resp->n_file++] = fh;
    resp->file[resp->n_file++] = fc;
  }
  rc = 0;
out:
  free(base);
  free(fsym);
  free(guard_upper);
  cg_str_free(&h);
  cg_str_free(&c);
  cg_str_free(&infos);
  cg_str_free(&reg);
  return rc;
}

static void free_response_files(Response *resp) {
  for (size_t i = 0; i < resp->n_file; i++) {
    free(resp->file[i]->name);
    free(resp->file[i]->content);
    free(resp->file[i]);
  }
  free(resp->file);
  resp->file = NULL;
  resp->n_file = 0;
}

int main(int argc, char **argv) {
  uint8_t *in = NULL;
  size_t in_len = 0;
  Request *req;
  Response resp;
  gen_ctx ctx;
  int code;

  if (argc > 1) {
    if (strcmp(argv[1], "--version") == 0) {
      puts(PLUGIN_NAME " " CONNECTC_VERSION_STRING);
      return 0;
    }
    fprintf(stderr,
            "usage: protoc --plugin=protoc-gen-connectc=PATH --connectc_out=DIR FILES...\n"
            "%s is a protoc plugin: it reads a CodeGeneratorRequest on stdin.\n",
            argv[0]);
    return 2;
  }
  if (cg_read_all(STDIN_FILENO, &in, &in_len) != 0) {
    perror(PLUGIN_NAME ": reading the request from stdin");
    return 1;
  }
  req = google__protobuf__compiler__code_generator_request__unpack(NULL, in_len, in);
  free(in);
  if (!req) {
    fputs(PLUGIN_NAME ": stdin is not a valid CodeGeneratorRequest; run it from protoc\n",
          stderr);
    return 1;
  }

  memset(&ctx, 0, sizeof ctx);
  ctx.req = req;
  google__protobuf__compiler__code_generator_response__init(&resp);
  resp.has_supported_features = 1;
  resp.supported_features =
      GOOGLE__PROTOBUF__COMPILER__CODE_GENERATOR_RESPONSE__FEATURE__FEATURE_PROTO3_OPTIONAL;

  for (size_t i = 0; i < req->n_proto_file; i++) {
    const FileProto *f = req->proto_file[i];
    index_msgs(&ctx, f, f->package, f->message_type, f->n_message_type);
  }

  if (req->parameter && *req->parameter) {
    fail(&ctx, "unknown " PLUGIN_NAME " parameter \"%s\" (it takes none)", req->parameter);
  } else {
    for (size_t i = 0; i < req->n_file_to_generate; i++) {
      const FileProto *f = find_file(&ctx, req->file_to_generate[i]);
      if (!f) {
        fail(&ctx, "%s: not among the request's proto_file", req->file_to_generate[i]);
        break;
      }
      if (gen_file(&ctx, f, &resp) != 0) break;
    }
  }
  if (ctx.err.len) {
    free_response_files(&resp);
    resp.error = ctx.err.data;
  }
  code = cg_write_response(&resp);

  free_response_files(&resp);
  cg_str_free(&ctx.err);
  reset_syms(&ctx);
  for (size_t i = 0; i < ctx.n_msgs; i++) free(ctx.msgs[i].full_name);
  free(ctx.msgs);
  google__protobuf__compiler__code_generator_request__free_unpacked(req, NULL);
  return code;
}
