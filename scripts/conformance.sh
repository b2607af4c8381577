#!/usr/bin/env bash
# Runs the Connect conformance suite (conformance/config.yaml, no
# known-failing list) against the programs of a build directory.
#   scripts/conformance.sh <build dir> [server|client ...] [-- program arguments]
# Arguments after "--" go to the program under test, e.g. the Mongoose
# adapters: `-- --adapter mongoose` (server), `-- --transport mongoose`
# (client). CONFORMANCE_CONFIG names another configuration (default
# conformance/config.yaml), e.g. conformance/config-grpc-web.yaml.
# The ASan build's programs run with leak detection and UBSan aborting.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:?usage: scripts/conformance.sh <build dir> [server|client ...] [-- program arguments]}
shift
modes=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
  modes+=("$1")
  shift
done
[ $# -gt 0 ] && shift
prog_args=("$@")
[ ${#modes[@]} -gt 0 ] || modes=(server)
conf=${CONFORMANCE_CONFIG:-conformance/config.yaml}
runner=$(command -v connectconformance || echo "$(go env GOPATH)/bin/connectconformance")
status=0
for mode in "${modes[@]}"; do
  prog=$(pwd)/$build/conformance/$mode
  [ -x "$prog" ] || { echo "conformance: $prog not built"; exit 1; }
  wrap=$(mktemp)
  quoted=""
  for a in ${prog_args[@]+"${prog_args[@]}"}; do quoted="$quoted '$a'"; done
  printf '#!/bin/sh\nexport ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1\nexec "%s"%s "$@"\n' "$prog" "$quoted" >"$wrap"
  chmod +x "$wrap"
  echo "conformance: $mode mode, $build${prog_args[*]:+ (${prog_args[*]})}, $conf"
  start=$(date +%s)
  if ! "$runner" --mode "$mode" --conf "$conf" -- "$wrap"; then
    status=1
  fi
  echo "conformance: $mode mode took $(( $(date +%s) - start )) s"
  rm -f "$wrap"
done
exit $status
