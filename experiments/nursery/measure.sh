#!/usr/bin/env bash
# The allocation nursery (issue 12): binary-trees and gcbench through the fast path (--api views)
# with the default nursery (32 MiB since commit e65678e; 16 MiB before, where the labels were
# nursery16 = default and nursery32), a 16 MiB one, none (NurseryBytes=0), and on .NET objects,
# alternating, ROUNDS rounds; every GcHeap run verified at the end.
#
#   experiments/nursery/measure.sh RUNNER_DIR OUT_DIR [ROUNDS]
#
# RUNNER_DIR is a copy of experiments/GcHeap.Experiments/bin/Release/net10.0 (so rebuilding
# meanwhile does not disturb the runs). Writes one JSON per run and OUT_DIR/summary.txt.
set -euo pipefail
runner="${1:?RUNNER_DIR}"
out="${2:?OUT_DIR}"
rounds="${3:-3}"
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$out"
{
  echo "commit: $(git -C "$here" rev-parse --short HEAD)$(git -C "$here" diff --quiet HEAD || echo ' (modified)')"
  echo "date: $(date -u +%FT%TZ); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$out/run-info.txt"
for r in $(seq 1 "$rounds"); do
  for w in "binary-trees --depth 18" "gcbench"; do
    name="${w%% *}"
    for v in "default:--api views" "nursery16:--api views --option NurseryBytes=16777216" "off:--api views --option NurseryBytes=0" "dotnet:--backend dotnet"; do
      label="${v%%:*}"; args="${v#*:}"
      # shellcheck disable=SC2086
      dotnet "$runner/GcHeap.Experiments.dll" $w $args -q --json "$out/$name-$label-$r.json" > /dev/null
    done
  done
  echo "round $r done, load average $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/run-info.txt"
done
python3 "$here/summarize.py" "$out" | tee "$out/summary.txt"
