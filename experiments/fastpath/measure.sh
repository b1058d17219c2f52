#!/usr/bin/env bash
# Mutator speed (issue 12): the workloads through the fast path (--api views), through handles
# only (--api handles) and on .NET objects (--backend dotnet), alternating, ROUNDS rounds, each
# run verified at the end; plus the fast path without the allocation prefault thread.
#
#   experiments/fastpath/measure.sh OUT_DIR [ROUNDS]
#
# Writes one JSON per run to OUT_DIR and OUT_DIR/summary.txt (medians and ratios to dotnet, from
# summarize.py). Runs from a copy of the built runner, so rebuilding meanwhile does not disturb it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:?OUT_DIR}"
rounds="${2:-3}"
mkdir -p "$out"
dotnet build -c Release "$repo/experiments/GcHeap.Experiments" >/dev/null
runner="$(mktemp -d)"
trap 'rm -rf "$runner"' EXIT
cp -r "$repo/experiments/GcHeap.Experiments/bin/Release/net10.0/." "$runner/"
run() { dotnet "$runner/GcHeap.Experiments.dll" "$@" -q > /dev/null; }

{
  echo "commit: $(git -C "$repo" rev-parse --short HEAD)$(git -C "$repo" diff --quiet HEAD || echo ' (modified)')"
  echo "date: $(date -u +%FT%TZ); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
} > "$out/run-info.txt"

for r in $(seq 1 "$rounds"); do
  for w in "binary-trees --depth 18" "gcbench" "gcperfsim --live-mb 256 --seconds 20"; do
    name="${w%% *}"
    for v in "views:--api views" "handles:--api handles" "dotnet:--backend dotnet" "views-noprefault:--api views --option AllocationPrefaultPages=0"; do
      label="${v%%:*}"; args="${v#*:}"
      # shellcheck disable=SC2086
      run $w $args --json "$out/$name-$label-$r.json"
    done
  done
  echo "round $r done, load average $(cut -d' ' -f1-3 /proc/loadavg)" >> "$out/run-info.txt"
done
python3 "$here/summarize.py" "$out" > "$out/summary.txt"
cat "$out/summary.txt"
