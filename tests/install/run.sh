#!/usr/bin/env bash
# Installs the build in $1 into a temporary prefix and builds a consumer
# against it four ways: find_package (shared, static) and pkg-config
# (shared, static). Each program runs and its output is checked.
set -euo pipefail
build=${1:?usage: tests/install/run.sh <build dir>}
here=$(cd "$(dirname "$0")" && pwd)
prefix=$(mktemp -d)
work=$(mktemp -d)
trap 'rm -rf "$prefix" "$work"' EXIT
cmake --install "$build" --prefix "$prefix" >/dev/null
want="connectc $(sed -nE 's/^project\(connectc VERSION ([0-9.]+).*/\1/p' "$here/../../CMakeLists.txt") unavailable try later 503"

check() {
  local got
  got=$("$@")
  if [ "$got" != "$want" ]; then
    echo "install test: $* printed '$got', want '$want'"
    exit 1
  fi
  echo "install test: $(basename "$1") ok"
}

cmake -S "$here" -B "$work/cmake" -G Ninja -DCMAKE_PREFIX_PATH="$prefix" >/dev/null
cmake --build "$work/cmake" >/dev/null
LD_LIBRARY_PATH="$prefix/lib" check "$work/cmake/consumer_shared"
ldd "$work/cmake/consumer_static" | grep -q libconnectc && { echo "consumer_static links libconnectc.so"; exit 1; }
check "$work/cmake/consumer_static"
got=$(LD_LIBRARY_PATH="$prefix/lib" "$work/cmake/consumer_adapters")
[ "$got" = "adapters unimplemented" ] || { echo "install test: consumer_adapters printed '$got'"; exit 1; }
echo "install test: consumer_adapters ok"

libdir=$(find "$prefix" -name connectc.pc -printf '%h\n' | head -1)
export PKG_CONFIG_PATH="$libdir"
read -r -a cf <<<"$(pkg-config --cflags connectc)"
read -r -a lf <<<"$(pkg-config --libs connectc)"
cc -std=c11 -Wall -Wextra -Werror "${cf[@]}" "$here/main.c" -o "$work/pc_shared" "${lf[@]}"
LD_LIBRARY_PATH="$prefix/lib:$libdir" check "$work/pc_shared"
read -r -a sf0 <<<"$(pkg-config --static --libs connectc)"
sf=()
for f in "${sf0[@]}"; do [ "$f" = "-lconnectc" ] || sf+=("$f"); done
cc -std=c11 -Wall -Wextra -Werror "${cf[@]}" "$here/main.c" -o "$work/pc_static" \
  -Wl,-Bstatic -lconnectc -Wl,-Bdynamic "${sf[@]}"
ldd "$work/pc_static" | grep -q libconnectc && { echo "pc_static links libconnectc.so"; exit 1; }
check "$work/pc_static"
cc -std=c11 -Wall -Wextra -Werror $(pkg-config --cflags connectc-curl connectc-microhttpd) \
  "$here/adapters_main.c" -o "$work/pc_adapters" $(pkg-config --libs connectc-curl connectc-microhttpd)
got=$(LD_LIBRARY_PATH="$prefix/lib:$libdir" "$work/pc_adapters")
[ "$got" = "adapters unimplemented" ] || { echo "install test: pc_adapters printed '$got'"; exit 1; }
echo "install test: pc_adapters ok"
echo "install test: passed"
