#!/usr/bin/env bash
# Runs the Connect conformance suite (conformance/config.yaml, no
# known-failing list) against the programs of a build directory.
#   scripts/conformance.sh <build dir> [server|client ...]
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
  prog=$(pwd)/$build/conformance/$mode
  [ -x "$prog" ] || { echo "conformance: $prog not built"; exit 1; }
  wrap=$(mktemp)
  printf '#!/bin/sh\nexport ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1\nexec "%s" "$@"\n' "$prog" >"$wrap"
  chmod +x "$wrap"
  echo "conformance: $mode mode, $build"
  start=$(date +%s)
  if ! "$runner" --mode "$mode" --conf conformance/config.yaml -- "$wrap"; then
    status=1
  fi
  echo "conformance: $mode mode took $(( $(date +%s) - start )) s"
  rm -f "$wrap"
done
exit $status
