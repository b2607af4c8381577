#!/usr/bin/env bash
# Runs every built libFuzzer harness in $1 over its seed corpus and then
# for FUZZ_SECONDS (default 10) of new inputs. Fails on any crash.
# FUZZ_JOBS (default 1) harnesses run at once, each on one core; their
# reports are printed in name order as they would be one after the other.
set -uo pipefail
dir=${1:?usage: fuzz/run_all.sh <dir with fuzz_* binaries>}
secs=${FUZZ_SECONDS:-10}
jobs=${FUZZ_JOBS:-1}
here=$(cd "$(dirname "$0")" && pwd)
reports=$(mktemp -d)
trap 'rm -rf "$reports"' EXIT

# run_one <binary> <report file>: exit status 0 when the harness survived.
run_one() {
  local bin=$1 report=$2 name corpus work dict=()
  name=$(basename "$bin")
  corpus="$here/corpus/$name"
  work=$(mktemp -d)
  [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/ 2>/dev/null
  [ -f "$here/$name.dict" ] && dict=(-dict="$here/$name.dict")
  {
    echo "--- $name (${secs}s)"
    if ! "$bin" -max_total_time="$secs" -print_final_stats=1 "${dict[@]}" \
         -artifact_prefix="$work/" "$work" 2>"$work.log"; then
      tail -50 "$work.log"
      echo "*** $name failed; artifacts in $work"
      return 1
    fi
    grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$work.log" | tr '\n' ' '
    echo
  } >"$report"
  rm -rf "$work" "$work.log"
}

bins=()
for bin in "$dir"/fuzz_*; do
  [ -x "$bin" ] && [ -f "$bin" ] && bins+=("$bin")
done
[ ${#bins[@]} -gt 0 ] || { echo "no harnesses in $dir"; exit 1; }
pids=()
for i in "${!bins[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$jobs" ]; do wait -n; done
  run_one "${bins[$i]}" "$reports/$i" &
  pids[$i]=$!
done
status=0
for i in "${!bins[@]}"; do
  wait "${pids[$i]}" || status=1
  cat "$reports/$i"
done
exit $status
