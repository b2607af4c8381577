#!/usr/bin/env bash
# The main job: builds the Eliza example, starts its server (libmicrohttpd
# for HTTP/1.1, nghttp2 for HTTP/2) on free ports, has its clients
# (libcurl; synchronous and asynchronous stubs) talk to it over HTTP/1.1
# with all three kinds of call, makes a gRPC call over HTTP/2 to the same
# server (grpcurl when installed, else curl with a hand-made envelope), and
# stops the server gracefully.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build/demo -G Ninja -DCONNECTC_TESTS=OFF -DCONNECTC_CONFORMANCE=OFF >/dev/null
cmake --build build/demo --target eliza_server eliza_client eliza_async_client core_demo >/dev/null
log=$(mktemp)
build/demo/examples/eliza/eliza_server 0 --h2 0 >"$log" 2>&1 &
server=$!
trap 'kill -INT $server 2>/dev/null || true; wait $server 2>/dev/null || true; rm -f "$log"' EXIT
for _ in $(seq 50); do
  grep -q '^listening (HTTP/2) on ' "$log" && break
  sleep 0.1
done
url=$(sed -n 's/^listening on //p' "$log")
h2url=$(sed -n 's/^listening (HTTP\/2) on //p' "$log")
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
echo
echo "gRPC over HTTP/2 (h2c) to the same server:"
grpcurl=$(command -v grpcurl || true)
[ -n "$grpcurl" ] || { [ -x "$(go env GOPATH 2>/dev/null)/bin/grpcurl" ] && grpcurl=$(go env GOPATH)/bin/grpcurl; } || true
if [ -n "$grpcurl" ]; then
  echo "  grpcurl -plaintext -proto examples/eliza/eliza.proto -d '{\"sentence\": \"I feel happy\"}' ${h2url#http://} connectrpc.eliza.v1.ElizaService/Say"
  "$grpcurl" -plaintext -proto examples/eliza/eliza.proto -d '{"sentence": "I feel happy"}' \
    "${h2url#http://}" connectrpc.eliza.v1.ElizaService/Say | sed 's/^/  /'
else
  # SayRequest{sentence: "I feel happy"} in a gRPC envelope; the reply's
  # envelope is stripped and decoded with protoc.
  echo "  printf '\\0\\0\\0\\0\\016\\012\\014I feel happy' | curl -s --http2-prior-knowledge -H 'content-type: application/grpc' -H 'te: trailers' --data-binary @- $h2url/connectrpc.eliza.v1.ElizaService/Say"
  body=$(mktemp)
  printf '\0\0\0\0\016\012\014I feel happy' |
    curl -sS --http2-prior-knowledge -H 'content-type: application/grpc' -H 'te: trailers' \
      --data-binary @- -D /dev/stderr -o "$body" "$h2url/connectrpc.eliza.v1.ElizaService/Say" 2>&1 |
    tr -d '\r' | grep -E '^(HTTP/2|grpc-status|content-type)' | sed 's/^/  /'
  tail -c +6 "$body" | protoc --decode connectrpc.eliza.v1.SayResponse -I examples/eliza \
    examples/eliza/eliza.proto | sed 's/^/  /'
  rm -f "$body"
fi
