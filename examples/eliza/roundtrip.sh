#!/bin/sh
# ctest: starts eliza_server on a free port, runs both clients against it,
# stops the server gracefully. Usage: roundtrip.sh server client async_client
set -eu
log=$(mktemp)
"$1" 0 >"$log" 2>&1 &
pid=$!
trap 'kill -INT $pid 2>/dev/null || true; rm -f "$log"' EXIT
i=0
while ! grep -q '^listening on ' "$log"; do
  i=$((i + 1))
  [ $i -lt 100 ] || { cat "$log"; exit 1; }
  sleep 0.1
done
url=$(sed -n 's/^listening on //p' "$log")
"$2" "$url"
"$3" "$url"
kill -INT $pid
wait $pid
