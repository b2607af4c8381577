#!/usr/bin/env bash
# Runs the Connect conformance suite against the programs of a build
# directory, with no known-failing list.
#   scripts/conformance.sh <build dir> [server|client|server-full|client-full|server-full-nghttp2 ...]
# server and client use conformance/config.yaml (the seed configuration:
# Connect over HTTP/1.1, so the server program runs on libmicrohttpd).
# server-full runs conformance/config-full.yaml in server mode: both HTTP
# versions, Connect, gRPC and gRPC-Web, TLS and client certificates; the
# server program serves HTTP/1.1 on libmicrohttpd and HTTP/2 on nghttp2.
# server-full-nghttp2 runs that configuration's HTTP/1.1 cases with the
# server forced onto the nghttp2 adapter (--adapter nghttp2: its HTTP/1.1
# side on the same port), since server-full sends them to libmicrohttpd.
# client-full runs conformance/config-full.yaml in client mode (HTTP/1.1
# and HTTP/2 on the libcurl transport).
# The ASan build's programs run with leak detection and UBSan aborting.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: scripts/conformance.sh <build dir> [server|client ...]}
shift
modes=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(server)
runner=$(command -v connectconformance || echo "$(go env GOPATH)/bin/connectconformance")
status=0
for mode in "${modes[@]}"; do
  conf=conformance/config.yaml
  run_mode=$mode
  extra=()
  adapter=()
  if [ "$mode" = server-full ] || [ "$mode" = server-full-nghttp2 ]; then
    conf=conformance/config-full.yaml
    run_mode=server
  fi
  if [ "$mode" = client-full ]; then
    conf=conformance/config-full.yaml
    run_mode=client
  fi
  if [ "$mode" = server-full-nghttp2 ]; then
    extra+=(--run '**/HTTPVersion:1/**')
    adapter=(--adapter nghttp2)
  fi
  prog=$(pwd)/$build/conformance/$run_mode
  [ -x "$prog" ] || { echo "conformance: $prog not built"; exit 1; }
  wrap=$(mktemp)
  printf '#!/bin/sh\nexport ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1\nexec "%s" %s "$@"\n' "$prog" "${adapter[*]:-}" >"$wrap"
  chmod +x "$wrap"
  echo "conformance: $mode mode, $build"
  start=$(date +%s)
  if ! "$runner" --mode "$run_mode" --conf "$conf" ${extra[@]+"${extra[@]}"} -- "$wrap"; then
    status=1
  fi
  echo "conformance: $mode mode took $(( $(date +%s) - start )) s"
  rm -f "$wrap"
done
exit $status
