#!/bin/bash
# The committed build (HEAD of main after the gap change), snapshot 1 GiB, 1 and 2 mutators, three runs each, alternating
cd /tmp/snapfinal
for r in 1 2 3; do
 for t in 1 2; do
   uptime > final-1024-t$t-r$r.txt
   flock /work/measure.lock /tmp/runnerF/GcHeap.Experiments snapshot --live-mb 1024 --threads $t --snapshots 5 --json final-1024-t$t-r$r.json >> final-1024-t$t-r$r.txt 2>&1
 done
done
