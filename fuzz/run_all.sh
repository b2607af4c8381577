#!/usr/bin/env bash
# Runs every built libFuzzer harness in $1 over its seed corpus and then
# for FUZZ_SECONDS (default 10) of new inputs. Fails on any crash.
set -uo pipefail
dir=${1:?usage: fuzz/run_all.sh <dir with fuzz_* binaries>}
secs=${FUZZ_SECONDS:-10}
here=$(cd "$(dirname "$0")" && pwd)
status=0
found=0
for bin in "$dir"/fuzz_*; do
  [ -x "$bin" ] && [ -f "$bin" ] || continue
  found=1
  name=$(basename "$bin")
  corpus="$here/corpus/$name"
  work=$(mktemp -d)
  [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/ 2>/dev/null
  dict=()
  [ -f "$here/$name.dict" ] && dict=(-dict="$here/$name.dict")
  echo "--- $name (${secs}s)"
  if ! "$bin" -max_total_time="$secs" -print_final_stats=1 "${dict[@]}" \
       -artifact_prefix="$work/" "$work" 2>"$work.log"; then
    tail -50 "$work.log"
    echo "*** $name failed; artifacts in $work"
    status=1
    continue
  fi
  grep -E 'stat::number_of_executed_units|stat::peak_rss_mb' "$work.log" | tr '\n' ' '
  echo
  rm -rf "$work" "$work.log"
done
[ $found -eq 1 ] || { echo "no harnesses in $dir"; exit 1; }
exit $status
