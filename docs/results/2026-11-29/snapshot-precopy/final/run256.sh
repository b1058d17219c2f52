#!/bin/bash
# Same build, snapshot 256 MiB, 1 and 2 mutators, two runs each
cd /tmp/snapfinal
while pgrep -f snapfinal/run.sh > /dev/null; do sleep 5; done
for r in 1 2; do
 for t in 1 2; do
   uptime > final-256-t$t-r$r.txt
   flock /work/measure.lock /tmp/runnerF/GcHeap.Experiments snapshot --live-mb 256 --threads $t --snapshots 5 --json final-256-t$t-r$r.json >> final-256-t$t-r$r.txt 2>&1
 done
done
