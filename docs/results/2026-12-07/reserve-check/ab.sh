#!/bin/bash
# ab.sh OUT ROUNDS NAME=RUNNER_DIR ...: binary-trees --depth 18 and gcbench through views with each
# runner build, then on .NET, alternating, under flock /work/measure.lock.
out=$1; rounds=$2; shift 2; mkdir -p "$out"
echo "date: $(date -u +%FT%TZ); modes: $*" > "$out/run-info.txt"
for r in $(seq 1 "$rounds"); do
  for w in "binary-trees --depth 18" "gcbench"; do
    name="${w%% *}"
    for spec in "$@"; do
      mode=${spec%%=*}; R=${spec#*=}
      flock /work/measure.lock dotnet "$R/GcHeap.Experiments.dll" $w --api views -q --json "$out/$name-$mode-$r.json" > /dev/null
    done
    R=${1#*=}
    flock /work/measure.lock dotnet "$R/GcHeap.Experiments.dll" $w --backend dotnet -q --json "$out/$name-dotnet-$r.json" > /dev/null
  done
done
echo "done: $(date -u +%FT%TZ)" >> "$out/run-info.txt"
