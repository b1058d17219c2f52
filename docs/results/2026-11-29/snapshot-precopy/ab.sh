#!/bin/bash
# A/B: before (af54970, /tmp/runnerS) vs copy-in-pause (/tmp/runnerP), alternating, snapshot 1 GiB, 1 and 2 mutators
cd /tmp/snapab3
for r in 1 2; do
 for t in 2 1; do
  for mode in after before; do
   R=/tmp/runnerS; [ $mode = after ] && R=/tmp/runnerP
   uptime > $mode-1024-t$t-r$r.txt
   flock /work/measure.lock $R/GcHeap.Experiments snapshot --live-mb 1024 --threads $t --snapshots 5 --json $mode-1024-t$t-r$r.json >> $mode-1024-t$t-r$r.txt 2>&1
  done
 done
done
