#!/usr/bin/env bash
# A longer fuzzing campaign: runs every libFuzzer harness in $1 for
# FUZZ_SECONDS (default 600) each, PARALLEL (default 2) at a time, starting
# from the seed corpus (and dictionary) in fuzz/, and prints a Markdown table
# of executions, edge coverage (libFuzzer's "cov"), features ("ft"), corpus
# size reached and crashes found. Work directories (grown corpora, logs,
# crash artifacts) stay in $OUTDIR (default fuzz-campaign/ under the build
# dir) for inspection; nothing is written into the source tree.
#
#   fuzz/campaign.sh build/fuzz/fuzz            # 10 minutes per harness
#   FUZZ_SECONDS=60 fuzz/campaign.sh build/fuzz/fuzz
set -uo pipefail
dir=${1:?usage: fuzz/campaign.sh <dir with fuzz_* binaries>}
dir=$(cd "$dir" && pwd)
secs=${FUZZ_SECONDS:-600}
par=${PARALLEL:-2}
here=$(cd "$(dirname "$0")" && pwd)
out=${OUTDIR:-$dir/fuzz-campaign}
mkdir -p "$out"

run_one() {
  local bin=$1 name corpus work dict=()
  name=$(basename "$bin")
  work="$out/$name"
  rm -rf "$work"
  mkdir -p "$work/corpus" "$work/artifacts"
  corpus="$here/corpus/$name"
  [ -d "$corpus" ] && cp -r "$corpus"/. "$work/corpus/" 2>/dev/null
  [ -f "$here/$name.dict" ] && dict=(-dict="$here/$name.dict")
  nice -n 10 "$bin" -max_total_time="$secs" -print_final_stats=1 "${dict[@]}" \
    -artifact_prefix="$work/artifacts/" "$work/corpus" >"$work/log" 2>&1
  echo $? >"$work/rc"
}
export -f run_one
export out secs here

ls "$dir"/fuzz_* | while read -r b; do [ -x "$b" ] && [ -f "$b" ] && echo "$b"; done |
  xargs -P "$par" -I{} bash -c 'run_one "$@"' _ {}

printf '| harness | seconds | executions | exec/s | cov | ft | corpus | crashes |\n'
printf '|---|---:|---:|---:|---:|---:|---:|---:|\n'
status=0
for work in "$out"/fuzz_*; do
  name=$(basename "$work")
  log="$work/log"
  execs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$log" | tail -1)
  last=$(grep -E '^#[0-9]+' "$log" | grep -E 'cov: ' | tail -1)
  cov=$(sed -nE 's/.*cov: ([0-9]+).*/\1/p' <<<"$last")
  ft=$(sed -nE 's/.* ft: ([0-9]+).*/\1/p' <<<"$last")
  corp=$(sed -nE 's/.* corp: ([0-9]+)\/.*/\1/p' <<<"$last")
  crashes=$(find "$work/artifacts" -type f | wc -l)
  rc=$(cat "$work/rc" 2>/dev/null || echo '?')
  [ "$rc" = 0 ] && [ "$crashes" -eq 0 ] || status=1
  rate=$(( ${execs:-0} / (secs > 0 ? secs : 1) ))
  printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "$name" "$secs" "${execs:-?}" "$rate" \
    "${cov:-?}" "${ft:-?}" "${corp:-?}" "$crashes"
done
exit $status
