#!/usr/bin/env bash
# Runs the Connect conformance suite against the programs of a build
# directory, with no known-failing list (client-full marks one group of
# cases known-flaky: see below).
#   scripts/conformance.sh <build dir> [MODE ...] [-- program arguments]
# MODE is one of:
#   server, client   conformance/config.yaml (the seed configuration: Connect
#                    over HTTP/1.1; the server program runs on libmicrohttpd)
#   server-full      conformance/config-full.yaml in server mode: both HTTP
#                    versions, Connect, gRPC and gRPC-Web, TLS and client
#                    certificates, full duplex; HTTP/1.1 on libmicrohttpd,
#                    HTTP/2 on nghttp2
#   client-full      conformance/config-full.yaml in client mode (HTTP/1.1 and
#                    HTTP/2 on the libcurl transport)
#   server-full-nghttp2  that configuration's HTTP/1.1 cases with the server
#                    forced onto the nghttp2 adapter (its HTTP/1.1 side)
# Arguments after "--" go to the program under test, e.g. the Mongoose
# adapters: `-- --adapter mongoose` (server), `-- --transport mongoose`
# (client). CONFORMANCE_CONFIG replaces the configuration of server and
# client, e.g. conformance/config-grpc-web.yaml.
# The ASan build's programs run with leak detection and UBSan aborting.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: scripts/conformance.sh <build dir> [MODE ...] [-- program arguments]}
shift
modes=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  modes+=("$1")
  shift
done
[ $# -gt 0 ] && shift
prog_args=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(server)
runner=$(command -v connectconformance || echo "$(go env GOPATH)/bin/connectconformance")
status=0
for mode in "${modes[@]}"; do
  conf=${CONFORMANCE_CONFIG:-conformance/config.yaml}
  run_mode=$mode
  extra=()
  args=(${prog_args[@]+"${prog_args[@]}"})
  case $mode in
    server-full) conf=conformance/config-full.yaml run_mode=server ;;
    client-full)
      conf=conformance/config-full.yaml run_mode=client
      # One race of libcurl 7.88 (Debian 12's), seen in 2 of about 20 full
      # client runs: over HTTP/2, a full-duplex bidi call whose server
      # answers with an error before any message sometimes ends in
      # CURLE_GOT_NOTHING ("Server returned nothing") although the server
      # sent its answer (1560 runs of these cases alone passed). In 7.88
      # that code comes only from Curl_http_done's "Empty reply from
      # server" check: libcurl ended the transfer as done before handing
      # it the header block it had read for the stream. The cases
      # still run and must pass otherwise; a failure of one of them is
      # reported as flaky instead of failing the run.
      extra=(--known-flaky '**/HTTPVersion:2/**/bidi-stream/full-duplex/error-no-responses') ;;
    server-full-nghttp2)
      conf=conformance/config-full.yaml run_mode=server
      extra=(--run '**/HTTPVersion:1/**')
      args+=(--adapter nghttp2) ;;
    server|client) ;;
    *) echo "conformance: unknown mode $mode"; exit 2 ;;
  esac
  prog=$(pwd)/$build/conformance/$run_mode
  [ -x "$prog" ] || { echo "conformance: $prog not built"; exit 1; }
  wrap=$(mktemp)
  quoted=""
  for a in ${args[@]+"${args[@]}"}; do quoted="$quoted '$a'"; done
  printf '#!/bin/sh\nexport ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1\nexec "%s"%s "$@"\n' "$prog" "$quoted" >"$wrap"
  chmod +x "$wrap"
  echo "conformance: $mode mode, $build${args[*]:+ (${args[*]})}, $conf"
  start=$(date +%s)
  if ! "$runner" --mode "$run_mode" --conf "$conf" ${extra[@]+"${extra[@]}"} -- "$wrap"; then
    status=1
  fi
  echo "conformance: $mode mode took $(( $(date +%s) - start )) s"
  rm -f "$wrap"
done
exit $status
