#!/usr/bin/env bash
# Builds the connectc fuzz harnesses the OSS-Fuzz way (compile/link with the
# environment's $CC/$CFLAGS/$LIB_FUZZING_ENGINE, one binary per harness in
# $OUT, plus <name>_seed_corpus.zip, <name>.dict and <name>.options next to
# it). The library itself is built and installed by the project's CMake
# build with those compilers and flags (cmake and pkg-config are needed);
# each harness is compiled against that install and linked with
# $LIB_FUZZING_ENGINE. In an OSS-Fuzz project's build.sh this is simply:
#
#   $SRC/connectc/fuzz/build.sh
#
# Outside OSS-Fuzz the defaults build libFuzzer+ASan+UBSan binaries with
# clang into build/oss-fuzz:
#
#   fuzz/build.sh && fuzz/run_all.sh build/oss-fuzz
#
# Environment (all optional):
#   CC, CXX                 compilers (default clang, clang++); CXX links
#   CFLAGS, CXXFLAGS        default: -O1 -g -fno-omit-frame-pointer
#                           -fsanitize=address,undefined -fno-sanitize-recover=all
#                           -fsanitize=fuzzer-no-link
#   LIB_FUZZING_ENGINE      default: -fsanitize=fuzzer
#   OUT                     output directory (default: <repo>/build/oss-fuzz)
#   WORK                    scratch directory (CMake build, install, objects)
#                           (default: <repo>/build/oss-fuzz-work)
#   SRC                     if <repo> is not this script's parent, $SRC/connectc
#   CONNECTC_WITH_BROTLI    0 to build without brotli even when it is found
#   CONNECTC_WITH_ZSTD      0 to build without zstd even when it is found
#   CONNECTC_FUZZ_STATIC_DEPS  1 (default) links protobuf-c, zlib, brotli and
#                           zstd statically, as the OSS-Fuzz runner image does
#                           not have their shared libraries; 0 links them
#                           dynamically
#   JOBS                    build parallelism (default: nproc)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)
if [[ ! -f $root/core/common.c && -n ${SRC:-} && -f $SRC/connectc/core/common.c ]]; then
  root=$SRC/connectc
fi

default_flags="-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all -fsanitize=fuzzer-no-link"
: "${CC:=clang}"
: "${CXX:=clang++}"
: "${CFLAGS:=$default_flags}"
: "${CXXFLAGS:=$CFLAGS}"
: "${LIB_FUZZING_ENGINE:=-fsanitize=fuzzer}"
: "${OUT:=$root/build/oss-fuzz}"
: "${WORK:=$root/build/oss-fuzz-work}"
: "${CONNECTC_WITH_BROTLI:=1}"
: "${CONNECTC_WITH_ZSTD:=1}"
: "${CONNECTC_FUZZ_STATIC_DEPS:=1}"
: "${JOBS:=$(nproc 2>/dev/null || echo 2)}"

mkdir -p "$OUT" "$WORK"
OUT=$(cd "$OUT" && pwd)
WORK=$(cd "$WORK" && pwd)

log() { echo "fuzz/build.sh: $*"; }

# ---- the library ----
# Built by the project's own CMake build with the fuzzing compiler and flags
# (so generated sources and build options stay in one place), then installed
# into $WORK/prefix; harnesses compile and link against that install through
# pkg-config, plus core/ for the internal headers they exercise.
generator=()
command -v ninja >/dev/null 2>&1 && generator=(-G Ninja)
with_brotli=ON with_zstd=ON
[[ $CONNECTC_WITH_BROTLI == 0 ]] && with_brotli=OFF
[[ $CONNECTC_WITH_ZSTD == 0 ]] && with_zstd=OFF
log "CC=$CC CFLAGS=$CFLAGS"
log "building the library with CMake in $WORK/cmake"
rm -rf "$WORK/prefix"
# An empty custom build type: only $CFLAGS apply. Options a given checkout
# does not have are ignored by CMake.
if ! { cmake -S "$root" -B "$WORK/cmake" "${generator[@]}" -DCMAKE_C_COMPILER="$CC" \
         -DCMAKE_C_FLAGS="$CFLAGS" -DCMAKE_BUILD_TYPE=OSSFuzz \
         -DBUILD_SHARED_LIBS=OFF -DCONNECTC_TESTS=OFF -DCONNECTC_FUZZ=OFF -DCONNECTC_SANITIZE=OFF \
         -DCONNECTC_WERROR=OFF -DCONNECTC_WITH_BROTLI=$with_brotli \
         -DCONNECTC_WITH_ZSTD=$with_zstd -DCONNECTC_ADAPTERS=OFF \
         -DCONNECTC_CONFORMANCE=OFF -DCONNECTC_BENCH=OFF -DCONNECTC_EXAMPLES=OFF -DCONNECTC_DOCS=OFF &&
       cmake --build "$WORK/cmake" -j "$JOBS" &&
       cmake --install "$WORK/cmake" --prefix "$WORK/prefix"; } >"$WORK/cmake.log" 2>&1; then
  cat "$WORK/cmake.log" >&2
  log "library build failed" >&2
  exit 1
fi
pc=$(find "$WORK/prefix" -name connectc.pc -print -quit)
[[ -n $pc ]] || { log "the install has no connectc.pc" >&2; exit 1; }
prefix_libdir=$(dirname "$(dirname "$pc")")
export PKG_CONFIG_PATH=$(dirname "$pc")${PKG_CONFIG_PATH:+:$PKG_CONFIG_PATH}
read -r -a lib_cflags <<<"$(pkg-config --static --cflags connectc)"
read -r -a lib_dirs <<<"$(pkg-config --static --libs-only-L connectc)"
read -r -a lib_names <<<"$(pkg-config --static --libs-only-l connectc)"
read -r -a lib_other <<<"$(pkg-config --static --libs-only-other connectc)"
# The project's own archives by path (never its .so); third-party ones
# statically when CONNECTC_FUZZ_STATIC_DEPS=1 (the OSS-Fuzz runner image does
# not have them), except the C runtime's.
link=("${lib_dirs[@]}")
for l in "${lib_names[@]}"; do
  n=${l#-l}
  if [[ -f $prefix_libdir/lib$n.a ]]; then
    link+=("$prefix_libdir/lib$n.a")
  elif [[ $CONNECTC_FUZZ_STATIC_DEPS != 0 && ! $n =~ ^(c|m|dl|rt|pthread|stdc\+\+)$ ]]; then
    link+=(-Wl,-Bstatic "$l" -Wl,-Bdynamic)
  else
    link+=("$l")
  fi
done
link+=("${lib_other[@]}")

read -r -a cflags <<<"$CFLAGS"
read -r -a cxxflags <<<"$CXXFLAGS"
read -r -a engine <<<"$LIB_FUZZING_ENGINE"
common=(-std=c11 "${cflags[@]}" -I"$root/core" "${lib_cflags[@]}")

shopt -s nullglob
harnesses=("$root"/fuzz/fuzz_*.c)
shopt -u nullglob
objdir=$WORK/obj
rm -rf "$objdir"
mkdir -p "$objdir"

# ---- harnesses ----
if ((${#harnesses[@]} == 0)); then
  log "no fuzz/fuzz_*.c harnesses found; nothing to build"
  exit 0
fi
built=()
skipped=()
for src in "${harnesses[@]}"; do
  name=$(basename "${src%.c}")
  if grep -q 'fuzz-needs-codegen' "$src"; then
    # Harnesses that need per-harness generated code are built by CMake only.
    log "skip $name (fuzz-needs-codegen: build it with CMake -DCONNECTC_FUZZ=ON)"
    skipped+=("$name")
    continue
  fi
  log "harness $name"
  # "fuzz-extra-sources: a.c b.c" (paths from the repository root): sources
  # outside the installed libraries (the adapters' shared HTTP/1.1 helpers),
  # compiled into the harness.
  extra_objs=()
  read -r -a extra_srcs <<<"$(sed -nE 's/.*fuzz-extra-sources:[[:space:]]*(.*[^[:space:]*\/])[[:space:]]*(\*\/)?$/\1/p' "$src" | head -1)"
  for x in "${extra_srcs[@]}"; do
    o="$objdir/$name.$(basename "${x%.c}").o"
    "$CC" "${common[@]}" -I"$(dirname "$root/$x")" -c "$root/$x" -o "$o"
    extra_objs+=("$o")
  done
  extra_inc=()
  ((${#extra_srcs[@]} == 0)) || extra_inc=(-I"$(dirname "$root/${extra_srcs[0]}")")
  "$CC" "${common[@]}" "${extra_inc[@]}" -c "$src" -o "$objdir/$name.harness.o"
  "$CXX" "${cxxflags[@]}" "$objdir/$name.harness.o" "${extra_objs[@]}" -o "$OUT/$name" "${engine[@]}" "${link[@]}"
  corpus=$root/fuzz/corpus/$name
  rm -f "$OUT/${name}_seed_corpus.zip"
  if [[ -d $corpus ]] && [[ -n "$(ls -A "$corpus")" ]]; then
    (cd "$corpus" && zip -q -r -X "$OUT/${name}_seed_corpus.zip" .)
  fi
  [[ -f $root/fuzz/$name.dict ]] && cp "$root/fuzz/$name.dict" "$OUT/$name.dict"
  [[ -f $root/fuzz/$name.options ]] && cp "$root/fuzz/$name.options" "$OUT/$name.options"
  built+=("$name")
done
log "built ${#built[@]} harness(es) in $OUT: ${built[*]}"
((${#skipped[@]} == 0)) || log "skipped ${#skipped[@]}: ${skipped[*]}"
