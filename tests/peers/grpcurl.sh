#!/usr/bin/env bash
# grpcurl (github.com/fullstorydev/grpcurl), a gRPC peer written by others,
# against the Eliza example server over HTTP/2 (h2c, the nghttp2 adapter),
# with no .proto file: everything it knows comes from server reflection.
# It lists the services, describes a method and a message, calls Say and
# Introduce with JSON, checks health, and shows an error with details.
# Every answer is compared exactly.
#   tests/peers/grpcurl.sh <build dir>
set -euo pipefail
build=${1:?usage: tests/peers/grpcurl.sh <build dir>}
root=$(cd "$(dirname "$0")/../.." && pwd)
grpcurl=$(command -v grpcurl || echo "$(go env GOPATH 2>/dev/null)/bin/grpcurl")
[ -x "$grpcurl" ] || { echo "grpcurl: not installed (scripts/deps.sh installs it)"; exit 1; }
log=$(mktemp)
"$root/$build/examples/eliza/eliza_server" 0 --h2 0 >"$log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; wait $pid 2>/dev/null; rm -f "$log"' EXIT
for _ in $(seq 1 50); do grep -q 'listening (HTTP/2)' "$log" && break; sleep 0.1; done
addr=$(sed -nE 's|.*listening \(HTTP/2\) on http://([^ ]*).*|\1|p' "$log")
[ -n "$addr" ] || { echo "grpcurl: the server did not start"; cat "$log"; exit 1; }

expect() { # expect <name> <want> <got>
  if [ "$2" != "$3" ]; then
    printf 'grpcurl: %s: want\n%s\ngot\n%s\n' "$1" "$2" "$3"
    exit 1
  fi
  echo "grpcurl: $1 ok"
}
g() { "$grpcurl" -plaintext "$@"; }

expect list "connectrpc.eliza.v1.ElizaService
grpc.health.v1.Health
grpc.reflection.v1.ServerReflection
grpc.reflection.v1alpha.ServerReflection" "$(g "$addr" list)"
expect "describe a method" "connectrpc.eliza.v1.ElizaService.Say is a method:
rpc Say ( .connectrpc.eliza.v1.SayRequest ) returns ( .connectrpc.eliza.v1.SayResponse ) {
  option idempotency_level = NO_SIDE_EFFECTS;
}" "$(g "$addr" describe connectrpc.eliza.v1.ElizaService.Say)"
expect "describe a message" "connectrpc.eliza.v1.SayRequest is a message:
message SayRequest {
  string sentence = 1;
}" "$(g "$addr" describe connectrpc.eliza.v1.SayRequest)"
expect "Say" '{
  "sentence": "Do you often feel that way?"
}' "$(g -d '{"sentence": "I feel happy"}' "$addr" connectrpc.eliza.v1.ElizaService/Say)"
expect "Introduce (server stream)" '{
  "sentence": "Hi Ada. I'"'"'m Eliza."
}
{
  "sentence": "I'"'"'m a Rogerian psychotherapist, Ada."
}
{
  "sentence": "How are you feeling today, Ada?"
}' "$(g -d '{"name": "Ada"}' "$addr" connectrpc.eliza.v1.ElizaService/Introduce)"
expect "health Check" '{
  "status": "SERVING"
}' "$(g -d '{"service": "connectrpc.eliza.v1.ElizaService"}' "$addr" grpc.health.v1.Health/Check)"
expect "health Check of the server" '{
  "status": "SERVING"
}' "$(g "$addr" grpc.health.v1.Health/Check)"
set +e
err=$(g -d '{"sentence": ""}' "$addr" connectrpc.eliza.v1.ElizaService/Say 2>&1)
rc=$?
set -e
[ "$rc" -ne 0 ] || { echo "grpcurl: an empty sentence should fail"; exit 1; }
expect "error with details" 'ERROR:
  Code: InvalidArgument
  Message: say something: the sentence is empty
  Details:
  1)	{
    	  "@type": "type.googleapis.com/connectrpc.eliza.v1.FieldViolation",
    	  "description": "Eliza needs a sentence to answer; this one has no words",
    	  "field": "sentence"
    	}' "$err"
echo "grpcurl: passed"
