#!/bin/bash
# A/B: before (af54970, /tmp/runnerS) vs after (b6810ed, /tmp/runnerN), alternating, snapshot 1 GiB, 1 and 2 mutators
cd /tmp/snapab
for r in 1 2; do
 for t in 1 2; do
  for mode in before after; do
   R=/tmp/runnerS; [ $mode = after ] && R=/tmp/runnerN
   uptime > $mode-1024-t$t-r$r.txt
   flock /work/measure.lock $R/GcHeap.Experiments snapshot --live-mb 1024 --threads $t --snapshots 5 --json $mode-1024-t$t-r$r.json >> $mode-1024-t$t-r$r.txt 2>&1
  done
 done
done
