#!/usr/bin/env bash
# buf curl (npm @bufbuild/buf), a peer written by others, against the Eliza
# example server over HTTP/1.1: Say and Introduce over Connect and
# gRPC-Web, and the health service. Every answer is compared exactly.
#   tests/peers/buf_curl.sh <build dir>
set -euo pipefail
build=${1:?usage: tests/peers/buf_curl.sh <build dir>}
root=$(cd "$(dirname "$0")/../.." && pwd)
buf_version=${BUF_VERSION:-1.47.2}
command -v npx >/dev/null || { echo "buf curl: npx is missing (scripts/deps.sh installs it)"; exit 1; }
log=$(mktemp)
"$root/$build/examples/eliza/eliza_server" 0 >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 1 50); do grep -q 'listening on' "$log" && break; sleep 0.1; done
url=$(sed -nE 's/.*listening on (http[^ ]*).*/\1/p' "$log")
[ -n "$url" ] || { echo "buf curl: the server did not start"; cat "$log"; exit 1; }

bufcurl() { npx -y "@bufbuild/buf@$buf_version" curl "$@"; }
expect() { # expect <name> <want> <got>
  if [ "$2" != "$3" ]; then
    printf 'buf curl: %s: want\n%s\ngot\n%s\n' "$1" "$2" "$3"
    exit 1
  fi
  echo "buf curl: $1 ok"
}
say='{
  "sentence": "Do you often feel that way?"
}'
for proto in connect grpcweb; do
  got=$(bufcurl --schema "$root/examples/eliza" --protocol "$proto" -d '{"sentence":"I feel happy"}' \
        "$url/connectrpc.eliza.v1.ElizaService/Say")
  expect "Say over $proto" "$say" "$got"
done
intro='{
  "sentence": "Hi Ada. I'"'"'m Eliza."
}
{
  "sentence": "I'"'"'m a Rogerian psychotherapist, Ada."
}
{
  "sentence": "How are you feeling today, Ada?"
}'
got=$(bufcurl --schema "$root/examples/eliza" --protocol connect -d '{"name":"Ada"}' \
      "$url/connectrpc.eliza.v1.ElizaService/Introduce")
expect "Introduce (server stream) over connect" "$intro" "$got"
got=$(bufcurl --schema "$root/typed/proto" --protocol connect \
      -d '{"service":"connectrpc.eliza.v1.ElizaService"}' "$url/grpc.health.v1.Health/Check")
expect "health Check" '{
  "status": "SERVING"
}' "$got"
# An error, as a person sees it: buf curl prints the code and message and exits non-zero.
if got=$(bufcurl --schema "$root/examples/eliza" --protocol connect -d '{"sentence":""}' \
         "$url/connectrpc.eliza.v1.ElizaService/Say" 2>&1); then
  echo "buf curl: an empty sentence should fail"; exit 1
fi
grep -q 'invalid_argument' <<<"$got" || { echo "buf curl: want invalid_argument, got: $got"; exit 1; }
echo "buf curl: error ok"
echo "buf curl: passed"
