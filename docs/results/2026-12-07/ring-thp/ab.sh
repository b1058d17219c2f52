#!/bin/bash
# ab.sh RUNNER OUT ROUNDS: compare --sizes 256,1024 --backends move,copy with the ordered huge-page
# ring ("thpring", the default) and with the slot-per-position ring ("slotring",
# GCHEAP_RING_BUMP=0), alternating, under flock /work/measure.lock.
R=$1; out=$2; rounds=$3; mkdir -p "$out"
for r in $(seq 1 "$rounds"); do
  flock /work/measure.lock env GCHEAP_RING_BUMP=0 $R compare --sizes 256,1024 --backends move,copy -q --json "$out/slotring-$r.json" > "$out/slotring-$r.txt" 2>&1
  flock /work/measure.lock $R compare --sizes 256,1024 --backends move,copy -q --json "$out/thpring-$r.json" > "$out/thpring-$r.txt" 2>&1
done
