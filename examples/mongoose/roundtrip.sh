#!/bin/sh
# ctest: starts eliza_mongoose on a free port; fetches its own page and
# calls the Eliza service on the same port with plain curl (Connect JSON,
# a Connect GET, and a server stream); stops it gracefully. With
# --connect-only the program serves Eliza alone on connectc's listener:
# no page, and connectc answers the unknown path.
# Usage: roundtrip.sh eliza_mongoose [--connect-only]
set -eu
log=$(mktemp)
out=$(mktemp)
mode=${2:-}
"$1" $mode 0 >"$log" 2>&1 &
pid=$!
trap 'kill -INT $pid 2>/dev/null || true; rm -f "$log" "$out"' EXIT
i=0
while ! grep -q '^listening on ' "$log"; do
  i=$((i + 1))
  [ $i -lt 100 ] || { cat "$log"; exit 1; }
  sleep 0.1
done
url=$(sed -n 's/^listening on //p' "$log")
fail() { echo "roundtrip: $*"; cat "$out"; exit 1; }
if [ -z "$mode" ]; then
  curl -sS -o "$out" "$url/" && grep -q '<h1>Talk to Eliza</h1>' "$out" || fail "the page"
  echo "page: ok"
else
  code=$(curl -sS -o "$out" -w '%{http_code}' "$url/")
  [ "$code" = 404 ] || fail "no page with --connect-only, got $code"
fi
curl -sS -o "$out" -H 'content-type: application/json' -d '{"sentence": "I feel happy"}' \
  "$url/connectrpc.eliza.v1.ElizaService/Say"
[ "$(cat "$out")" = '{"sentence":"Do you often feel that way?"}' ] || fail "Say (POST JSON)"
echo "Say: $(cat "$out")"
curl -sS -o "$out" "$url/connectrpc.eliza.v1.ElizaService/Say?encoding=json&connect=v1&message=%7B%22sentence%22%3A%22hello%22%7D"
[ "$(cat "$out")" = '{"sentence":"Hello. How are you feeling today?"}' ] || fail "Say (GET)"
echo "Say (GET): $(cat "$out")"
# A server stream, the request sent chunked: three messages and the end.
printf '\0\0\0\0\016{"name":"Joe"}' | curl -sS -o "$out" -H 'content-type: application/connect+json' \
  -H 'transfer-encoding: chunked' --data-binary @- "$url/connectrpc.eliza.v1.ElizaService/Introduce"
grep -q "Hi Joe. I'm Eliza." "$out" && grep -q 'How are you feeling today, Joe?' "$out" || fail "Introduce"
echo "Introduce: ok"
code=$(curl -sS -o "$out" -w '%{http_code}' "$url/nope")
[ "$code" = 404 ] || fail "404 for an unknown path, got $code"
if [ -z "$mode" ]; then
  grep -q '^not found$' "$out" || fail "the program's own 404"
fi
kill -INT $pid
wait $pid
grep -q '^stopped' "$log" || { cat "$log"; exit 1; }
