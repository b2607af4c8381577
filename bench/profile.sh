#!/usr/bin/env bash
# bench/profile.sh [build-dir] [requests]
#
# Where the HTTP/1.1 servers spend a request, beside baseline_h1: for each
# of eliza_server (libmicrohttpd), eliza_mongoose (as it is and with
# --connect-only) and baseline_h1, the same
# unary proto Say calls (h2load --h1, 8 connections) are made twice:
#   1. under valgrind's callgrind: user-space instructions (Ir) per request,
#      split by ELF object, and the functions with the most;
#   2. under strace -c -f: system calls per request.
# Instruction and call counts do not depend on how busy the machine is, so
# this can run beside other work (bench/run.sh cannot). Kernel time is not
# in the instruction counts: the system calls stand for it.
#
# Caveat: valgrind counts one instruction per iteration of `rep stos`,
# which glibc's memset uses for large blocks, so a large memset weighs far
# more in Ir than in time.
#
# Needs valgrind (callgrind_control), strace, h2load, python3. Writes the report to
# stdout (bench/PROFILE.md holds the latest one).
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build/gcc}
n=${2:-4000}
for t in valgrind callgrind_control strace h2load python3; do
  command -v "$t" >/dev/null || { echo "profile.sh: $t is needed" >&2; exit 1; }
done
# Each entry: a binary and the flags before its port.
servers=("$build/examples/eliza/eliza_server" "$build/examples/mongoose/eliza_mongoose"
         "$build/examples/mongoose/eliza_mongoose --connect-only" "$build/bench/baseline_h1")
for entry in "${servers[@]}"; do
  s=${entry%% *}
  [ -x "$s" ] || { echo "profile.sh: $s is not built" >&2; exit 1; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
printf '\x0a\x05hello' >"$tmp/small.bin"

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
# wait_port <port> <pid>: until something listens there (at most 30 s).
wait_port() {
  for _ in $(seq 300); do
    kill -0 "$2" 2>/dev/null || { echo "profile.sh: the server exited" >&2; return 1; }
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "profile.sh: nothing listens on $1" >&2
  return 1
}
# stop <pid>: SIGTERM (the servers stop gracefully), SIGKILL after 20 s.
stop() {
  kill -TERM "$1" 2>/dev/null || return 0
  for _ in $(seq 200); do
    kill -0 "$1" 2>/dev/null || { wait "$1" 2>/dev/null || true; return 0; }
    sleep 0.1
  done
  kill -KILL "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}
# load <port> <n>: n Say calls; fails unless all succeed.
load() {
  local out
  out=$(timeout 300 h2load --h1 -n "$2" -c 8 -d "$tmp/small.bin" -H 'content-type: application/proto' \
        -H 'connect-protocol-version: 1' "http://127.0.0.1:$1/connectrpc.eliza.v1.ElizaService/Say")
  grep -q "requests: $2 total, $2 started, $2 done, $2 succeeded" <<<"$out" ||
    { echo "profile.sh: not every request succeeded:" >&2; grep '^requests' <<<"$out" >&2; return 1; }
}

echo "# Where a request goes: callgrind and strace, $n unary proto Say calls per server"
echo
echo "Made by \`bench/profile.sh $build $n\` on $(date -u '+%Y-%m-%d %H:%M') UTC. h2load --h1 -c 8;"
echo "Ir = user-space instructions (callgrind), per request; system calls per request (strace -c -f)."
echo "Instructions are counted over the requests alone (callgrind_control -z before, -d after)."
echo "valgrind counts each iteration of \`rep stos\` (glibc's memset of large blocks) as an"
echo "instruction, so memset weighs more here than in time."
for entry in "${servers[@]}"; do
  s=${entry%% *}
  flags=()
  [ "$entry" != "$s" ] && read -r -a flags <<<"${entry#* }"
  title="$(basename "$s")${flags[*]:+ ${flags[*]}}"
  name=$(basename "$s")${flags[*]:+${flags[*]// /}}
  port=$(free_port)
  valgrind --tool=callgrind --callgrind-out-file="$tmp/cg.$name" "$s" "${flags[@]}" "$port" >"$tmp/$name.log" 2>&1 &
  pid=$!
  wait_port "$port" "$pid"
  sleep 1
  # Counted from here to the dump: the requests, not the start and stop.
  callgrind_control -z "$pid" >/dev/null
  load "$port" "$n"
  callgrind_control -d "$pid" >/dev/null
  stop "$pid"
  port=$(free_port)
  "$s" "${flags[@]}" "$port" >"$tmp/$name.log" 2>&1 &
  pid=$!
  wait_port "$port" "$pid"
  strace -c -f -p "$pid" -o "$tmp/sc.$name" 2>/dev/null &
  spid=$!
  sleep 1
  load "$port" "$n"
  kill -INT "$spid"
  wait "$spid" || true
  stop "$pid"
  echo
  echo "## $title"
  echo
  python3 - "$tmp/cg.$name.1" "$n" <<'EOF'
import collections, re, sys
path, n = sys.argv[1], int(sys.argv[2])
# Self cost by ELF object and by function. Cost lines count for the
# current ob=/fn=, except the line after calls=, which is the inclusive
# cost of a call (cob=/cfn= name the callee).
names = {'ob': {}, 'fn': {}}
ob, fn, after_call = '?', ('?', '?'), False
by_ob, by_fn = collections.Counter(), collections.Counter()
for line in open(path):
    line = line.rstrip('\n')
    m = re.match(r'^(c?)(ob|fn)=\((\d+)\)(?: (.*))?$', line)
    if m:
        callee, kind, i, name = m.groups()
        if name:
            names[kind][i] = name
        if not callee:
            if kind == 'ob':
                ob = names['ob'].get(i, '?')
            else:
                fn = (names['fn'].get(i, '?'), ob)
        continue
    if line.startswith('calls='):
        after_call = True
        continue
    if line[:1].isdigit() or line[:1] in '+-*':
        if after_call:
            after_call = False
            continue
        parts = line.split()
        if len(parts) >= 2:
            by_ob[ob] += int(parts[1])
            by_fn[fn] += int(parts[1])
total = sum(by_ob.values())
print(f"{total / n:,.0f} Ir per request.")
print()
print("| object | Ir per request | share |")
print("|---|---:|---:|")
for o, v in by_ob.most_common(8):
    if v / n >= 1:
        print(f"| {o.split('/')[-1]} | {v / n:,.0f} | {100 * v / total:.1f}% |")
print()
print("Functions with the most (self) instructions:")
print()
print("| function | object | Ir per request | share |")
print("|---|---|---:|---:|")
for (f, o), v in by_fn.most_common(12):
    print(f"| `{f}` | {o.split('/')[-1]} | {v / n:,.0f} | {100 * v / total:.1f}% |")
EOF
  echo
  echo "System calls per request:"
  echo
  echo "| call | per request |"
  echo "|---|---:|"
  # strace -c columns: % time, seconds, usecs/call, calls, [errors,] syscall.
  awk -v n="$n" '$NF != "total" && $4 ~ /^[0-9]+$/ && $4 / n >= 0.01 {
      printf "| %s | %.2f |\n", $NF, $4 / n }' "$tmp/sc.$name" | sort -t'|' -k3 -r -n
done
