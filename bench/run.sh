#!/usr/bin/env bash
# Benchmarks side by side with connect-go, in one run:
#   bench/run.sh [build dir] [markdown output]
#     build dir        a normal CMake build (default build/gcc): bench_core,
#                      bench_client and examples/eliza/eliza_server in it,
#                      and examples/mongoose/eliza_mongoose when the build
#                      has the Mongoose adapters (then the Mongoose server
#                      is measured too, under the same load)
#     markdown output  default bench/RESULTS.md
# Environment: SECS (seconds per server row, default 10), CALLS (client
# calls per worker, default 10000), CORE_SECS (seconds per core row,
# default 0.5), CONNS ("1 64 256"), WORKERS (client workers, "1 8"),
# PAYLOADS ("proto json stream"), H2_STREAMS (client rows: concurrent calls
# on one h2c connection, "1 8 64"), H2_CALLS (calls per stream, default
# 2000), H2_PAYLOADS (HTTP/2 server rows, "connect grpc"),
# H2_SERVER_STREAMS (HTTP/2 server rows: streams per connection, "1 100"),
# SWEEP_CONNS (connections of the connection sweep, "1 4 16 64 256 1000"),
# SWEEP_SIZES (sentence bytes of the size sweep, "16 256 4096 65536 1048576
# 4194299": the last makes a message of exactly 4 MiB, connectc's default
# receive limit), SIZE_CONNS (connections of the size sweep, default 16),
# SWEEP_SECS (seconds per sweep point, default 3), ONLY (empty: everything;
# "sweeps": only the machine header and the sweeps, a quick run of a few
# minutes).
#
# Prints the machine, versions and three tables (core, server, client) as
# one Markdown document and writes it to the output file: HTTP/1.1 rows
# (h2load --h1) and HTTP/2 rows (h2load over h2c by prior knowledge: ours
# on the nghttp2 adapter, connect-go on its h2c listener). The servers run
# one after the other under the same load (one h2load thread), with
# bench/baseline_h1 (a minimal epoll server answering a fixed response: the
# machine's limit) beside them on the HTTP/1.1 proto rows and
# bench/baseline_h2 (the same on libnghttp2) on the HTTP/2 rows; nothing is pinned
# except in one section, where the server has CPU 0 and h2load CPU 1; then
# bench_calls counts allocations per call. Last come two sweeps of the
# HTTP/1.1 servers (ours, connect-go, baseline_h1, and eliza_mongoose
# --connect-only when the build has Mongoose), unary proto Say:
# requests/s and p99 against connections, and throughput against the size
# of the request; their data files (sweep-conns.dat, sweep-size.dat) and
# gnuplot's PNGs (plot-conns-rps.png, plot-conns-p99.png,
# plot-size-throughput.png, drawn by bench/plots.gp) go beside the output
# file, which shows them. Figures compare only within one run. Never run
# by CI.
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/gcc}
outfile=${2:-bench/RESULTS.md}
# The command line, with the settings taken from the environment, for the
# document's header.
made_by=""
for v in SECS CALLS CORE_SECS CONNS WORKERS PAYLOADS H2_STREAMS H2_CALLS H2_PAYLOADS \
         H2_SERVER_STREAMS SWEEP_CONNS SWEEP_SIZES SIZE_CONNS SWEEP_SECS ONLY; do
  [ -n "${!v+x}" ] && made_by+="$v=$(printf '%q' "${!v}") "
done
made_by+="bench/run.sh $*"
SECS=${SECS:-10}
CALLS=${CALLS:-10000}
CORE_SECS=${CORE_SECS:-0.5}
CONNS=${CONNS:-"1 64 256"}
WORKERS=${WORKERS:-"1 8"}
H2_STREAMS=${H2_STREAMS:-"1 8 64"}
H2_CALLS=${H2_CALLS:-2000}
SWEEP_CONNS=${SWEEP_CONNS:-"1 4 16 64 256 1000"}
SWEEP_SIZES=${SWEEP_SIZES:-"16 256 4096 65536 1048576 4194299"}
SIZE_CONNS=${SIZE_CONNS:-16}
SWEEP_SECS=${SWEEP_SECS:-3}
ONLY=${ONLY:-}
case $ONLY in
  "" | sweeps) ;;
  *) echo "run.sh: ONLY=$ONLY: expected nothing (everything) or \"sweeps\"" >&2; exit 2 ;;
esac
plotdir=$(dirname "$outfile") # the sweeps' data files and plots go beside the document
mkdir -p "$plotdir"
ulimit -n 8192 2>/dev/null || true

ours=$build/examples/eliza/eliza_server
mongoose=$build/examples/mongoose/eliza_mongoose
sides="ours"
# mg: examples/mongoose as it is (its page and Eliza on its own
# mg_http_listen, connectc_mg_serve); mgl: the same program with
# --connect-only (Eliza alone on connectc_mg_listen).
[ -x "$mongoose" ] && sides="ours mg mgl"
baseline=$build/bench/baseline_h1
baseline_h2=$build/bench/baseline_h2
for f in "$ours" "$build/bench/bench_core" "$build/bench/bench_client" "$baseline" "$baseline_h2" "$build/bench/bench_calls"; do
  [ -x "$f" ] || { echo "run.sh: $f is not built (cmake --build $build)" >&2; exit 1; }
done
command -v h2load >/dev/null || { echo "run.sh: h2load (nghttp2-client) is needed" >&2; exit 1; }
command -v gnuplot >/dev/null || {
  echo "run.sh: gnuplot is needed for the sweep plots (Debian/Ubuntu: apt-get install -y gnuplot-nox)" >&2
  exit 1
}
gobuild=$build/bench-go
echo "building the connect-go side into $gobuild ..." >&2
bench/go/build.sh "$gobuild" >&2
theirs=$gobuild/eliza-go-server

tmp=$(mktemp -d)
server_pid=
cleanup() {
  if [ -n "$server_pid" ]; then kill -INT "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  rm -rf "$tmp"
}
trap cleanup EXIT
doc=$tmp/doc.md
say() { printf '%s\n' "$*" | tee -a "$doc"; }

# ---- machine and versions ----
hz=$(getconf CLK_TCK)
say "# connectc benchmarks beside connect-go"
say ""
say "Run $(date -u '+%Y-%m-%d %H:%M UTC') by \`${made_by% }\`. Figures compare only within this run."
say ""
say "- machine: $(nproc) CPUs, $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1), $(uname -sr)"
say "- load at start: $(cut -d' ' -f1-3 /proc/loadavg) (1/5/15 min); other busy processes: $(ps -eo pcpu=,comm= --sort=-pcpu | awk '$1 > 20 {printf "%s(%s%%) ", $2, $1}')"
say "- gcc: $(gcc --version | head -1); go: $(go version | cut -d' ' -f3-)"
say "- libcurl $(pkg-config --modversion libcurl), libmicrohttpd $(pkg-config --modversion libmicrohttpd), connect-go $(sed -nE 's/^[[:space:]]*connectrpc.com\/connect (v[^ ]+).*/\1/p' bench/go/go.mod), protobuf-go $(sed -nE 's/^[[:space:]]*google.golang.org\/protobuf (v[^ ]+).*/\1/p' bench/go/go.mod), protobuf-c $(pkg-config --modversion libprotobuf-c), $(h2load --version | head -1)"
say "- connectc build: $build ($(sed -n 's/^CMAKE_BUILD_TYPE:[^=]*=//p' "$build/CMakeCache.txt"))"
say ""

# ---- requests, servers and the load ----
printf '\x0a\x05hello' >"$tmp/small.bin"
sentence=$(printf 'I feel tired because of the deadline, what should I do? %.0s' $(seq 18))
printf '{"sentence":"%s"}' "${sentence% }" | gzip -c >"$tmp/json1k.gz"
json_len=$(printf '{"sentence":"%s"}' "${sentence% }" | wc -c)
printf '\x00\x00\x00\x00\x07\x0a\x05hello' >"$tmp/stream.bin"
cp "$tmp/stream.bin" "$tmp/grpc.bin" # one enveloped SayRequest

# PIN_SERVER / PIN_LOAD: a command prefix (taskset -c N) for the server
# and for h2load; empty: nothing pinned.
PIN_SERVER=()
PIN_LOAD=()
# SERVER_FLAGS: arguments before the port (set per side).
SERVER_FLAGS=()
start_server() { # binary [h2] -> sets server_pid, url (h2: the HTTP/2 one)
  local args=("${SERVER_FLAGS[@]}" 0)
  [ "${2:-}" = h2 ] && [ "$1" = "$ours" ] && args=(0 --h2 0)
  ELIZA_INTRODUCE_COUNT=100 "${PIN_SERVER[@]}" "$1" "${args[@]}" >"$tmp/server.log" 2>&1 &
  server_pid=$!
  url=
  for _ in $(seq 100); do
    if [ "${2:-}" = h2 ] && [ "$1" = "$ours" ]; then
      url=$(sed -n 's/^listening (HTTP\/2) on //p' "$tmp/server.log")
    else
      url=$(sed -n 's/^listening on //p' "$tmp/server.log")
    fi
    [ -n "$url" ] && break
    sleep 0.05
  done
  [ -n "$url" ] || { echo "run.sh: $1 did not start" >&2; cat "$tmp/server.log" >&2; exit 1; }
}
stop_server() {
  kill -INT "$server_pid"
  wait "$server_pid" 2>/dev/null || true
  server_pid=
}
cpu_ticks() { awk '{print $14 + $15}' "/proc/$server_pid/stat"; }

# payload_args <payload>: sets the caller's `args` to h2load's body,
# headers and URL for that payload. size<N>: unary Say with the SayRequest
# of $tmp/size<N>.bin (the size sweep).
payload_args() {
  case $1 in
    proto) args=(-d "$tmp/small.bin" -H 'content-type: application/proto' -H 'connect-protocol-version: 1'
                 "$url/connectrpc.eliza.v1.ElizaService/Say") ;;
    json) args=(-d "$tmp/json1k.gz" -H 'content-type: application/json' -H 'connect-protocol-version: 1'
                -H 'content-encoding: gzip' -H 'accept-encoding: gzip' "$url/connectrpc.eliza.v1.ElizaService/Say") ;;
    stream) args=(-d "$tmp/stream.bin" -H 'content-type: application/connect+proto' -H 'connect-protocol-version: 1'
                  "$url/connectrpc.eliza.v1.ElizaService/Introduce") ;;
    connect) args=(-d "$tmp/small.bin" -H 'content-type: application/proto' -H 'connect-protocol-version: 1'
                   "$url/connectrpc.eliza.v1.ElizaService/Say") ;;
    grpc) args=(-d "$tmp/grpc.bin" -H 'content-type: application/grpc' -H 'te: trailers'
                "$url/connectrpc.eliza.v1.ElizaService/Say") ;;
    size*) args=(-d "$tmp/$1.bin" -H 'content-type: application/proto' -H 'connect-protocol-version: 1'
                 "$url/connectrpc.eliza.v1.ElizaService/Say") ;;
  esac
}

# load <payload> <conns> <secs> [streams] -> "rps p50_us p99_us ok bad"
# With `streams`, HTTP/2 (h2c) with that many concurrent streams per
# connection; without, HTTP/1.1. h2load's report stays in $tmp/h2load.out.
load() {
  local args=() mode=(--h1)
  [ -n "${4:-}" ] && mode=(-m "$4")
  payload_args "$1"
  rm -f "$tmp/h2load.log"
  local out
  # Bounded: h2load -D keeps a connection that connected late running.
  out=$("${PIN_LOAD[@]}" timeout $(($3 + 60)) h2load "${mode[@]}" -c "$2" -D "$3" --log-file="$tmp/h2load.log" "${args[@]}" 2>&1) ||
    { [ $? -ne 124 ] || echo "run.sh: h2load -c $2 -D $3 did not finish within $(($3 + 60)) s" >&2; }
  printf '%s\n' "$out" >"$tmp/h2load.out"
  local rps ok bad
  rps=$(sed -nE 's/^finished in [^,]*, ([0-9.]+) req\/s.*/\1/p' <<<"$out")
  ok=$(sed -nE 's/^requests: .* ([0-9]+) succeeded.*/\1/p' <<<"$out")
  # h2load's "failed" already counts the errored requests (timeouts among
  # them) and the answers without a 2xx status.
  bad=$(sed -nE 's/^requests: .* ([0-9]+) failed, .*/\1/p' <<<"$out")
  # p50/p99 of the per-request times h2load logged (3rd column, us).
  local pct
  pct=$(awk -F'\t' '$2 >= 200 && $2 < 300 {print $3}' "$tmp/h2load.log" | sort -n |
        awk '{v[NR]=$1} END {if (NR == 0) {print "? ?"; exit} i50=int(0.50*(NR-1))+1; i99=int(0.99*(NR-1))+1; print v[i50], v[i99]}')
  echo "${rps:-0} $pct ${ok:-0} ${bad:-0}"
}

# ratio <a> <b>: a / b to two places; "-" when either is "-" or "?" or b is 0.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (a == "-" || b == "-" || a == "?" || b == "?" || b + 0 == 0) print "-"; else printf "%.2f", a / b}'; }
int_of() { [ "$1" = "?" ] && echo "?" || echo "${1%.*}"; } # 123.45 -> 123

# ---- sweeps: connections and request size, every HTTP/1.1 server, with plots ----
# size_request <n>: a SayRequest whose sentence (field 1, string) is n
# ASCII bytes: the tag 0x0a, n as a varint, the bytes.
size_request() {
  local v=$1 esc=
  while [ "$v" -ge 128 ]; do esc+=$(printf '\\0%03o' $(((v & 127) | 128))); v=$((v >> 7)); done
  esc+=$(printf '\\0%03o' "$v")
  printf '\x0a%b' "$esc"
  head -c "$1" /dev/zero | tr '\0' a
}
size_label() { # 4096 -> 4KiB, 1048576 -> 1MiB, 100 -> 100B
  if [ $(($1 % 1048576)) = 0 ]; then echo "$(($1 / 1048576))MiB"
  elif [ $(($1 % 1024)) = 0 ]; then echo "$(($1 / 1024))KiB"
  else echo "${1}B"; fi
}
# failures <payload> <conns> -> "failed sent": a check run of 2 requests per
# connection (h2load -n), where every request without a 2xx counts: a
# timed run (-D) silently drops a connection whose request failed (it is
# not reconnected and its request is not counted), so a server refusing
# every request shows 0 failed there. Bounded by timeout(1): a stuck
# check counts as all failed.
failures() {
  local args=() n=$((2 * $2)) out ok
  payload_args "$1"
  out=$(timeout 120 h2load --h1 -c "$2" -n "$n" "${args[@]}" 2>&1) || true
  ok=$(sed -nE 's/^status codes: ([0-9]+) 2xx.*/\1/p' <<<"$out")
  echo "$((n - ${ok:-0})) $n"
}
# sweep_point <payload> <conns> -> "rps p50_us p99_us failed check_failed check_sent"
# (failed: h2load's count in the timed run, which includes non-2xx answers)
sweep_point() {
  local rps p50 p99 ok bad failed
  read -r rps p50 p99 ok bad < <(load "$1" "$2" "$SWEEP_SECS")
  failed=$(sed -nE 's/^requests: .* ([0-9]+) failed, .*/\1/p' "$tmp/h2load.out")
  echo "$rps $p50 $p99 ${failed:-?} $(failures "$1" "$2")"
}
# sweeps: both sweeps on each server in turn, then the data files, the
# plots and the document's section. The plots name the points where a check
# run failed requests ("ours 32/32 at 4MiB").
# mgl (eliza_mongoose --connect-only) is swept when the build has it; its
# columns in the data files are "?" otherwise.
sweeps() {
  local side bin c n body sweep_sides="ours theirs base" nservers=3
  local -A S
  if [ -x "$mongoose" ]; then sweep_sides+=" mgl"; nservers=4; fi
  for n in $SWEEP_SIZES; do size_request "$n" >"$tmp/size$n.bin"; done
  for side in $sweep_sides; do
    bin=$ours
    [ "$side" = theirs ] && bin=$theirs
    [ "$side" = base ] && bin=$baseline
    [ "$side" = mgl ] && bin=$mongoose
    SERVER_FLAGS=()
    [ "$side" = mgl ] && SERVER_FLAGS=(--connect-only)
    start_server "$bin"
    echo "sweeps: server $side ($bin) at $url" >&2
    load proto 16 1 >/dev/null # warm-up, not reported
    for c in $SWEEP_CONNS; do
      S[$side,c,$c]=$(sweep_point proto "$c")
      echo "  sweep proto c=$c: rps p50 p99 failed check: ${S[$side,c,$c]}" >&2
    done
    for n in $SWEEP_SIZES; do
      S[$side,s,$n]=$(sweep_point "size$n" "$SIZE_CONNS")
      echo "  sweep size=$n c=$SIZE_CONNS: rps p50 p99 failed check: ${S[$side,s,$n]}" >&2
    done
    stop_server
  done
  SERVER_FLAGS=()
  local none="? ? ? ? ? ?"
  for c in $SWEEP_CONNS; do S[mgl,c,$c]=${S[mgl,c,$c]:-$none}; done
  for n in $SWEEP_SIZES; do S[mgl,s,$n]=${S[mgl,s,$n]:-$none}; done

  # The data files: one line per point, the servers side by side.
  local cdat=$plotdir/sweep-conns.dat sdat=$plotdir/sweep-size.dat
  local rps p50 p99 failed cf cs mbps line cnote="" snote=""
  {
    echo "# bench/run.sh connection sweep, $(date -u '+%Y-%m-%d %H:%M UTC'): h2load --h1 -c CONNS -D $SWEEP_SECS, unary proto Say (7-byte request)"
    echo "# columns: conns, then for ours (2-7), connect-go (8-13), baseline_h1 (14-19), eliza_mongoose --connect-only (20-25):"
    echo "#   req/s (2xx), p50 us, p99 us, failed (timed run), failed (check run), requests (check run); ? = no 2xx"
    for c in $SWEEP_CONNS; do
      line=$c
      for side in ours theirs base mgl; do
        read -r rps p50 p99 failed cf cs <<<"${S[$side,c,$c]}"
        line+=" $rps $p50 $p99 $failed $cf $cs"
        if [ "$cf" != 0 ] && [ "$cf" != "?" ]; then cnote+="${cnote:+, }$side $cf/$cs at $c conns"; fi
      done
      echo "$line"
    done
  } >"$cdat"
  {
    echo "# bench/run.sh size sweep, $(date -u '+%Y-%m-%d %H:%M UTC'): h2load --h1 -c $SIZE_CONNS -D $SWEEP_SECS, unary proto Say, a SayRequest of N sentence bytes"
    echo "# columns: sentence bytes, label, request body bytes, then for ours (4-10), connect-go (11-17), baseline_h1 (18-24), eliza_mongoose --connect-only (25-31):"
    echo "#   req/s (2xx), MB/s of request bodies (10^6 B/s), p50 us, p99 us, failed (timed run), failed (check run), requests (check run); ? = no 2xx"
    for n in $SWEEP_SIZES; do
      body=$(wc -c <"$tmp/size$n.bin")
      line="$n $(size_label "$n") $body"
      for side in ours theirs base mgl; do
        read -r rps p50 p99 failed cf cs <<<"${S[$side,s,$n]}"
        mbps=$(awk -v r="$rps" -v b="$body" 'BEGIN {if (r == "?") print "?"; else printf "%.2f", r * b / 1e6}')
        line+=" $rps $mbps $p50 $p99 $failed $cf $cs"
        if [ "$cf" != 0 ] && [ "$cf" != "?" ]; then snote+="${snote:+, }$side $cf/$cs at $(size_label "$n")"; fi
      done
      echo "$line"
    done
  } >"$sdat"
  # names in the notes as in the plots' legends
  cnote=$(sed 's/theirs/connect-go/g; s/base/baseline/g; s/mgl/mongoose/g' <<<"$cnote")
  snote=$(sed 's/theirs/connect-go/g; s/base/baseline/g; s/mgl/mongoose/g' <<<"$snote")
  if gnuplot -e "conns_dat='$cdat'; size_dat='$sdat'; outdir='$plotdir'; nservers=$nservers; size_conns='$SIZE_CONNS'; secs='$SWEEP_SECS'; conns_note='${cnote:-none}'; size_note='${snote:-none}'" bench/plots.gp; then
    echo "plots: $plotdir/plot-conns-rps.png $plotdir/plot-conns-p99.png $plotdir/plot-size-throughput.png" >&2
  else
    echo "run.sh: gnuplot failed (bench/plots.gp); the figures are still in the tables and in $cdat, $sdat" >&2
  fi

  say "## Sweeps: connections and request size, HTTP/1.1 (h2load --h1), ${SWEEP_SECS} s per point"
  say ""
  say "The servers one after the other under the same load, nothing pinned: ours = eliza_server (connectc + libmicrohttpd, its defaults: one thread per CPU, 2 here, at most 1024 connections), mgl = eliza_mongoose --connect-only (connectc on Mongoose's event loop, one thread, its own listener: connectc_mg_listen; \"?\" when the build has no Mongoose), go = connect-go, base = baseline_h1 (a fixed response: the machine's limit). Ratios are of requests/s (higher is better). Unary Say, proto; one h2load thread. req/s counts 2xx answers; latency is h2load's per-request time (--log-file), p50/p99 over every 2xx request. **failed** = \`timed; check/sent\`: the requests h2load counted as failed in the timed run (-D), then the requests without a 2xx in a check run right after it of 2 requests per connection (h2load -n), which counts what a timed run cannot (h2load -D drops a connection whose request failed without counting it, and does not reconnect it). Data: $(basename "$cdat"), $(basename "$sdat") (columns in their headers); plots by bench/plots.gp."
  say ""
  say "![requests/s against connections](plot-conns-rps.png) ![p99 latency against connections](plot-conns-p99.png)"
  say ""
  say "### Connections (${SWEEP_SECS} s per point, 7-byte proto request)"
  say ""
  say "| conns | rps ours | rps mgl | rps go | rps base | ours/go | ours/base | mgl/go | mgl/base | base/go | p50 ours (us) | p50 mgl (us) | p50 go (us) | p50 base (us) | p99 ours (us) | p99 mgl (us) | p99 go (us) | p99 base (us) | failed ours | failed mgl | failed go | failed base |"
  say "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|"
  local ar a50 a99 af acf acs br b50 b99 bf bcf bcs cr c50 c99 cf2 ccf ccs dr d50 d99 df dcf dcs
  for c in $SWEEP_CONNS; do
    read -r ar a50 a99 af acf acs <<<"${S[ours,c,$c]}"
    read -r br b50 b99 bf bcf bcs <<<"${S[theirs,c,$c]}"
    read -r cr c50 c99 cf2 ccf ccs <<<"${S[base,c,$c]}"
    read -r dr d50 d99 df dcf dcs <<<"${S[mgl,c,$c]}"
    say "| $c | $(int_of "$ar") | $(int_of "$dr") | $(int_of "$br") | $(int_of "$cr") | $(ratio "$ar" "$br") | $(ratio "$ar" "$cr") | $(ratio "$dr" "$br") | $(ratio "$dr" "$cr") | $(ratio "$cr" "$br") | $a50 | $d50 | $b50 | $c50 | $a99 | $d99 | $b99 | $c99 | $af; $acf/$acs | $df; $dcf/$dcs | $bf; $bcf/$bcs | $cf2; $ccf/$ccs |"
  done
  say ""
  say "### Request size (${SIZE_CONNS} connections, ${SWEEP_SECS} s per point)"
  say ""
  say "A SayRequest whose sentence is N ASCII bytes (the body: N plus the tag and the length varint). MB/s = 2xx requests/s x body bytes / 10^6. connectc refuses a message over recv_max_bytes (default CONNECTC_DEFAULT_RECV_MAX_BYTES, 4 MiB = 4194304 bytes; neither eliza_server nor eliza_mongoose has an option to raise it) with resource_exhausted (HTTP 429) from the Content-Length, before reading the body, and closes the connection: the largest default size, a 4194299-byte sentence, makes a message of exactly 4 MiB (4194304 bytes), the most ours accepts; one byte more fails on ours (the failed column would show it). connect-go has no read limit by default (ReadMaxBytes unset); the baseline reads and drops a body of any length."
  say ""
  say "![throughput against request size](plot-size-throughput.png)"
  say ""
  say "| sentence (B) | body (B) | MB/s ours | MB/s mgl | MB/s go | MB/s base | ours/go | ours/base | mgl/go | mgl/base | rps ours | rps mgl | rps go | rps base | p99 ours (us) | p99 mgl (us) | p99 go (us) | p99 base (us) | failed ours | failed mgl | failed go | failed base |"
  say "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|---|"
  local am bm cm dm
  for n in $SWEEP_SIZES; do
    read -r _ _ body ar am a50 a99 af acf acs br bm b50 b99 bf bcf bcs cr cm c50 c99 cf2 ccf ccs dr dm d50 d99 df dcf dcs \
      <<<"$(grep -v '^#' "$sdat" | awk -v n="$n" '$1 == n')"
    say "| $n | $body | $am | $dm | $bm | $cm | $(ratio "$am" "$bm") | $(ratio "$am" "$cm") | $(ratio "$dm" "$bm") | $(ratio "$dm" "$cm") | $(int_of "$ar") | $(int_of "$dr") | $(int_of "$br") | $(int_of "$cr") | $a99 | $d99 | $b99 | $c99 | $af; $acf/$acs | $df; $dcf/$dcs | $bf; $bcf/$bcs | $cf2; $ccf/$ccs |"
  done
  say ""
}

# finish: the last line of the document, then the output file.
finish() {
  say "Load at the end: $(cut -d' ' -f1-3 /proc/loadavg)."
  cp "$doc" "$outfile"
  echo "written to $outfile" >&2
}

if [ "$ONLY" = sweeps ]; then
  sweeps
  finish
  exit 0
fi

# ---- core ----
say "## Core: per-message work beside memcpy (bench_core, ${CORE_SECS} s per row)"
say ""
"$build/bench/bench_core" "$CORE_SECS" >>"$tmp/core.md"
tee -a "$doc" <"$tmp/core.md"
say ""

# ---- servers ----
declare -A R
payloads=${PAYLOADS:-"proto json stream"}
# base: baseline_h1, the machine's limit, for the proto rows only.
for side in $sides theirs base; do
  bin=$ours
  [ $side = mg ] && bin=$mongoose
  [ $side = mgl ] && bin=$mongoose
  [ $side = theirs ] && bin=$theirs
  [ $side = base ] && bin=$baseline
  SERVER_FLAGS=()
  [ $side = mgl ] && SERVER_FLAGS=(--connect-only)
  side_payloads=$payloads
  [ $side = base ] && side_payloads=proto
  start_server "$bin"
  echo "server $side ($bin) at $url" >&2
  for p in $side_payloads; do load "$p" 16 1 >/dev/null; done # warm-up, not reported
  for p in $side_payloads; do
    for c in $CONNS; do
      echo 5 >"/proc/$server_pid/clear_refs" 2>/dev/null || true # resets VmHWM
      t0=$(cpu_ticks)
      read -r rps p50 p99 ok bad < <(load "$p" "$c" "$SECS")
      t1=$(cpu_ticks)
      hwm=$(sed -nE 's/^VmHWM:[[:space:]]+([0-9]+) kB/\1/p' "/proc/$server_pid/status")
      cpu=$(awk -v d=$((t1 - t0)) -v hz="$hz" -v n="$ok" 'BEGIN {printf "%.3f", n ? d / hz / n * 10000 : 0}')
      R[$side,$p,$c]="$rps $p50 $p99 $cpu $((hwm / 1024)) $ok $bad"
      echo "  $p c=$c: rps=$rps p50=${p50}us p99=${p99}us cpu/10k=${cpu}s hwm=$((hwm / 1024))MiB ok=$ok bad=$bad" >&2
    done
  done
  stop_server
done
SERVER_FLAGS=()

server_table() { # server_table <side>: the rows of that side beside connect-go and the baseline
  local side=$1
  say "| payload | conns | rps ours | rps go | rps base | rps ours/go | rps ours/base | p50 ours (us) | p50 go (us) | p99 ours (us) | p99 go (us) | p99 base (us) | p99 ours/go | CPU s/10k ours | CPU s/10k go | CPU s/10k base | CPU ours/go | CPU ours/base | RSS MiB ours | RSS MiB go | RSS ratio | failed ours/go |"
  say "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for p in $payloads; do
    for c in $CONNS; do
      read -r ar a50 a99 acpu arss aok abad <<<"${R[$side,$p,$c]}"
      read -r br b50 b99 bcpu brss bok bbad <<<"${R[theirs,$p,$c]}"
      local cr="-" c99="-" ccpu="-"
      [ -n "${R[base,$p,$c]:-}" ] && read -r cr c50 c99 ccpu crss cok cbad <<<"${R[base,$p,$c]}"
      say "| $p | $c | ${ar%.*} | ${br%.*} | ${cr%.*} | $(ratio "$ar" "$br") | $(ratio "$ar" "$cr") | $a50 | $b50 | $a99 | $b99 | $c99 | $(ratio "$a99" "$b99") | $acpu | $bcpu | $ccpu | $(ratio "$acpu" "$bcpu") | $(ratio "$acpu" "$ccpu") | $arss | $brss | $(ratio "$arss" "$brss") | $abad/$bbad |"
    done
  done
}

say "## Server: eliza_server (connectc + libmicrohttpd) and connect-go, h2load --h1, ${SECS} s per row"
say ""
say "Payloads: **proto** = unary Say, 7-byte proto request; **json** = unary Say, ${json_len}-byte JSON request sent gzip-compressed ($(wc -c <"$tmp/json1k.gz") bytes, Content-Encoding: gzip, Accept-Encoding: gzip); **stream** = Introduce, a server stream of 100 messages (ELIZA_INTRODUCE_COUNT=100 in every server); one request = one whole RPC. Latency is h2load's per-request time (--log-file), from the start of the request to the end of its response, p50/p99 over every successful request. CPU = server user+system time (/proc/PID/stat) per 10k requests; RSS = VmHWM during the row (reset before each row). Ratios are ours/connect-go and ours/base (rps: higher is better; the rest: lower is better); base = baseline_h1, proto rows only."
say ""
server_table ours
say ""
if [ "$sides" = "ours mg mgl" ]; then
  say "## Server: eliza_mongoose (connectc + Mongoose, one event-loop thread) and the same connect-go rows"
  say ""
  say "The Mongoose program of examples/mongoose (its web page and the Eliza service on one mg_mgr: the program's mg_http_listen, whose handler hands Eliza's requests over with connectc_mg_serve), under the same load in the same run; \"ours\" is the Mongoose server."
  say ""
  server_table mg
  say ""
  say "## Server: eliza_mongoose --connect-only (Eliza alone on connectc_mg_listen) and the same connect-go rows"
  say ""
  say "The same program serving only Eliza, on a listener of connectc's own on the same mg_mgr: connectc reads each request head itself, without Mongoose's HTTP parse before it (the difference between the two tables is what handing requests over from an mg_http_listen handler costs)."
  say ""
  server_table mgl
  say ""
fi

# ---- pinned: the server on CPU 0, h2load on CPU 1 ----
if command -v taskset >/dev/null && [ "$(nproc)" -ge 2 ]; then
  PIN_SERVER=(taskset -c 0)
  PIN_LOAD=(taskset -c 1)
  for side in $sides theirs base; do
    bin=$ours
    [ $side = mg ] && bin=$mongoose
    [ $side = mgl ] && bin=$mongoose
    [ $side = theirs ] && bin=$theirs
    [ $side = base ] && bin=$baseline
    SERVER_FLAGS=()
    [ $side = mgl ] && SERVER_FLAGS=(--connect-only)
    start_server "$bin"
    load proto 16 1 >/dev/null
    for c in 1 64; do
      t0=$(cpu_ticks)
      read -r rps p50 p99 ok bad < <(load proto "$c" "$SECS")
      t1=$(cpu_ticks)
      cpu=$(awk -v d=$((t1 - t0)) -v hz="$hz" -v n="$ok" 'BEGIN {printf "%.3f", n ? d / hz / n * 10000 : 0}')
      R[$side,pin,$c]="$rps $p50 $p99 $cpu"
      echo "  pinned $side c=$c: rps=$rps p50=${p50}us p99=${p99}us cpu/10k=${cpu}s ok=$ok bad=$bad" >&2
    done
    stop_server
  done
  PIN_SERVER=()
  PIN_LOAD=()
  SERVER_FLAGS=()
  say "## Server pinned to one core, h2load to the other (taskset), proto, ${SECS} s per row"
  say ""
  say "The load generator cannot take the server's CPU here: CPU per request is the figure that does not depend on where h2load runs. Each server runs with its defaults, which follow the CPUs it may run on: eliza_server (libmicrohttpd) and baseline_h1 one worker thread per CPU of their affinity mask, connect-go GOMAXPROCS, so each has one here; eliza_mongoose has one event-loop thread anyway. Ratios are to connect-go (go) and to baseline_h1 (base) at the same connections."
  say ""
  say "| server | conns | rps | rps/go | rps/base | p50 (us) | p99 (us) | p99/go | CPU s/10k | CPU/go | CPU/base |"
  say "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
  for side in $sides theirs base; do
    case $side in
      ours) name="eliza_server (libmicrohttpd)" ;;
      mg) name="eliza_mongoose" ;;
      mgl) name="eliza_mongoose --connect-only" ;;
      theirs) name="connect-go" ;;
      base) name="baseline_h1" ;;
    esac
    for c in 1 64; do
      read -r ar a50 a99 acpu <<<"${R[$side,pin,$c]}"
      read -r br b50 b99 bcpu <<<"${R[theirs,pin,$c]}"
      read -r cr c50 c99 ccpu <<<"${R[base,pin,$c]}"
      say "| $name | $c | ${ar%.*} | $(ratio "$ar" "$br") | $(ratio "$ar" "$cr") | $a50 | $a99 | $(ratio "$a99" "$b99") | $acpu | $(ratio "$acpu" "$bcpu") | $(ratio "$acpu" "$ccpu") |"
    done
  done
  say ""
fi

# ---- allocations per call ----
say "## Heap allocations and time per typed unary call, no network (bench_calls)"
say ""
say "Counted by a counting connectc_allocator passed to every layer; exact, independent of the machine. The times are in-process and noisy."
say ""
"$build/bench/bench_calls" 100000 | tee -a "$doc"
say ""

# ---- servers over HTTP/2 ----
h2_payloads=${H2_PAYLOADS:-"connect grpc"}
h2_streams=${H2_SERVER_STREAMS:-"1 100"}
for side in ours theirs base; do
  bin=$ours
  [ $side = theirs ] && bin=$theirs
  [ $side = base ] && bin=$baseline_h2
  start_server "$bin" h2
  echo "server $side ($bin) over HTTP/2 at $url" >&2
  for p in $h2_payloads; do load "$p" 16 1 10 >/dev/null; done # warm-up
  for p in $h2_payloads; do
    for c in $CONNS; do
      for m in $h2_streams; do
        echo 5 >"/proc/$server_pid/clear_refs" 2>/dev/null || true
        t0=$(cpu_ticks)
        read -r rps p50 p99 ok bad < <(load "$p" "$c" "$SECS" "$m")
        t1=$(cpu_ticks)
        hwm=$(sed -nE 's/^VmHWM:[[:space:]]+([0-9]+) kB/\1/p' "/proc/$server_pid/status")
        cpu=$(awk -v d=$((t1 - t0)) -v hz="$hz" -v n="$ok" 'BEGIN {printf "%.3f", n ? d / hz / n * 10000 : 0}')
        R[$side,h2$p,$c,$m]="$rps $p50 $p99 $cpu $((hwm / 1024)) $ok $bad"
        echo "  h2 $p c=$c m=$m: rps=$rps p50=${p50}us p99=${p99}us cpu/10k=${cpu}s hwm=$((hwm / 1024))MiB ok=$ok bad=$bad" >&2
      done
    done
  done
  stop_server
done

say "## Server over HTTP/2: eliza_server (connectc + nghttp2, h2c), connect-go (h2c) and baseline_h2, h2load, ${SECS} s per row"
say ""
say "Payloads: **connect** = unary Say over Connect, 7-byte proto request; **grpc** = unary Say over gRPC (one 12-byte envelope, te: trailers). streams = concurrent streams per connection (h2load -m). base = bench/baseline_h2 (a minimal epoll server on libnghttp2 answering each payload with a fixed valid response: the machine's limit for HTTP/2). Ratios are ours/connect-go and ours/base (rps: higher is better; the rest: lower is better); columns otherwise as above."
say ""
say "| payload | conns | streams | rps ours | rps go | rps base | rps ours/go | rps ours/base | p50 ours (us) | p50 go (us) | p99 ours (us) | p99 go (us) | p99 base (us) | p99 ours/go | CPU s/10k ours | CPU s/10k go | CPU s/10k base | CPU ours/go | CPU ours/base | RSS MiB ours | RSS MiB go | failed ours/go/base |"
say "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for p in $h2_payloads; do
  for c in $CONNS; do
    for m in $h2_streams; do
      read -r ar a50 a99 acpu arss aok abad <<<"${R[ours,h2$p,$c,$m]}"
      read -r br b50 b99 bcpu brss bok bbad <<<"${R[theirs,h2$p,$c,$m]}"
      read -r cr c50 c99 ccpu crss cok cbad <<<"${R[base,h2$p,$c,$m]}"
      say "| $p | $c | $m | ${ar%.*} | ${br%.*} | ${cr%.*} | $(ratio "$ar" "$br") | $(ratio "$ar" "$cr") | $a50 | $b50 | $a99 | $b99 | $c99 | $(ratio "$a99" "$b99") | $acpu | $bcpu | $ccpu | $(ratio "$acpu" "$bcpu") | $(ratio "$acpu" "$ccpu") | $arss | $brss | $abad/$bbad/$cbad |"
    done
  done
done
say ""

# ---- clients ----
start_server "$theirs"
echo "clients against the connect-go server at $url" >&2
say "## Client: connectc (bench_client: typed stub, libcurl) and connect-go, both calling the connect-go server"
say ""
say "Each worker (thread / goroutine) has its own HTTP/1.1 connection and makes ${CALLS} sequential unary Say calls (proto, POST, 7-byte request) after 200 untimed ones; latency is per call, measured by the client. Ratios are ours/connect-go. **threads**: one OS thread and transport per worker (blocking stub); **one thread**: the same N calls in flight from one event-loop thread (one transport, N kept-alive connections, asynchronous stub; bench_client --loop), as connect-go's goroutines share GOMAXPROCS threads. The connect-go figures are the same run in both rows."
say ""
say "With more worker threads than cores, a thread whose response arrived waits for a CPU behind the other workers and the server: perf sched puts the tail of the **threads** rows in that run-queue wait, not in the library, which makes one blocking poll per call (bench/CLIENT-TAIL.md). A single-threaded client suffers more from other busy processes on the machine."
say ""
say "| workers | ours driven by | calls/s ours | calls/s go | ratio | p50 ours (us) | p50 go (us) | p99 ours (us) | p99 go (us) | p99 ratio |"
say "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|"
field() { sed -nE "s/.*$1=([0-9.]+).*/\1/p" <<<"$2"; }
row() { # workers driver ours go
  say "| $1 | $2 | $(field calls_per_s "$3") | $(field calls_per_s "$4") | $(ratio "$(field calls_per_s "$3")" "$(field calls_per_s "$4")") | $(field p50_us "$3") | $(field p50_us "$4") | $(field p99_us "$3") | $(field p99_us "$4") | $(ratio "$(field p99_us "$3")" "$(field p99_us "$4")") |"
}
for w in $WORKERS; do
  a=$("$build/bench/bench_client" "$url" "$w" "$CALLS") || a="failed (exit $?)"
  b=$("$gobuild/eliza-go-client" -url "$url" -c "$w" -n "$CALLS") || b="failed (exit $?)"
  echo "  workers=$w ours: $a" >&2
  echo "  workers=$w go:   $b" >&2
  row "$w" threads "$a" "$b"
  if [ "$w" -gt 1 ]; then
    l=$("$build/bench/bench_client" --loop "$url" "$w" "$CALLS") || l="failed (exit $?)"
    echo "  workers=$w ours, one thread: $l" >&2
    row "$w" "one thread" "$l" "$b"
  fi
done
say ""
say "## Client over HTTP/2: concurrent unary calls on one h2c connection, both calling the connect-go server"
say ""
say "h2c with prior knowledge. connectc: one thread, one transport (\`CONNECTC_CURL_HTTP_2\`: one connection) keeping N calls in flight through the asynchronous stub (\`Say_start\`, \`connectc_curl_poll\`); connect-go: N goroutines sharing one \`http.Transport\` with \`Protocols\` = unencrypted HTTP/2 only (one connection). Each of the N streams makes ${H2_CALLS} sequential Say calls (proto, 7-byte request) after 200 untimed ones; latency is per call. Ratios are ours/connect-go."
say ""
say "| streams | calls/s ours | calls/s go | ratio | p50 ours (us) | p50 go (us) | p99 ours (us) | p99 go (us) | p99 ratio |"
say "|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
for n in $H2_STREAMS; do
  a=$("$build/bench/bench_client" --h2 "$url" "$n" "$H2_CALLS") || a="failed (exit $?)"
  b=$("$gobuild/eliza-go-client" -h2 -url "$url" -c "$n" -n "$H2_CALLS") || b="failed (exit $?)"
  echo "  h2 streams=$n ours: $a" >&2
  echo "  h2 streams=$n go:   $b" >&2
  say "| $n | $(field calls_per_s "$a") | $(field calls_per_s "$b") | $(ratio "$(field calls_per_s "$a")" "$(field calls_per_s "$b")") | $(field p50_us "$a") | $(field p50_us "$b") | $(field p99_us "$a") | $(field p99_us "$b") | $(ratio "$(field p99_us "$a")" "$(field p99_us "$b")") |"
done
stop_server
say ""

sweeps
finish
