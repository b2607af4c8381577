#!/usr/bin/env bash
# Load test of the HTTP/2 server (nghttp2 adapter): the Eliza server over
# h2c, unary Say over Connect and over gRPC, loaded by h2load at 1, 64 and
# 256 connections with 1 and 100 concurrent streams each (25,600 streams
# at most), and one row of 100 connections x 100 streams (10,000
# concurrent streams) whose server RSS is reported. Prints a Markdown
# table.
#   bench/load_h2.sh [build dir] [seconds per row]
# Exits non-zero if any request failed, errored or timed out (a stall shows
# up as timeouts), so CI can run it briefly as a robustness check; the
# figures themselves are never asserted, except that the 10,000-stream row
# must keep the server under MAX_RSS_MIB (default 512).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/gcc}
secs=${2:-5}
max_rss=${MAX_RSS_MIB:-512}
ulimit -n 8192 2>/dev/null || true
server=$build/examples/eliza/eliza_server
[ -x "$server" ] || { echo "load: $server not built"; exit 1; }
command -v h2load >/dev/null || { echo "load: h2load (nghttp2-client) is needed"; exit 1; }
log=$(mktemp)
body=$(mktemp)
env=$(mktemp)
printf '\x0a\x05hello' >"$body"
printf '\x00\x00\x00\x00\x07\x0a\x05hello' >"$env"
"$server" 0 --h2 0 >"$log" 2>&1 &
pid=$!
trap 'kill -INT $pid 2>/dev/null || true; wait $pid 2>/dev/null || true; rm -f "$log" "$body" "$env"' EXIT
for _ in $(seq 50); do grep -q '^listening (HTTP/2) on ' "$log" && break; sleep 0.1; done
url=$(sed -n 's/^listening (HTTP\/2) on //p' "$log")
[ -n "$url" ] || { cat "$log"; echo "load: the server did not start"; exit 1; }
echo "| protocol | connections | streams each | requests/s | succeeded | failed+errored+timeout | non-2xx | mean latency | max latency | server RSS (MiB) |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
status=0
row() { # protocol conns streams
  local args
  if [ "$1" = grpc ]; then
    args=(-d "$env" -H 'content-type: application/grpc' -H 'te: trailers')
  else
    args=(-d "$body" -H 'content-type: application/proto' -H 'connect-protocol-version: 1')
  fi
  local out
  # Bounded: h2load -D keeps a connection that connected late running.
  out=$(timeout $((secs + 60)) h2load -c "$2" -m "$3" -D "$secs" "${args[@]}" "$url/connectrpc.eliza.v1.ElizaService/Say" 2>&1) ||
    { [ $? -ne 124 ] || echo "load: h2load -c $2 -m $3 did not finish within $((secs + 60)) s"; }
  local rps ok bad codes lat rss
  rps=$(sed -nE 's/^finished in [^,]*, ([0-9.]+) req\/s.*/\1/p' <<<"$out")
  ok=$(sed -nE 's/^requests: .* ([0-9]+) succeeded.*/\1/p' <<<"$out")
  bad=$(sed -nE 's/^requests: .* ([0-9]+) failed, ([0-9]+) errored, ([0-9]+) timeout.*/\1 \2 \3/p' <<<"$out" | awk '{print $1+$2+$3}')
  codes=$(sed -nE 's/^status codes: ([0-9]+) 2xx, ([0-9]+) 3xx, ([0-9]+) 4xx, ([0-9]+) 5xx.*/\2 \3 \4/p' <<<"$out" | awk '{print $1+$2+$3}')
  lat=$(sed -nE 's/^time for request: +([^ ]+) +([^ ]+) +([^ ]+).*/\3 \2/p' <<<"$out")
  rss=$(( $(sed -nE 's/^VmRSS:[[:space:]]+([0-9]+) kB/\1/p' "/proc/$pid/status") / 1024 ))
  echo "| $1 | $2 | $3 | ${rps:-?} | ${ok:-?} | ${bad:-?} | ${codes:-?} | ${lat% *} | ${lat#* } | $rss |"
  if [ -z "$ok" ] || [ "${ok:-0}" -eq 0 ] || [ "${bad:-1}" -ne 0 ] || [ "${codes:-1}" -ne 0 ]; then status=1; fi
  if [ "$rss" -gt "$max_rss" ]; then echo "load: server RSS ${rss} MiB over ${max_rss} MiB"; status=1; fi
}
for proto in connect grpc; do
  for c in 1 64 256; do
    for m in 1 100; do row "$proto" "$c" "$m"; done
  done
done
# 10,000 concurrent streams; the server's peak RSS stays bounded.
echo 5 >"/proc/$pid/clear_refs" 2>/dev/null || true
row grpc 100 100
hwm=$(( $(sed -nE 's/^VmHWM:[[:space:]]+([0-9]+) kB/\1/p' "/proc/$pid/status") / 1024 ))
echo
echo "peak server RSS over the whole run: ${hwm} MiB"
[ "$hwm" -le "$max_rss" ] || { echo "load: peak RSS ${hwm} MiB over ${max_rss} MiB"; status=1; }
exit $status
