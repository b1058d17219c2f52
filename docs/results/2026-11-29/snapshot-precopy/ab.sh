#!/bin/bash
# Runs the snapshot command for each mode in turn (modes alternate within a round), writing
# OUT/MODE-LIVE-tT-rR.json and .txt (the .txt starts with the load average).
#   ab.sh OUT ROUNDS LIVE_MB THREADS MODE=RUNNER_DIR [MODE=RUNNER_DIR ...]
# THREADS is a comma-separated list of mutator counts, in the order run (e.g. 2,1).
# Runner directories are copies of experiments/GcHeap.Experiments/bin/Release/net10.0.
set -e
out=$1 rounds=$2 live=$3 threads=$4
shift 4
mkdir -p "$out"
for r in $(seq 1 "$rounds"); do
  for t in ${threads//,/ }; do
    for m in "$@"; do
      mode=${m%%=*} runner=${m#*=}
      f="$out/$mode-$live-t$t-r$r"
      uptime > "$f.txt"
      flock /work/measure.lock "$runner/GcHeap.Experiments" snapshot --live-mb "$live" --threads "$t" --snapshots 5 --json "$f.json" >> "$f.txt" 2>&1
    done
  done
done
