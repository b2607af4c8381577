#!/usr/bin/env bash
# The main job: builds the Eliza example, starts its server (libmicrohttpd)
# on a free port, has its clients (libcurl; synchronous and asynchronous
# stubs) talk to it over HTTP/1.1 with all three kinds of call, and stops
# the server gracefully.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build/demo -G Ninja -DCONNECTC_TESTS=OFF -DCONNECTC_CONFORMANCE=OFF >/dev/null
cmake --build build/demo --target eliza_server eliza_client eliza_async_client core_demo >/dev/null
log=$(mktemp)
build/demo/examples/eliza/eliza_server 0 >"$log" 2>&1 &
server=$!
trap 'kill -INT $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 50); do
  grep -q '^listening on ' "$log" && break
  sleep 0.1
done
url=$(sed -n 's/^listening on //p' "$log")
[ -n "$url" ] || { cat "$log"; echo "eliza_server did not start"; exit 1; }
echo "eliza_server listening on $url"
build/demo/examples/eliza/eliza_client "$url"
echo
echo "The asynchronous stubs (own loop and an application's poll loop):"
build/demo/examples/eliza/eliza_async_client "$url"
echo
echo "curl, Connect unary with JSON:"
echo "  curl -s -H 'content-type: application/json' -d '{\"sentence\": \"I feel happy\"}' $url/connectrpc.eliza.v1.ElizaService/Say"
printf '  '
curl -s -H 'content-type: application/json' -d '{"sentence": "I feel happy"}' "$url/connectrpc.eliza.v1.ElizaService/Say"
echo
