#!/usr/bin/env bash
# The install test. Given a (shared-library) build directory, it
#  1. installs it into a fresh prefix and checks the ABI of every installed
#     shared library: only connectc_ symbols exported (nm -D), a SONAME
#     carrying the major version, and libconnectc-core needing no
#     libprotobuf-c (readelf -d);
#  2. builds a consumer of each CMake component on its own (core; connectc;
#     curl + microhttpd + nghttp2; mongoose, when the build has it: the
#     consumer compiles its own mongoose.c from MONGOOSE_DIR, and
#     libconnectc-mongoose must not contain Mongoose) with
#     find_package(... COMPONENTS ...), where
#     pkg-config can see only connectc's own .pc files, so that a component
#     that looked for a dependency it does not need would fail; the core
#     consumer must not include any protobuf-c header or need
#     libprotobuf-c;
#  3. builds the same consumers with pkg-config;
#  4. configures, builds and installs a static build (BUILD_SHARED_LIBS=OFF)
#     and builds the consumers against it (find_package and
#     pkg-config --static), checking they need no libconnectc*.so;
#  5. configures, builds and installs the core alone (CONNECTC_TYPED=OFF)
#     with protobuf-c invisible to pkg-config, and builds the core consumer
#     against it.
# Every program runs and its output is checked.
set -euo pipefail
# Under pipefail, `cmd | grep -q` fails when grep stops reading at its
# first match and cmd dies of SIGPIPE: every grep here reads a here-string.
build=${1:?usage: tests/install/run.sh <shared build dir>}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
version=$(sed -nE 's/^project\(connectc VERSION ([0-9.]+).*/\1/p' "$root/CMakeLists.txt")
major=${version%%.*}
fail() { echo "install test: $*"; exit 1; }
# The Mongoose adapters are tested when the build has them; their consumer
# compiles mongoose.c from the folder the build used (or MONGOOSE_DIR).
mongoose_dir=${MONGOOSE_DIR:-$(sed -n 's/^CONNECTC_MONGOOSE_DIR:PATH=//p' "$build/CMakeCache.txt" 2>/dev/null || true)}
with_mongoose=0
if [ -n "$(find "$build/adapters/mongoose" -maxdepth 1 -name 'libconnectc-mongoose*' 2>/dev/null)" ]; then
  [ -f "$mongoose_dir/mongoose.c" ] || fail "the build has the Mongoose adapters but no mongoose.c in '$mongoose_dir'"
  with_mongoose=1
fi
want_mongoose="mongoose unimplemented"

expect() { # expect <want> <cmd...>
  local want=$1 got
  shift
  got=$("$@") || fail "$* exited with $?"
  [ "$got" = "$want" ] || fail "$(basename "$1") printed '$got', want '$want'"
  echo "install test: $(basename "$1") ok"
}
want_core="core $version $version same 404"
want_typed="connectc $version unavailable try later 503 \"1970-01-01T00:00:01Z\""
want_adapters="adapters unimplemented"

# A pkg-config directory holding only (links to) connectc's .pc files, for
# the find_package consumers: none of them may need a .pc file.
pc_only() { # pc_only <prefix> -> directory
  local d="$work/pc-$(basename "$1")"
  mkdir -p "$d"
  find "$1" -name 'connectc*.pc' -exec ln -sf {} "$d/" \;
  echo "$d"
}

consumers_cmake() { # consumers_cmake <prefix> <tag> <run prefix for LD_LIBRARY_PATH>
  local prefix=$1 tag=$2 pcdir
  pcdir=$(pc_only "$prefix")
  local consumers=(core typed adapters)
  [ $with_mongoose = 1 ] && consumers+=(mongoose)
  for c in "${consumers[@]}"; do
    local bdir="$work/$tag-cmake-$c"
    # Only connectc's .pc files are visible, except for the adapters (the
    # microhttpd header needs libmicrohttpd's) and the typed library
    # (protobuf-c): they may look up exactly what they build on.
    local pcpath="$pcdir"
    # A static core links brotli and zstd, found through their .pc files.
    case $c,$tag in
      typed,*|adapters,*|*,static) pcpath="$pcdir:$(pkg-config --variable pc_path pkg-config)" ;;
    esac
    PKG_CONFIG_LIBDIR="$pcpath" cmake -S "$here/$c" -B "$bdir" -G Ninja \
      -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_FLAGS="-Wall -Wextra -Werror" \
      -DMONGOOSE_DIR="$mongoose_dir" >"$bdir.log" 2>&1 ||
      { cat "$bdir.log"; fail "find_package for component $c ($tag) failed"; }
    cmake --build "$bdir" >"$bdir.build.log" 2>&1 || { cat "$bdir.build.log"; fail "building the $c consumer ($tag) failed"; }
  done
  local lib="$prefix/lib"
  [ -d "$prefix/lib64" ] && lib="$prefix/lib64"
  LD_LIBRARY_PATH="$lib" expect "$want_core" "$work/$tag-cmake-core/consumer_core"
  LD_LIBRARY_PATH="$lib" expect "$want_typed" "$work/$tag-cmake-typed/consumer_typed"
  LD_LIBRARY_PATH="$lib" expect "$want_adapters" "$work/$tag-cmake-adapters/consumer_adapters"
  if [ $with_mongoose = 1 ]; then
    LD_LIBRARY_PATH="$lib" expect "$want_mongoose" "$work/$tag-cmake-mongoose/consumer_mongoose"
  fi
}

consumers_pkgconfig() { # consumers_pkgconfig <prefix> <tag> [--static]
  local prefix=$1 tag=$2 static=${3:-} pcdir
  pcdir=$(dirname "$(find "$prefix" -name connectc-core.pc | head -1)")
  export PKG_CONFIG_PATH="$pcdir"
  local libdir
  libdir=$(pkg-config --variable=libdir connectc-core)
  local out="$work/$tag-pc"
  mkdir -p "$out"
  build_pc() { # build_pc <name> <src> <packages...>
    local name=$1 src=$2
    shift 2
    local cf lf
    read -r -a cf <<<"$(pkg-config --cflags "$@")"
    if [ -n "$static" ]; then
      # connectc's archives with their private requirements (--static), but
      # the adapters' system libraries as shared ones: a static libcurl
      # would need every TLS and LDAP archive. libcurl is a private
      # requirement of connectc-curl, so it is named here.
      local own=() adapters=() sys=()
      for p in "$@"; do
        case $p in
          connectc-curl) adapters+=("$p"); sys+=(libcurl); own+=(connectc-core) ;;
          connectc-microhttpd) adapters+=("$p"); own+=(connectc-core) ;;
          connectc-nghttp2) adapters+=("$p"); sys+=(libnghttp2 libssl libcrypto); own+=(connectc-core) ;;
          *) own+=("$p") ;;
        esac
      done
      local flags
      flags="${adapters:+$(pkg-config --libs "${adapters[@]}")} $(pkg-config --static --libs "${own[@]}") ${sys:+$(pkg-config --libs "${sys[@]}")}"
      read -r -a lf <<<"$(sed -E 's/(^| )-l(connectc[a-z0-9-]*)/\1-l:lib\2.a/g' <<<"$flags")"
    else
      read -r -a lf <<<"$(pkg-config --libs "$@")"
    fi
    cc -std=c11 -Wall -Wextra -Werror "${cf[@]}" "$src" -o "$out/$name" "${lf[@]}" ||
      fail "pkg-config build of $name ($tag) failed"
  }
  build_pc core "$here/core/main.c" connectc-core
  build_pc typed "$here/typed/main.c" connectc
  build_pc adapters "$here/adapters/main.c" connectc-curl connectc-microhttpd connectc-nghttp2
  if [ $with_mongoose = 1 ]; then
    # The user's own mongoose.c, compiled as its users do (GNU C, its own
    # warnings), linked with the adapters from pkg-config.
    cc -std=gnu11 -w -c "$mongoose_dir/mongoose.c" -o "$out/mongoose.o" ||
      fail "compiling mongoose.c ($tag) failed"
    local cf lf
    read -r -a cf <<<"$(pkg-config --cflags connectc-mongoose)"
    if [ -n "$static" ]; then
      read -r -a lf <<<"$(pkg-config --static --libs connectc-mongoose | sed -E 's/(^| )-l(connectc[a-z-]*)/\1-l:lib\2.a/g')"
    else
      read -r -a lf <<<"$(pkg-config --libs connectc-mongoose)"
    fi
    cc -std=c11 -Wall -Wextra -Werror "${cf[@]}" -I"$mongoose_dir" "$here/mongoose/main.c" "$out/mongoose.o" \
      -o "$out/mongoose" "${lf[@]}" || fail "pkg-config build of the Mongoose consumer ($tag) failed"
  fi
  LD_LIBRARY_PATH="$libdir" expect "$want_core" "$out/core"
  LD_LIBRARY_PATH="$libdir" expect "$want_typed" "$out/typed"
  LD_LIBRARY_PATH="$libdir" expect "$want_adapters" "$out/adapters"
  [ $with_mongoose = 1 ] && LD_LIBRARY_PATH="$libdir" expect "$want_mongoose" "$out/mongoose"
  if [ -n "$static" ]; then
    for p in core typed adapters; do
      if grep -q 'libconnectc' <<<"$(ldd "$out/$p")"; then fail "static $p consumer needs a libconnectc .so"; fi
    done
  fi
  unset PKG_CONFIG_PATH
}

# ---- 1. the shared build: ABI checks ----
shared="$work/shared"
cmake --install "$build" --prefix "$shared" >/dev/null
sos=$(find "$shared" -name 'libconnectc*.so.*.*.*' | sort)
[ -n "$sos" ] || fail "no shared libraries installed from $build (is it a BUILD_SHARED_LIBS=ON build?)"
for so in $sos; do
  name=$(basename "$so")
  bad=$(nm -D --defined-only "$so" | awk '{print $3}' | grep -v '^connectc_' || true)
  [ -z "$bad" ] || fail "$name exports non-connectc_ symbols: $(echo $bad | head -c 400)"
  soname=$(readelf -d "$so" | sed -nE 's/.*Library soname: \[(.*)\].*/\1/p')
  [[ "$soname" == *".so.$major" ]] || fail "$name has SONAME '$soname', want one ending in .so.$major"
  echo "install test: $name exports $(nm -D --defined-only "$so" | wc -l) symbols, all connectc_; SONAME $soname"
done
core_so=$(echo "$sos" | grep 'libconnectc-core\.so')
if grep -q 'libprotobuf-c' <<<"$(readelf -d "$core_so")"; then fail "libconnectc-core needs libprotobuf-c"; fi
for a in curl microhttpd nghttp2 mongoose; do
  so=$(echo "$sos" | grep "libconnectc-$a\\.so" || true)
  [ -n "$so" ] || continue
  if grep -qE 'libconnectc\.so|libprotobuf-c' <<<"$(readelf -d "$so")"; then
    fail "libconnectc-$a needs the typed library or protobuf-c; adapters depend on the core only"
  fi
done
echo "install test: libconnectc-core and the adapters need no libprotobuf-c"
if [ $with_mongoose = 1 ]; then
  so=$(echo "$sos" | grep 'libconnectc-mongoose\.so') || fail "no libconnectc-mongoose.so installed"
  # Mongoose is the program's: the adapter library leaves every mg_ symbol
  # undefined and defines none.
  if grep -q '^mg_' <<<"$(nm --defined-only "$so" | awk '{print $3}')"; then
    fail "libconnectc-mongoose contains Mongoose (defines mg_ symbols)"
  fi
  grep -q ' mg_mgr_poll$' <<<"$(nm -u "$so")" || fail "libconnectc-mongoose does not use mg_mgr_poll from the program"
  echo "install test: libconnectc-mongoose leaves Mongoose to the program (mg_ symbols undefined)"
fi

# ---- 2, 3: consumers of the shared install ----
consumers_cmake "$shared" shared
core_bin="$work/shared-cmake-core/consumer_core"
if grep -qE 'libprotobuf-c|libconnectc\.so' <<<"$(readelf -d "$core_bin")"; then
  fail "the core consumer needs libprotobuf-c or libconnectc: $(readelf -d "$core_bin" | grep NEEDED)"
fi
deps=$(cc -std=c11 -M -I"$shared/include" "$here/core/main.c")
if grep -q 'protobuf-c' <<<"$deps"; then fail "<connectc/core.h> includes a protobuf-c header"; fi
echo "install test: the core consumer includes no protobuf-c header and needs no libprotobuf-c"
consumers_pkgconfig "$shared" shared

# ---- 4. a static build ----
static_build="$work/static-build"
mg_static=()
[ $with_mongoose = 1 ] && mg_static=(-DCONNECTC_MONGOOSE_DIR="$mongoose_dir")
cmake -S "$root" -B "$static_build" -G Ninja -DBUILD_SHARED_LIBS=OFF -DCONNECTC_TESTS=OFF \
  -DCONNECTC_EXAMPLES=OFF -DCONNECTC_BENCH=OFF -DCONNECTC_CONFORMANCE=OFF -DCONNECTC_DOCS=OFF \
  ${mg_static[@]+"${mg_static[@]}"} \
  >"$static_build.log" 2>&1 || { cat "$static_build.log"; fail "configuring the static build failed"; }
cmake --build "$static_build" -j"${JOBS:-2}" >"$static_build.build.log" 2>&1 ||
  { tail -30 "$static_build.build.log"; fail "the static build failed"; }
static="$work/static"
cmake --install "$static_build" --prefix "$static" >/dev/null
[ -z "$(find "$static" -name 'libconnectc*.so*')" ] || fail "the static build installed shared libraries"
consumers_cmake "$static" static
static_consumers=(core typed adapters)
[ $with_mongoose = 1 ] && static_consumers+=(mongoose)
for p in "${static_consumers[@]}"; do
  b=$(find "$work/static-cmake-$p" -maxdepth 1 -name 'consumer_*' -type f)
  if grep -q 'libconnectc' <<<"$(ldd "$b")"; then fail "static $p consumer needs a libconnectc .so"; fi
done
consumers_pkgconfig "$static" static --static

# ---- 5. the core alone, without protobuf-c ----
core_build="$work/core-build"
empty_pc="$work/empty-pc"
mkdir -p "$empty_pc"
PKG_CONFIG_LIBDIR="$empty_pc" cmake -S "$root" -B "$core_build" -G Ninja -DCONNECTC_TYPED=OFF \
  -DCONNECTC_DOCS=OFF -DCMAKE_EXPORT_COMPILE_COMMANDS=ON >"$core_build.log" 2>&1 ||
  { cat "$core_build.log"; fail "configuring the core alone failed"; }
cmake --build "$core_build" -j"${JOBS:-2}" >"$core_build.build.log" 2>&1 ||
  { tail -30 "$core_build.build.log"; fail "building the core alone failed"; }
if grep -q 'protobuf' "$core_build/compile_commands.json"; then fail "the core-only build mentions protobuf"; fi
core_only="$work/core-only"
cmake --install "$core_build" --prefix "$core_only" >/dev/null
[ -z "$(find "$core_only" -name 'libconnectc.so*' -o -name 'protoc-gen-*')" ] || fail "the core-only build installed more than the core"
pcdir=$(pc_only "$core_only")
PKG_CONFIG_LIBDIR="$pcdir" cmake -S "$here/core" -B "$work/core-only-consumer" -G Ninja \
  -DCMAKE_PREFIX_PATH="$core_only" >/dev/null 2>&1 || fail "find_package(COMPONENTS core) on the core-only install failed"
cmake --build "$work/core-only-consumer" >/dev/null 2>&1 || fail "building against the core-only install failed"
lib=$(dirname "$(find "$core_only" -name 'libconnectc-core.so' | head -1)")
LD_LIBRARY_PATH="$lib" expect "$want_core" "$work/core-only-consumer/consumer_core"
echo "install test: passed"
