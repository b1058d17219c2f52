#!/bin/bash
# deprio.sh MODE RUNNER ARGS... ; MODE = idle (SCHED_IDLE) | nice (nice 19) for threads named ".NET Tiered Com" (and PREFIX env)
mode=$1; shift
"$@" &
pid=$!
declare -A done
while kill -0 $pid 2>/dev/null; do
  for t in /proc/$pid/task/*; do
    tid=${t##*/}; [ -n "${done[$tid]}" ] && continue
    read -r c < $t/comm 2>/dev/null || continue
    case "$c" in
      ".NET Tiered Com"*) if [ $mode = idle ]; then chrt -i -p 0 $tid 2>/dev/null; else renice -n 19 -p $tid >/dev/null 2>&1; fi; done[$tid]=1;;
    esac
  done
  sleep 0.02
done
wait $pid
