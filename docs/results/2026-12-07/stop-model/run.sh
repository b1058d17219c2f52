#!/bin/bash
# run.sh OUT ROUNDS: experiments/kernel-costs/stop_model.c with one and two mutators, the stopper
# busy or idle between stops, 60 s each, under flock /work/measure.lock.
out=$1; rounds=$2; mkdir -p "$out"
here=$(cd "$(dirname "$0")/../../../.." && pwd)
cc -O2 -Wall -pthread -o /tmp/stop_model "$here/experiments/kernel-costs/stop_model.c" -lm
for r in $(seq 1 "$rounds"); do
  for spec in "1 busy" "1 idle" "2 busy" "2 idle"; do
    set -- $spec
    flock /work/measure.lock /tmp/stop_model "$1" "$2" 60 > "$out/t$1-$2-r$r.txt"
  done
done
