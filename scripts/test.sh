#!/usr/bin/env bash
# The test command: builds and tests connectc every way CI cares about.
#   gcc and clang builds (warnings are errors) with the cmocka suite,
#   the API reference (Doxygen; an undocumented public function or
#   parameter fails it),
#   an ASan+UBSan build with the suite, a ThreadSanitizer build with the
#   threaded tests, a build without brotli and zstd,
#   the libFuzzer harnesses run over their corpora and for FUZZ_SECONDS each,
#   the install test (find_package and pkg-config, shared and static),
#   the conformance suite (gcc and ASan builds: the seed configuration in
#   both modes, the full one in client and server mode on both server
#   adapters), the server load checks (HTTP/1.1 and HTTP/2), the Eliza
#   demo, the browser test (connect-web in headless Chromium), buf curl, and
#   buf generate with the local plugins.
# Mongoose (GPLv2 or commercial) is not a package: its sources are expected
# in ../shared/third_party/mongoose (MONGOOSE_DIR overrides), and every
# build but the fuzzing one is configured with CONNECTC_MONGOOSE_DIR
# pointing there; the Mongoose adapters run the conformance suite too.
# Ends with one line "N passed, M failed" summing every ctest run.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
jobs=${JOBS:-2}
fuzz_seconds=${FUZZ_SECONDS:-20}
passed=0
failed=0
steps_failed=()

note() { printf '\n=== %s\n' "$*"; }

# ctest in $1; adds its counts to the totals.
run_ctest() {
  local dir=$1 log
  shift
  log=$(mktemp)
  ctest --test-dir "$dir" --output-on-failure -j"$jobs" "$@" 2>&1 | tee "$log"
  local line
  line=$(grep -E 'tests passed, [0-9]+ tests failed out of [0-9]+' "$log" | tail -1)
  if [ -z "$line" ]; then
    steps_failed+=("ctest in $dir did not run")
    failed=$((failed + 1))
  else
    local f total
    f=$(sed -E 's/.*tests passed, ([0-9]+) tests failed out of ([0-9]+).*/\1/' <<<"$line")
    total=$(sed -E 's/.*tests passed, ([0-9]+) tests failed out of ([0-9]+).*/\2/' <<<"$line")
    passed=$((passed + total - f))
    failed=$((failed + f))
    [ "$f" -eq 0 ] || steps_failed+=("ctest in $dir: $f failed")
  fi
  rm -f "$log"
}

# configure+build: $1 = dir, rest = cmake args (CC from the environment).
build() {
  local dir=$1
  shift
  if ! cmake -S . -B "$dir" -G Ninja "$@" >"$dir.configure.log" 2>&1; then
    cat "$dir.configure.log"
    steps_failed+=("configure $dir")
    return 1
  fi
  if ! cmake --build "$dir" -j"$jobs"; then
    steps_failed+=("build $dir")
    return 1
  fi
}

mkdir -p build
mongoose_dir=${MONGOOSE_DIR:-$root/../shared/third_party/mongoose}
if [ ! -f "$mongoose_dir/mongoose.c" ]; then
  echo "scripts/test.sh: no mongoose.c in $mongoose_dir (set MONGOOSE_DIR)" >&2
  exit 1
fi
mongoose_dir=$(cd "$mongoose_dir" && pwd)
mg=(-DCONNECTC_MONGOOSE_DIR="$mongoose_dir")

note "gcc build"
CC=gcc build build/gcc -DCMAKE_BUILD_TYPE=RelWithDebInfo "${mg[@]}" && run_ctest build/gcc

note "API reference: Doxygen on the public headers, any warning fails (docs target, gcc build)"
# An undocumented function, parameter, return value, struct member or macro
# is a warning; WARN_AS_ERROR makes the target fail, and any warning line
# that still gets through fails this step too.
docs_log=build/docs.log
if cmake --build build/gcc --target docs >"$docs_log" 2>&1 &&
   ! grep -Eq '(warning|error):' "$docs_log"; then
  passed=$((passed + 1))
  echo "docs: build/gcc/docs/html/index.html, no warnings"
else
  grep -E '(warning|error):' "$docs_log" | head -50
  tail -5 "$docs_log"
  steps_failed+=("API reference (docs target)")
  failed=$((failed + 1))
fi

note "clang build"
CC=clang build build/clang -DCMAKE_BUILD_TYPE=RelWithDebInfo "${mg[@]}" && run_ctest build/clang

note "ASan+UBSan build"
if CC=clang build build/asan -DCMAKE_BUILD_TYPE=Debug -DCONNECTC_SANITIZE=ON "${mg[@]}"; then
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
  UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    run_ctest build/asan
fi

note "ThreadSanitizer build: the threaded tests (async handlers, adapters)"
# run_ctest counts these tests again; they are worth it: TSan is the only
# build that sees a race between worker threads and the transport.
if CC=clang build build/tsan -DCMAKE_BUILD_TYPE=Debug -DCONNECTC_CONFORMANCE=OFF \
     -DCONNECTC_BENCH=OFF -DCMAKE_C_FLAGS="-fsanitize=thread -g -O1" \
     -DCMAKE_EXE_LINKER_FLAGS=-fsanitize=thread -DCMAKE_SHARED_LINKER_FLAGS=-fsanitize=thread \
     "${mg[@]}"; then
  TSAN_OPTIONS="suppressions=$root/tests/tsan.supp second_deadlock_stack=1 halt_on_error=1" \
    run_ctest build/tsan -R 'test_async_stress|test_http|test_service|hostile|eliza|mongoose'
fi

note "build without brotli and zstd"
CC=gcc build build/minimal -DCONNECTC_WITH_BROTLI=OFF -DCONNECTC_WITH_ZSTD=OFF "${mg[@]}" \
  -DCONNECTC_CONFORMANCE=OFF && run_ctest build/minimal

note "libFuzzer harnesses (${fuzz_seconds}s each)"
if CC=clang build build/fuzz -DCONNECTC_FUZZ=ON -DCONNECTC_TESTS=OFF -DCONNECTC_ADAPTERS=OFF -DCONNECTC_NGHTTP2=ON \
  -DCONNECTC_CONFORMANCE=OFF; then
  if ! FUZZ_SECONDS=$fuzz_seconds FUZZ_JOBS=$jobs fuzz/run_all.sh build/fuzz/fuzz; then
    steps_failed+=("fuzzing")
    failed=$((failed + 1))
  fi
fi

note "OSS-Fuzz style build (fuzz/build.sh)"
if OUT=build/oss-fuzz WORK=build/oss-fuzz-work fuzz/build.sh >build/oss-fuzz.log 2>&1; then
  passed=$((passed + 1))
  tail -2 build/oss-fuzz.log
else
  tail -30 build/oss-fuzz.log
  steps_failed+=("fuzz/build.sh")
  failed=$((failed + 1))
fi

note "conformance suite (gcc and ASan+UBSan builds side by side)"
# The seed configuration in both modes; the full configuration in client
# mode and in server mode (HTTP/1.1 on libmicrohttpd, HTTP/2 on nghttp2),
# then its HTTP/1.1 cases again on the nghttp2 adapter's HTTP/1.1 side; the
# Mongoose adapters with the seed configuration plus gRPC-Web. The gcc and
# ASan runs of each job go side by side: the suite mostly waits on its
# cases' delays, so two at once fit the two cores.
conformance_jobs=(
  "client" "server" "client-full" "server-full" "server-full-nghttp2"
  "grpcweb:client -- --transport mongoose" "grpcweb:server -- --adapter mongoose"
)
for job in "${conformance_jobs[@]}"; do
  conf_env=()
  spec=$job
  if [[ $job == grpcweb:* ]]; then
    conf_env=(CONFORMANCE_CONFIG=conformance/config-grpc-web.yaml)
    spec=${job#grpcweb:}
  fi
  read -r -a words <<<"$spec"
  tag=$(tr ' /' '__' <<<"$job")
  pids=()
  for b in build/gcc build/asan; do
    env ${conf_env[@]+"${conf_env[@]}"} scripts/conformance.sh "$b" "${words[@]}" \
      >"$b.conformance-$tag.log" 2>&1 &
    pids+=($!)
  done
  i=0
  for b in build/gcc build/asan; do
    if wait "${pids[$i]}"; then
      passed=$((passed + 1))
    else
      steps_failed+=("conformance $job ($b)")
      failed=$((failed + 1))
    fi
    tail -4 "$b.conformance-$tag.log"
    i=$((i + 1))
  done
done

note "server load check: 10, 256, 512, 1000 connections, 1 s each (no failures allowed)"
for server in build/gcc/examples/eliza/eliza_server build/gcc/examples/mongoose/eliza_mongoose; do
  if bench/load_server.sh build/gcc 1 "$server"; then
    passed=$((passed + 1))
  else
    steps_failed+=("server load check ($(basename "$server"))")
    failed=$((failed + 1))
  fi
done

note "HTTP/2 server load check: Connect and gRPC, 1/64/256 connections x 1/100 streams and 10,000 streams, 1 s each (no failures, bounded RSS)"
if bench/load_h2.sh build/gcc 1; then
  passed=$((passed + 1))
else
  steps_failed+=("HTTP/2 server load check")
  failed=$((failed + 1))
fi

note "install test"
if MONGOOSE_DIR="$mongoose_dir" tests/install/run.sh build/gcc; then
  passed=$((passed + 1))
else
  steps_failed+=("install test")
  failed=$((failed + 1))
fi

note "Eliza demo over HTTP (the README's first command)"
if scripts/demo.sh; then
  passed=$((passed + 1))
else
  steps_failed+=("eliza demo")
  failed=$((failed + 1))
fi

note "browser test: connect-web in headless Chromium against eliza_server (gcc and ASan+UBSan builds)"
# Fails, never skips, when chromium, node or the npm packages are missing.
for b in build/gcc build/asan; do
  if ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
       examples/browser/run_test.sh "$b"; then
    passed=$((passed + 1))
  else
    steps_failed+=("browser test ($b)")
    failed=$((failed + 1))
  fi
done

note "peers written by others against eliza_server: buf curl (Connect, gRPC-Web, gRPC, health, reflection) and grpcurl (reflection, health, calls, errors)"
for peer in buf_curl grpcurl; do
  if tests/peers/$peer.sh build/gcc; then
    passed=$((passed + 1))
  else
    steps_failed+=("$peer")
    failed=$((failed + 1))
  fi
done

note "buf generate with the local plugins"
if tests/codegen/buf_test.sh build/gcc/codegen; then
  passed=$((passed + 1))
else
  steps_failed+=("buf generate test")
  failed=$((failed + 1))
fi

echo
if [ ${#steps_failed[@]} -ne 0 ]; then
  printf 'FAILED: %s\n' "${steps_failed[@]}"
fi
echo "$passed passed, $failed failed"
[ ${#steps_failed[@]} -eq 0 ] && [ "$failed" -eq 0 ]
