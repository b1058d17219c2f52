#!/bin/bash
# Side-by-side runs of issue 11's five workloads: ab.sh OUT_DIR ROUNDS MODE=RUNNER[:OPTIONS] ...
# Each round runs every mode in the order given (modes alternate), under flock /work/measure.lock.
# RUNNER is a copied runner build (bin/Release/net10.0/GcHeap.Experiments); OPTIONS are passed as-is.
# Invocations behind this directory (runner builds named by commit):
#   ab.sh /tmp/ab3 3 base=<0968f6e> handoff=<52c6bac> "nohandoff=<52c6bac>:--option StopperHandoff=false"
#   ab.sh /tmp/ab4 3 base=<0968f6e> handoff=<52c6bac> sweepers=<0a1135c>
#   ab.sh /tmp/ab5 3 sweepers=<0a1135c> move=<e458160>
out=$1; rounds=$2; shift 2; mkdir -p "$out"
run() { flock /work/measure.lock "$@" >/dev/null 2>&1; }
for r in $(seq 1 "$rounds"); do
  for spec in "$@"; do
    mode=${spec%%=*}; rest=${spec#*=}; R=${rest%%:*}; X=""; [ "$rest" != "$R" ] && X=${rest#*:}
    run $R binary-trees --depth 18 -q $X --json "$out/bt-$mode-$r.json"
    run $R gcbench -q $X --json "$out/gcbench-$mode-$r.json"
    run $R gcperfsim --live-mb 256 --seconds 20 -q $X --json "$out/gcperfsim-$mode-$r.json"
    run $R fragment --live-mb 1024 --seconds 30 -q $X --json "$out/frag-t1-$mode-$r.json"
    run $R fragment --live-mb 1024 --threads 2 --seconds 30 -q $X --json "$out/frag-t2-$mode-$r.json"
  done
done
