#!/bin/bash
# run.sh RUNNER_DIR OUT ROUNDS: binary-trees --depth 18 and gcbench through views (defaults) and on
# .NET, alternating, under flock /work/measure.lock.
R=$1; out=$2; rounds=$3; mkdir -p "$out"
echo "commit: $(git rev-parse --short HEAD); date: $(date -u +%FT%TZ)" > "$out/run-info.txt"
for r in $(seq 1 "$rounds"); do
  for w in "binary-trees --depth 18" "gcbench"; do
    name="${w%% *}"
    flock /work/measure.lock dotnet "$R/GcHeap.Experiments.dll" $w --api views -q --json "$out/$name-views-$r.json" > /dev/null
    flock /work/measure.lock dotnet "$R/GcHeap.Experiments.dll" $w --backend dotnet -q --json "$out/$name-dotnet-$r.json" > /dev/null
  done
done
echo "done: $(date -u +%FT%TZ)" >> "$out/run-info.txt"
