#!/bin/bash
out=/tmp/ab5; mkdir -p $out
run() { flock /work/measure.lock "$@" >/dev/null 2>&1; }
for r in 1 2 3; do
 for mode in sweepers move; do
  R=/tmp/runnerMV/GcHeap.Experiments
  [ $mode = sweepers ] && R=/tmp/runnerSW/GcHeap.Experiments
  run $R binary-trees --depth 18 -q --json $out/bt-$mode-$r.json
  run $R gcbench -q --json $out/gcbench-$mode-$r.json
  run $R gcperfsim --live-mb 256 --seconds 20 -q --json $out/gcperfsim-$mode-$r.json
  run $R fragment --live-mb 1024 --seconds 30 -q --json $out/frag-t1-$mode-$r.json
  run $R fragment --live-mb 1024 --threads 2 --seconds 30 -q --json $out/frag-t2-$mode-$r.json
 done
done
echo done > $out/DONE
