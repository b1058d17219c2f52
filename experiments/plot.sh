#!/usr/bin/env bash
# Turns runner JSON results into PNG charts with gnuplot.
#
#   experiments/plot.sh OUT_DIR RESULT.json [RESULT.json ...]
#
# Each input is a workload result (binary-trees, gcbench, fragment, gcperfsim: --json) or a
# compare/demo report. Writes into OUT_DIR:
#   pauses.png     pause distribution per run (or per compare case): pause length vs. percentile
#   stalls.png     fault stall p50 / p99 / max of every collection (Move and Copy only)
#   occupancy.png  heap pages in use before and after each collection, and live bytes
# plus the .dat files they are drawn from. Installs gnuplot (Debian gnuplot-nox) and jq if missing.
set -euo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 OUT_DIR RESULT.json [RESULT.json ...]" >&2
  exit 2
fi
out=$1
shift
here=$(cd "$(dirname "$0")" && pwd)

need=()
command -v gnuplot >/dev/null 2>&1 || need+=(gnuplot-nox)
command -v jq >/dev/null 2>&1 || need+=(jq)
if [ ${#need[@]} -gt 0 ]; then
  echo "installing: ${need[*]}" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null
fi

mkdir -p "$out"
rm -f "$out"/pauses-*.dat "$out"/stalls-*.dat "$out"/occupancy-*.dat

# One "run" per workload result, one per case of a compare/demo report: label, pauses, collections.
runs() {
  jq -c 'if has("cases") then
           .cases[] | select(.error == null) | {label: "\(.live_mb) MiB \(.gcheap_backend // .backend)", pauses: .pauses_ms, collections: .collection_records}
         else
           {label: "\(.workload) \(.gcheap_backend // .backend)", pauses: .pauses_ms, collections: .collections}
         end' "$1"
}

n=0
for f in "$@"; do
  while IFS= read -r run; do
    n=$((n + 1))
    label=$(jq -r '.label' <<<"$run")
    id=$(printf '%02d' "$n")
    # pause (ms) against its percentile among the run's pauses
    jq -r --arg l "$label" '"# \($l)", ((.pauses | sort) as $p | ($p | length) as $k | range(0; $k) | "\($p[.]) \(100 * (. + 1) / $k)")' <<<"$run" >"$out/pauses-$id.dat"
    # cycle p50 p99 max samples (collections that sampled a stall)
    jq -r --arg l "$label" '"# \($l)", (.collections[] | select(.fault_stall_samples > 0) | "\(.cycle) \(.fault_stall_us_p50) \(.fault_stall_us_p99) \(.fault_stall_us_max) \(.fault_stall_samples)")' <<<"$run" >"$out/stalls-$id.dat"
    # cycle heap_before_mib heap_after_mib live_mib
    jq -r --arg l "$label" '"# \($l)", (.collections[] | "\(.cycle) \(.heap_bytes_before / 1048576) \(.heap_bytes_after / 1048576) \(.live_bytes / 1048576)")' <<<"$run" >"$out/occupancy-$id.dat"
  done < <(runs "$f")
done

if [ "$n" -eq 0 ]; then
  echo "no run with figures in the inputs" >&2
  exit 1
fi

gnuplot -e "dir='$out'" "$here/plots/pauses.gp"
gnuplot -e "dir='$out'" "$here/plots/stalls.gp"
gnuplot -e "dir='$out'" "$here/plots/occupancy.gp"
echo "wrote $out/pauses.png $out/stalls.png $out/occupancy.png"
