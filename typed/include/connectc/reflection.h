/**
 * \file reflection.h
 * Server reflection (grpc.reflection.v1 and v1alpha): tools such as grpcurl
 * and buf curl ask a server which services it has and how their messages
 * look. The generator embeds each .proto file's serialized descriptor in
 * its .connect.c (`<file>__file_descriptor`); hand those to
 * connectc_reflection_register() and every file, with its imports, is
 * served.
 */
#ifndef CONNECTC_REFLECTION_H
#define CONNECTC_REFLECTION_H

#include "connectc/codec.h"
#include "connectc/router.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * One .proto file as the generator embeds it: static data, never freed.
 * The struct only grows at the end.
 */
typedef struct connectc_file_descriptor {
  /** The file's name, as protoc saw it ("connectrpc/eliza/v1/eliza.proto"). */
  const char *name;
  /** Its serialized google.protobuf.FileDescriptorProto (without source
   * code info). */
  const uint8_t *data;
  /** Bytes at `data`. */
  size_t len;
  /** The files it imports whose descriptors are known (generated code and
   * the well-known types). */
  const struct connectc_file_descriptor *const *deps;
  /** Entries in `deps`. */
  size_t n_deps;
  /** Full names of what the file declares: messages (nested ones too),
   * enums, services and methods ("pkg.Service.Method"). */
  const char *const *symbols;
  /** Entries in `symbols`. */
  size_t n_symbols;
  /** Full names of the file's services. */
  const char *const *services;
  /** Entries in `services`. */
  size_t n_services;
} connectc_file_descriptor;

/**
 * Mounts grpc.reflection.v1.ServerReflection and
 * grpc.reflection.v1alpha.ServerReflection on `router`.
 *
 * list_services answers with every service the router routes at the time
 * of the request (reflection itself included); file_by_filename and
 * file_containing_symbol with the file and its imports, each file once per
 * stream; extension queries with not_found (connectc serves no extensions).
 * Every query gets one response on the stream, errors included (an
 * ErrorResponse, as the protocol wants).
 *
 * @param router the router; borrowed.
 * @param files the files to describe (typically each generated
 *        `<file>__file_descriptor` of the services served); the array is
 *        copied, the descriptors are borrowed (static). Their imports are
 *        found through `deps`.
 * @param n_files entries in `files`.
 * @param json a JSON codec for application/json requests, or NULL (proto
 *        only); borrowed.
 * @return CONNECTC_OK; CONNECTC_ERR_ARGUMENT (router NULL, files NULL with
 *         n_files non-zero, a service already routed);
 *         CONNECTC_ERR_NOMEM.
 */
CONNECTC_API int connectc_reflection_register(connectc_router *router,
                                              const connectc_file_descriptor *const *files,
                                              size_t n_files, const connectc_codec *json);

#ifdef __cplusplus
}
#endif

#endif
