#!/bin/bash
# A/B: 8c95dce (/tmp/runnerF) vs buffers touched before the stop (/tmp/runnerT), snapshot 1 GiB, 1 and 2 mutators, alternating
cd /tmp/snaptouch
for r in 1 2; do
 for t in 1 2; do
  for mode in touched untouched; do
   R=/tmp/runnerF; [ $mode = touched ] && R=/tmp/runnerT
   uptime > $mode-1024-t$t-r$r.txt
   flock /work/measure.lock $R/GcHeap.Experiments snapshot --live-mb 1024 --threads $t --snapshots 5 --json $mode-1024-t$t-r$r.json >> $mode-1024-t$t-r$r.txt 2>&1
  done
 done
done
