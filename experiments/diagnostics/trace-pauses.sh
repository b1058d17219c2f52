#!/usr/bin/env bash
# One runner run under a scheduler trace, then what each slow pause waited for.
#   experiments/diagnostics/trace-pauses.sh OUT_PREFIX RUNNER WORKLOAD [ARGS...]
# Needs root (ftrace, perf -a). TRACE_QUIET= (empty) for a command without -q (snapshot);
# TRACE_PERF=0 records the ftrace events only (no perf samples); TRACE_PERF_ARGS (default
# "-F 4000 -g") sets perf's sampling, e.g. "-F 1000" for a lighter trace without call stacks. SKIP_ANALYSIS=1 leaves the analysis out (run pause_attribution.py
# later, e.g. outside a measurement lock). Writes OUT_PREFIX.json (the runner's), OUT_PREFIX.sched (ftrace:
# sched_switch with the kernel stack of every blocking switch, sched_waking (in the waker's context:
# sched_wakeup of a remote wake-up runs on the target CPU, often in its idle task), sched_migrate_task;
# mono clock), OUT_PREFIX.samples (perf cpu-clock at 4 kHz on every CPU with call stacks; .NET
# frames resolve through DOTNET_PerfMapEnabled=1, with .NET's W^X off, DOTNET_EnableWriteXorExecute=0,
# unless TRACE_WX=1: its double-mapped code defeats the perf map) and OUT_PREFIX.attribution (pause_attribution.py
# over both). ftrace rather than perf for the scheduler events: perf's sched tracepoints dropped
# about a third of the context switches on this VM (a CPU's samples then named a thread that no
# switch had put there); ftrace's per-CPU buffer, sized here, reported no overrun.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out=$1; runner=$2; shift 2
T=/sys/kernel/tracing
[ -d $T/events ] || mount -t tracefs nodev $T
old_kb=$(awk '{print $1}' $T/buffer_size_kb)
cleanup() {
  echo 0 > $T/tracing_on
  echo '!stacktrace if prev_state & 3' > $T/events/sched/sched_switch/trigger 2>/dev/null || true
  echo 0 > $T/events/enable
  echo > $T/trace
  echo "$old_kb" > $T/buffer_size_kb
}
trap cleanup EXIT
echo 0 > $T/tracing_on
echo > $T/trace
echo mono > $T/trace_clock
echo 262144 > $T/buffer_size_kb
echo 0 > $T/events/enable
for e in sched_switch sched_waking sched_migrate_task; do echo 1 > $T/events/sched/$e/enable; done
echo 'stacktrace if prev_state & 3' > $T/events/sched/sched_switch/trigger
echo 1 > $T/tracing_on
rc=0
if [ "${TRACE_PERF:-1}" = 0 ]; then
  # ftrace alone (no sampling): lighter, for pauses a heavier trace does not reproduce.
  "$runner" "$@" ${TRACE_QUIET--q} --json "$out.json" > "$out.out" 2>&1 || rc=$?
else
DOTNET_PerfMapEnabled=1 DOTNET_EnableWriteXorExecute="${TRACE_WX:-0}" perf record -q -a -k CLOCK_MONOTONIC ${TRACE_PERF_ARGS:--F 4000 -g} -e cpu-clock -o "$out.perf" -- \
  "$runner" "$@" ${TRACE_QUIET--q} --json "$out.json" > "$out.out" 2>&1 || rc=$?
fi
echo 0 > $T/tracing_on
for c in $T/per_cpu/cpu*; do
  o=$(awk '/^overrun/ {print $2}' $c/stats)
  [ "$o" = 0 ] || echo "warning: $(basename $c) ftrace overrun $o (the trace has holes)" >&2
done
cat $T/trace > "$out.sched"
if [ -f "$out.perf" ]; then
  perf script -i "$out.perf" -F comm,tid,cpu,time,event,ip,sym,dso > "$out.samples" 2>/dev/null
  rm -f "$out.perf"
else
  : > "$out.samples"
fi
if [ "${SKIP_ANALYSIS:-0}" != 1 ]; then
  python3 "$here/pause_attribution.py" "$out.sched" "$out.samples" "$out.json" "${MIN_PAUSE_MS:-0.8}" > "$out.attribution"
  tail -1 "$out.attribution"
fi
exit $rc
