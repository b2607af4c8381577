# ConnectcGenerate.cmake: generate protobuf-c and connectc code from .proto
# files at build time.
#
#   connectc_generate(TARGET <lib>
#                     PROTOS <file.proto>...
#                     IMPORT_DIRS <dir>...
#                     OUT_DIR <dir>
#                     [CONNECTC_LIBRARY <target>]
#                     [NO_LINK_CONNECTC] [OBJECT])
#
# Runs protoc once over PROTOS with two plugins:
#   protoc-gen-connectc-c  (as protoc-gen-c) -> <name>.pb-c.h/.c
#   protoc-gen-connectc                      -> <name>.connect.h/.c
# where <name> is each proto's path relative to the IMPORT_DIRS entry that
# holds it, without ".proto". Then it creates the static library <lib> from
# the generated .c files, with OUT_DIR as a PUBLIC include directory,
# linked PUBLIC to protobuf-c, to connectc::wkt (the well-known types'
# protobuf-c code: import google/protobuf/*.proto freely, but do not list
# them in PROTOS) and to the connectc library (CONNECTC_LIBRARY, default
# connectc::connectc; NO_LINK_CONNECTC skips it). OBJECT makes <lib> an
# object library instead of a static one.
#
# Every imported .proto that is not a google/protobuf/ file must be listed in
# PROTOS of this or another connectc_generate() call whose library is linked
# too: the generated code includes its headers and calls its
# <file>__register_types().
#
# PROTOS may be absolute paths or paths relative to an IMPORT_DIRS entry.
# The generated code is compiled with the directory's warning flags; the
# .connect.c files compile cleanly under -Wall -Wextra -Wpedantic
# -Wconversion -Wshadow, the .pb-c.c files get -Wno-missing-braces (see
# below). Code that uses protoc-c's <MSG>__INIT macros on messages with a
# oneof needs -Wno-missing-braces too (gcc), or can call <msg>__init().
#
# Tools: protoc and protoc-gen-c are looked up on PATH (CONNECTC_PROTOC,
# CONNECTC_PROTOC_GEN_C override them); the connectc plugins are the build
# tree's targets, or the installed connectc:: targets.

include_guard(GLOBAL)

function(_connectc_generate_tool out tgt imported)
  if(TARGET ${tgt})
    set(${out} $<TARGET_FILE:${tgt}> PARENT_SCOPE)
    set(${out}_DEP ${tgt} PARENT_SCOPE)
  elseif(TARGET ${imported})
    set(${out} $<TARGET_FILE:${imported}> PARENT_SCOPE)
    set(${out}_DEP ${imported} PARENT_SCOPE)
  else()
    find_program(_connectc_tool_${tgt} ${tgt} REQUIRED)
    set(${out} ${_connectc_tool_${tgt}} PARENT_SCOPE)
    set(${out}_DEP ${_connectc_tool_${tgt}} PARENT_SCOPE)
  endif()
endfunction()

function(connectc_generate)
  cmake_parse_arguments(ARG "NO_LINK_CONNECTC;OBJECT" "TARGET;OUT_DIR;CONNECTC_LIBRARY"
    "PROTOS;IMPORT_DIRS" ${ARGN})
  if(NOT ARG_TARGET OR NOT ARG_PROTOS OR NOT ARG_OUT_DIR)
    message(FATAL_ERROR "connectc_generate: TARGET, PROTOS and OUT_DIR are required")
  endif()
  if(ARG_UNPARSED_ARGUMENTS)
    message(FATAL_ERROR "connectc_generate: unknown arguments ${ARG_UNPARSED_ARGUMENTS}")
  endif()

  find_program(CONNECTC_PROTOC protoc REQUIRED)
  find_program(CONNECTC_PROTOC_GEN_C protoc-gen-c REQUIRED)
  if(NOT CONNECTC_PROTOBUF_INCLUDE_DIR)
    find_path(CONNECTC_PROTOBUF_INCLUDE_DIR google/protobuf/descriptor.proto REQUIRED
      DOC "directory holding google/protobuf/*.proto")
  endif()
  _connectc_generate_tool(gen_connectc protoc-gen-connectc connectc::protoc-gen-connectc)
  _connectc_generate_tool(gen_c protoc-gen-connectc-c connectc::protoc-gen-connectc-c)

  set(import_dirs)
  set(include_args)
  foreach(d ${ARG_IMPORT_DIRS})
    get_filename_component(d ${d} ABSOLUTE)
    list(APPEND import_dirs ${d})
    list(APPEND include_args -I${d})
  endforeach()
  list(APPEND include_args -I${CONNECTC_PROTOBUF_INCLUDE_DIR})

  set(rel_protos)
  set(abs_protos)
  set(outputs)
  set(sources)
  foreach(p ${ARG_PROTOS})
    set(rel)
    if(IS_ABSOLUTE ${p})
      foreach(d ${import_dirs})
        file(RELATIVE_PATH r ${d} ${p})
        if(NOT r MATCHES "^\\.\\./")
          set(rel ${r})
          set(abs ${p})
          break()
        endif()
      endforeach()
    else()
      foreach(d ${import_dirs})
        if(EXISTS ${d}/${p})
          set(rel ${p})
          set(abs ${d}/${p})
          break()
        endif()
      endforeach()
    endif()
    if(NOT rel)
      message(FATAL_ERROR "connectc_generate: ${p} is not inside any of IMPORT_DIRS (${import_dirs})")
    endif()
    string(REGEX REPLACE "\\.proto$" "" base ${rel})
    list(APPEND rel_protos ${rel})
    list(APPEND abs_protos ${abs})
    list(APPEND outputs ${ARG_OUT_DIR}/${base}.pb-c.h ${ARG_OUT_DIR}/${base}.connect.h)
    list(APPEND sources ${ARG_OUT_DIR}/${base}.pb-c.c ${ARG_OUT_DIR}/${base}.connect.c)
  endforeach()

  add_custom_command(
    OUTPUT ${sources} ${outputs}
    COMMAND ${CMAKE_COMMAND} -E make_directory ${ARG_OUT_DIR}
    COMMAND ${CONNECTC_PROTOC} ${include_args}
      --plugin=protoc-gen-c=${gen_c}
      --c_out=${ARG_OUT_DIR}
      --c_opt=protoc_gen_c=${CONNECTC_PROTOC_GEN_C}
      --plugin=protoc-gen-connectc=${gen_connectc}
      --connectc_out=${ARG_OUT_DIR}
      ${rel_protos}
    DEPENDS ${abs_protos} ${gen_c_DEP} ${gen_connectc_DEP}
    COMMENT "connectc_generate(${ARG_TARGET}): ${rel_protos}"
    VERBATIM)

  if(ARG_OBJECT)
    add_library(${ARG_TARGET} OBJECT ${sources})
  else()
    add_library(${ARG_TARGET} STATIC ${sources})
  endif()
  # protoc-c 1.4.1's <MSG>__INIT macro for a message with a oneof leaves out
  # the braces of the oneof's anonymous union, which -Wall (gcc) flags; its
  # .pb-c.c files use that macro. Nothing else is relaxed, and nothing for the
  # .connect.c files.
  set(pbc_sources ${sources})
  list(FILTER pbc_sources INCLUDE REGEX "\\.pb-c\\.c$")
  set_source_files_properties(${pbc_sources} PROPERTIES COMPILE_OPTIONS -Wno-missing-braces)
  target_include_directories(${ARG_TARGET} PUBLIC $<BUILD_INTERFACE:${ARG_OUT_DIR}>)
  if(TARGET PkgConfig::PROTOBUFC)
    target_link_libraries(${ARG_TARGET} PUBLIC PkgConfig::PROTOBUFC)
  endif()
  if(NOT ARG_TARGET STREQUAL "connectc_wkt")
    if(TARGET connectc_wkt)
      target_link_libraries(${ARG_TARGET} PUBLIC connectc_wkt)
    elseif(TARGET connectc::wkt)
      target_link_libraries(${ARG_TARGET} PUBLIC connectc::wkt)
    endif()
  endif()
  if(NOT ARG_NO_LINK_CONNECTC)
    if(ARG_CONNECTC_LIBRARY)
      target_link_libraries(${ARG_TARGET} PUBLIC ${ARG_CONNECTC_LIBRARY})
    elseif(TARGET connectc::connectc)
      target_link_libraries(${ARG_TARGET} PUBLIC connectc::connectc)
    else()
      message(FATAL_ERROR "connectc_generate: no connectc library target; pass CONNECTC_LIBRARY")
    endif()
  endif()
endfunction()
