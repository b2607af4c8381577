/*
 * protoc-gen-connectc-c: runs protobuf-c's protoc-gen-c on files that use
 * proto3 `optional`.
 *
 * protoc-c 1.4.1 does not declare proto3-optional support, so protoc
 * refuses to hand it such files. This wrapper takes the
 * CodeGeneratorRequest, turns every proto3 optional field into the only
 * member of a real oneof (the synthetic oneof protoc already declared,
 * "_<field>"), runs the real protoc-gen-c with the rewritten request on its
 * stdin, and passes protoc-gen-c's CodeGeneratorResponse back to protoc,
 * declaring FEATURE_PROTO3_OPTIONAL. Presence of such a field is then the
 * oneof case: `msg._<field>_case == <MSG>___<FIELD>_<FIELD>` (see
 * codegen/README.md). It also appends '_' to the members of protoc-c's
 * service structs that are named like C keywords (escape_service_members).
 *
 * The real plugin is, in order: the `protoc_gen_c=PATH` plugin parameter,
 * the CONNECTC_PROTOC_GEN_C environment variable, or "protoc-gen-c" on
 * PATH. Other parameters are passed on to protoc-gen-c.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cg_util.h"
#include "google/protobuf/compiler/plugin.pb-c.h"
#include "google/protobuf/descriptor.pb-c.h"

typedef Google__Protobuf__Compiler__CodeGeneratorRequest Request;
typedef Google__Protobuf__Compiler__CodeGeneratorResponse Response;

#define PLUGIN_NAME "protoc-gen-connectc-c"
#define PARAM_KEY "protoc_gen_c="
#define ENV_PLUGIN "CONNECTC_PROTOC_GEN_C"
/* Set in protoc-gen-c's environment: if it reaches this wrapper again,
 * protoc-gen-c on PATH is this wrapper, which would recurse forever. */
#define ENV_GUARD "CONNECTC_PROTOC_GEN_C_WRAPPED"

static void rewrite_msgs(Google__Protobuf__DescriptorProto **msgs, size_t n) {
  for (size_t i = 0; i < n; i++) {
    Google__Protobuf__DescriptorProto *m = msgs[i];
    for (size_t j = 0; j < m->n_field; j++) {
      Google__Protobuf__FieldDescriptorProto *f = m->field[j];
      if (f->has_proto3_optional && f->proto3_optional) {
        /* The field keeps its oneof_index: the synthetic oneof becomes a
         * real one-member oneof. */
        f->has_proto3_optional = 0;
        f->proto3_optional = 0;
      }
    }
    rewrite_msgs(m->nested_type, m->n_nested_type);
  }
}

/* Replaces the first `needle` in content[from, *to) by `repl`; moves *to
 * by the difference. Returns 1 when it replaced. */
static int replace_in(char **content, size_t from, size_t *to, const char *needle,
                      const char *repl) {
  size_t nl = strlen(needle), rl = strlen(repl);
  char *c = *content;
  for (size_t i = from; i + nl <= *to; i++)
    if (memcmp(c + i, needle, nl) == 0) {
      cg_str out = {0};
      cg_str_append(&out, c, i);
      cg_str_puts(&out, repl);
      cg_str_puts(&out, c + i + nl);
      free(c);
      *content = cg_str_take(&out);
      *to = *to - nl + rl;
      return 1;
    }
  return 0;
}

/*
 * protoc-c 1.4.1 names the function-pointer members of its
 * "<Svc>_Service" struct after the methods (protoc-c's CamelToLower),
 * without the '_' it appends to fields named like keywords, so the header
 * of a service with an rpc named Return or Class does not compile. This
 * appends that '_' in the generated header to every member that
 * cg_is_reserved_member() (keywords, and macros such as errno): inside
 * "struct <Svc>_Service\n{ ... \n};", the line
 * "  void (*return)(<Svc>_Service *service," becomes
 * "  void (*return_)(<Svc>_Service *service,". protoc-c's <SVC>__INIT
 * macro fills the members by position and needs no change; its client
 * functions (<svc>__return) are prefixed and were never a problem. Text
 * that does not look like that (another protoc-c version) is left alone.
 */
static void escape_service_members(const Request *req, Response *resp) {
  for (size_t i = 0; i < resp->n_file; i++) {
    Google__Protobuf__Compiler__CodeGeneratorResponse__File *rf = resp->file[i];
    size_t nl;
    if (!rf->name || !rf->content) continue;
    nl = strlen(rf->name);
    if (nl <= 7 || strcmp(rf->name + nl - 7, ".pb-c.h") != 0) continue;
    for (size_t j = 0; j < req->n_proto_file; j++) {
      const Google__Protobuf__FileDescriptorProto *f = req->proto_file[j];
      size_t fl = f->name ? strlen(f->name) : 0;
      if (fl <= 6 || strcmp(f->name + fl - 6, ".proto") != 0 || fl - 6 != nl - 7 ||
          strncmp(f->name, rf->name, fl - 6) != 0)
        continue;
      for (size_t k = 0; k < f->n_service; k++) {
        const Google__Protobuf__ServiceDescriptorProto *svc = f->service[k];
        cg_str full = {0}, head = {0};
        char *ctype, *start, *end;
        if (f->package && *f->package) {
          cg_str_puts(&full, f->package);
          cg_str_putc(&full, '.');
        }
        cg_str_puts(&full, svc->name ? svc->name : "");
        ctype = cg_full_name_to_c(full.data);
        cg_str_printf(&head, "struct %s_Service\n{\n", ctype);
        start = strstr(rf->content, head.data);
        end = start ? strstr(start, "\n};") : NULL;
        if (start && end) {
          size_t from = (size_t)(start - rf->content), to = (size_t)(end - rf->content);
          for (size_t m = 0; m < svc->n_method; m++) {
            cg_str lower = {0}, needle = {0}, repl = {0};
            cg_camel_to_lower(&lower, svc->method[m]->name ? svc->method[m]->name : "");
            if (lower.data && cg_is_reserved_member(lower.data)) {
              cg_str_printf(&needle, "  void (*%s)(%s_Service *service,", lower.data, ctype);
              cg_str_printf(&repl, "  void (*%s_)(%s_Service *service,", lower.data, ctype);
              replace_in(&rf->content, from, &to, needle.data, repl.data);
            }
            cg_str_free(&lower);
            cg_str_free(&needle);
            cg_str_free(&repl);
          }
        }
        free(ctype);
        cg_str_free(&full);
        cg_str_free(&head);
      }
    }
  }
}

/* Splits our parameter out of req->parameter (comma-separated); the rest
 * stays for protoc-gen-c. Returns the malloc'd plugin path or NULL. */
static char *take_param(Request *req) {
  cg_str rest = {0};
  char *plugin = NULL;
  const char *p = req->parameter;
  if (!p || !*p) return NULL;
  while (*p) {
    const char *comma = strchr(p, ',');
    size_t n = comma ? (size_t)(comma - p) : strlen(p);
    if (n >= strlen(PARAM_KEY) && strncmp(p, PARAM_KEY, strlen(PARAM_KEY)) == 0) {
      free(plugin);
      plugin = cg_xmalloc(n - strlen(PARAM_KEY) + 1);
      memcpy(plugin, p + strlen(PARAM_KEY), n - strlen(PARAM_KEY));
      plugin[n - strlen(PARAM_KEY)] = '\0';
    } else if (n > 0) {
      if (rest.len) cg_str_putc(&rest, ',');
      cg_str_append(&rest, p, n);
    }
    p += n;
    if (*p == ',') p++;
  }
  free(req->parameter);
  req->parameter = rest.len ? cg_str_take(&rest) : NULL;
  cg_str_free(&rest);
  return plugin;
}

/* Runs `plugin` with `in` on stdin; collects its stdout. Returns 0 when it
 * exited with status 0, else -1 with `err` set. */
static int run_plugin(const char *plugin, const uint8_t *in, size_t in_len, uint8_t **out,
                      size_t *out_len, cg_str *err) {
  FILE *tmp = tmpfile();
  int pipefd[2], status;
  pid_t pid;
  if (!tmp) {
    cg_str_printf(err, PLUGIN_NAME ": creating a temporary file: %s", strerror(errno));
    return -1;
  }
  if (cg_write_all(fileno(tmp), in, in_len) != 0 || lseek(fileno(tmp), 0, SEEK_SET) != 0) {
    cg_str_printf(err, PLUGIN_NAME ": writing a temporary file: %s", strerror(errno));
    fclose(tmp);
    return -1;
  }
  if (pipe(pipefd) != 0) {
    cg_str_printf(err, PLUGIN_NAME ": pipe: %s", strerror(errno));
    fclose(tmp);
    return -1;
  }
  fflush(stdout);
  pid = fork();
  if (pid < 0) {
    cg_str_printf(err, PLUGIN_NAME ": fork: %s", strerror(errno));
    close(pipefd[0]);
    close(pipefd[1]);
    fclose(tmp);
    return -1;
  }
  if (pid == 0) {
    char *argv[2];
    argv[0] = (char *)plugin;
    argv[1] = NULL;
    if (dup2(fileno(tmp), STDIN_FILENO) < 0 || dup2(pipefd[1], STDOUT_FILENO) < 0) _exit(126);
    close(pipefd[0]);
    close(pipefd[1]);
    if (setenv(ENV_GUARD, "1", 1) != 0) _exit(126);
    execvp(plugin, argv);
    fprintf(stderr, PLUGIN_NAME ": cannot run %s: %s\n", plugin, strerror(errno));
    _exit(127);
  }
  close(pipefd[1]);
  fclose(tmp);
  if (cg_read_all(pipefd[0], out, out_len) != 0) {
    cg_str_printf(err, PLUGIN_NAME ": reading the output of %s: %s", plugin, strerror(errno));
    close(pipefd[0]);
    waitpid(pid, &status, 0);
    return -1;
  }
  close(pipefd[0]);
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) {
      cg_str_printf(err, PLUGIN_NAME ": waiting for %s: %s", plugin, strerror(errno));
      free(*out);
      return -1;
    }
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    if (WIFEXITED(status))
      cg_str_printf(err, PLUGIN_NAME ": %s exited with status %d%s", plugin,
                    WEXITSTATUS(status),
                    WEXITSTATUS(status) == 127 ? " (not found? set " ENV_PLUGIN
                                                 " or the protoc_gen_c= parameter)"
                                               : "");
    else
      cg_str_printf(err, PLUGIN_NAME ": %s was killed by signal %d", plugin,
                    WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    free(*out);
    return -1;
  }
  return 0;
}

static int respond_error(const char *msg) {
  Response resp;
  google__protobuf__compiler__code_generator_response__init(&resp);
  resp.error = (char *)msg;
  return cg_write_response(&resp);
}

int main(int argc, char **argv) {
  uint8_t *in = NULL, *out = NULL, *packed;
  size_t in_len = 0, out_len = 0, n;
  Request *req;
  Response *resp;
  char *plugin;
  const char *path;
  cg_str err = {0};
  int code;

  if (argc > 1) {
    fprintf(stderr,
            "usage: protoc --plugin=protoc-gen-c=PATH-TO-%s --c_out=DIR FILES...\n"
            "%s is a protoc plugin wrapping protoc-gen-c; it reads a CodeGeneratorRequest on "
            "stdin.\n",
            PLUGIN_NAME, argv[0]);
    return 2;
  }
  if (getenv(ENV_GUARD)) {
    fputs(PLUGIN_NAME ": protoc-gen-c resolved to this wrapper again; set " ENV_PLUGIN
                      " to the real protoc-gen-c\n",
          stderr);
    return 1;
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
  plugin = take_param(req);
  path = plugin ? plugin : getenv(ENV_PLUGIN);
  if (!path || !*path) path = "protoc-gen-c";
  for (size_t i = 0; i < req->n_proto_file; i++)
    rewrite_msgs(req->proto_file[i]->message_type, req->proto_file[i]->n_message_type);

  n = google__protobuf__compiler__code_generator_request__get_packed_size(req);
  packed = cg_xmalloc(n);
  google__protobuf__compiler__code_generator_request__pack(req, packed);

  if (run_plugin(path, packed, n, &out, &out_len, &err) != 0) {
    free(packed);
    free(plugin);
    google__protobuf__compiler__code_generator_request__free_unpacked(req, NULL);
    code = respond_error(err.data);
    cg_str_free(&err);
    return code;
  }
  free(packed);
  resp = google__protobuf__compiler__code_generator_response__unpack(NULL, out_len, out);
  free(out);
  if (!resp) {
    cg_str_printf(&err, PLUGIN_NAME ": %s wrote an invalid CodeGeneratorResponse", path);
    free(plugin);
    google__protobuf__compiler__code_generator_request__free_unpacked(req, NULL);
    code = respond_error(err.data);
    cg_str_free(&err);
    return code;
  }
  free(plugin);
  escape_service_members(req, resp);
  google__protobuf__compiler__code_generator_request__free_unpacked(req, NULL);
  resp->has_supported_features = 1;
  resp->supported_features |=
      GOOGLE__PROTOBUF__COMPILER__CODE_GENERATOR_RESPONSE__FEATURE__FEATURE_PROTO3_OPTIONAL;
  code = cg_write_response(resp);
  google__protobuf__compiler__code_generator_response__free_unpacked(resp, NULL);
  return code;
}
