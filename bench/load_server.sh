#!/usr/bin/env bash
# Load test of a server: the Eliza service answering small unary proto
# calls, loaded by h2load (HTTP/1.1) at 10, 256, 512 and 1000 concurrent
# connections. Prints a Markdown table.
#   bench/load_server.sh [build dir] [seconds per row] [server binary]
# The server binary defaults to the libmicrohttpd one
# (<build>/examples/eliza/eliza_server); any program that takes a port
# argument and prints "listening on URL" works, e.g. the Mongoose one
# (<build>/examples/mongoose/eliza_mongoose).
# Exits non-zero if any request failed or errored, or h2load did not finish
# within the duration plus 60 s, so CI can run it briefly as a robustness
# check; the figures themselves are never asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/gcc}
secs=${2:-5}
ulimit -n 8192 2>/dev/null || true
server=${3:-$build/examples/eliza/eliza_server}
[ -x "$server" ] || { echo "load: $server not built"; exit 1; }
log=$(mktemp)
body=$(mktemp)
printf '\x0a\x05hello' >"$body"
"$server" 0 >"$log" 2>&1 &
pid=$!
trap 'kill -INT $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -f "$log" "$body"' EXIT
for _ in $(seq 50); do grep -q '^listening on ' "$log" && break; sleep 0.1; done
url=$(sed -n 's/^listening on //p' "$log")
echo "| connections | requests/s | succeeded | failed+errored+timeout | mean latency | max latency |"
echo "|---:|---:|---:|---:|---:|---:|"
status=0
for c in 10 256 512 1000; do
  # h2load -D waits for every connection, and one that connected after the
  # duration ends keeps sending requests for good: bounded, a stall fails.
  out=$(timeout $((secs + 60)) h2load --h1 -c "$c" -D "$secs" -d "$body" -H 'content-type: application/proto' \
    -H 'connect-protocol-version: 1' "$url/connectrpc.eliza.v1.ElizaService/Say" 2>&1) ||
    { [ $? -ne 124 ] || echo "load: h2load -c $c did not finish within $((secs + 60)) s"; }
  rps=$(sed -nE 's/^finished in [^,]*, ([0-9.]+) req\/s.*/\1/p' <<<"$out")
  ok=$(sed -nE 's/^requests: .* ([0-9]+) succeeded.*/\1/p' <<<"$out")
  bad=$(sed -nE 's/^requests: .* ([0-9]+) failed, ([0-9]+) errored, ([0-9]+) timeout.*/\1 \2 \3/p' <<<"$out" | awk '{print $1+$2+$3}')
  lat=$(sed -nE 's/^time for request: +([^ ]+) +([^ ]+) +([^ ]+).*/\3 \2/p' <<<"$out")
  echo "| $c | ${rps:-?} | ${ok:-?} | ${bad:-?} | ${lat% *} | ${lat#* } |"
  if [ -z "$ok" ] || [ "${ok:-0}" -eq 0 ] || [ "${bad:-1}" -ne 0 ]; then status=1; fi
done
exit $status
