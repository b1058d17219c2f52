#!/bin/bash
# A/B: re-protect gap 32 (94d6bbe, /tmp/runnerP) vs 256 (/tmp/runnerG), alternating, snapshot 1 GiB, 2 mutators
cd /tmp/snapgap
for r in 1 2; do
  for mode in gap256 gap32; do
   R=/tmp/runnerP; [ $mode = gap256 ] && R=/tmp/runnerG
   uptime > $mode-1024-t2-r$r.txt
   flock /work/measure.lock $R/GcHeap.Experiments snapshot --live-mb 1024 --threads 2 --snapshots 5 --json $mode-1024-t2-r$r.json >> $mode-1024-t2-r$r.txt 2>&1
  done
done
