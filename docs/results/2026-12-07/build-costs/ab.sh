#!/bin/bash
# ab.sh RUNNER OUT ROUNDS: compare --sizes 256,1024 --backends move,copy with the default policy
# ("default") and with PackedPagesByCopy ("packedcopy"), alternating, under flock /work/measure.lock.
R=$1; out=$2; rounds=$3; mkdir -p "$out"
for r in $(seq 1 "$rounds"); do
  flock /work/measure.lock $R compare --sizes 256,1024 --backends move,copy -q --json "$out/default-$r.json" > "$out/default-$r.txt" 2>&1
  flock /work/measure.lock $R compare --sizes 256,1024 --backends move,copy -q --option PackedPagesByCopy=true --json "$out/packedcopy-$r.json" > "$out/packedcopy-$r.txt" 2>&1
done
