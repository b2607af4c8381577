#!/usr/bin/env bash
# Builds every fuzz/fuzz_*.c harness the way OSS-Fuzz does: honours $CC,
# $CFLAGS, $LIB_FUZZING_ENGINE and $OUT, and puts <name>_seed_corpus.zip and
# <name>.dict beside each binary. Outside OSS-Fuzz it defaults to clang with
# ASan+UBSan and libFuzzer, into build/oss-fuzz.
set -euo pipefail
src=$(cd "$(dirname "$0")/.." && pwd)
: "${CC:=clang}"
: "${CFLAGS:=-O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined,fuzzer-no-link}"
: "${LIB_FUZZING_ENGINE:=-fsanitize=fuzzer}"
: "${OUT:=$src/build/oss-fuzz}"
: "${WORK:=$OUT/work}"
mkdir -p "$OUT" "$WORK"

defs=()
deps=(libprotobuf-c zlib)
if pkg-config --exists libbrotlienc libbrotlidec; then
  defs+=(-DCONNECTC_HAVE_BROTLI=1); deps+=(libbrotlienc libbrotlidec)
fi
if pkg-config --exists libzstd; then
  defs+=(-DCONNECTC_HAVE_ZSTD=1); deps+=(libzstd)
fi
read -r -a dep_cflags <<<"$(pkg-config --cflags "${deps[@]}")"
read -r -a dep_libs <<<"$(pkg-config --libs "${deps[@]}")"
read -r -a cflags <<<"$CFLAGS"
read -r -a engine <<<"$LIB_FUZZING_ENGINE"

objs=()
for c in "$src"/core/*.c; do
  o="$WORK/$(basename "${c%.c}").o"
  "$CC" "${cflags[@]}" -std=c11 "${defs[@]}" -I"$src/include" -I"$src/core" \
    "${dep_cflags[@]+"${dep_cflags[@]}"}" -c "$c" -o "$o"
  objs+=("$o")
done
# The well-known types (google.protobuf.Value is the recursive message the
# proto harness uses), generated with protoc-c as the CMake build does.
wkt_inc=$(dirname "$(dirname "$(find /usr/include -name struct.proto -path '*google/protobuf/*' | head -1)")")
mkdir -p "$WORK/wkt"
protoc -I"$wkt_inc" --c_out="$WORK/wkt" google/protobuf/struct.proto
"$CC" "${cflags[@]}" -std=c11 -I"$WORK/wkt" "${dep_cflags[@]+"${dep_cflags[@]}"}" \
  -c "$WORK/wkt/google/protobuf/struct.pb-c.c" -o "$WORK/struct.pb-c.o"
objs+=("$WORK/struct.pb-c.o")
rm -f "$WORK/libconnectc_fuzz.a"
ar rcs "$WORK/libconnectc_fuzz.a" "${objs[@]}"

for h in "$src"/fuzz/fuzz_*.c; do
  name=$(basename "${h%.c}")
  if grep -q 'fuzz-needs-codegen' "$h"; then
    echo "skipped $name: needs the project's code generator; build it with CMake (-DCONNECTC_FUZZ=ON)"
    continue
  fi
  "$CC" "${cflags[@]}" -std=c11 -I"$src/include" -I"$src/core" -I"$WORK/wkt" "$h" "$WORK/libconnectc_fuzz.a" \
    "${engine[@]}" "${dep_libs[@]}" -o "$OUT/$name"
  if [ -d "$src/fuzz/corpus/$name" ]; then
    (cd "$src/fuzz/corpus/$name" && zip -q -r "$OUT/${name}_seed_corpus.zip" . ) 2>/dev/null ||
      python3 -c "import shutil,sys; shutil.make_archive(sys.argv[1], 'zip', sys.argv[2])" \
        "$OUT/${name}_seed_corpus" "$src/fuzz/corpus/$name"
  fi
  [ -f "$src/fuzz/$name.dict" ] && cp "$src/fuzz/$name.dict" "$OUT/$name.dict"
  echo "built $OUT/$name"
done
