#!/usr/bin/env bash
# The standard .NET diagnostics tools on a live GcHeap process, checked:
#   1. installs dotnet-counters and dotnet-trace (dotnet tools, into a tool folder),
#   2. starts the runner's `fragment` workload (Move backend, collecting repeatedly),
#   3. attaches `dotnet-counters collect --counters GcHeap --format json` and
#      `dotnet-trace collect --providers GcHeap` to it at the same time,
#   4. reads both back with the runner: `counters-summary` (the Collections counter must grow)
#      and `trace-summary` (the .nettrace, read with TraceEvent, must hold GcHeap's collection and
#      pause events).
# Exits non-zero when any step or check fails.
#
#   experiments/diagnostics/check-tools.sh [OUT_DIR]       (default: a temporary folder)
#
# Environment: TOOLS_DIR (where the tools go; default ~/.dotnet/gcheap-diagnostics-tools),
# SECONDS_ATTACHED (how long the tools record; default 10).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-$(mktemp -d)}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
tools="${TOOLS_DIR:-$HOME/.dotnet/gcheap-diagnostics-tools}"
attached="${SECONDS_ATTACHED:-10}"
counters_version=10.0.750501
trace_version=10.0.750501

step() { printf '\n== %s\n' "$*"; }

step "tools"
for t in "dotnet-counters:$counters_version" "dotnet-trace:$trace_version"; do
  name="${t%%:*}" version="${t##*:}"
  if [ -x "$tools/$name" ] && "$tools/$name" --version 2>/dev/null | grep -q "^${version}"; then
    echo "$name $version already in $tools"
  else
    dotnet tool install --tool-path "$tools" "$name" --version "$version" >/dev/null 2>&1 ||
      dotnet tool update --tool-path "$tools" "$name" --version "$version" >/dev/null
    echo "$name $version installed in $tools"
  fi
done

step "build the runner"
dotnet build "$repo/experiments/GcHeap.Experiments" -c Release --nologo -v q 2>&1 | grep -E "error|Warn|warn" || true
runner="$repo/experiments/GcHeap.Experiments/bin/Release/net10.0/GcHeap.Experiments.dll"
[ -f "$runner" ] || { echo "the runner was not built: $runner" >&2; exit 1; }

step "start the workload"
workload=(fragment --backend move --live-mb 64 --threads 1 --seconds $((attached + 15)) --seed 7 -q)
echo "dotnet GcHeap.Experiments.dll ${workload[*]}"
dotnet "$runner" "${workload[@]}" >"$out/workload.stdout" 2>"$out/workload.stderr" &
pid=$!
cleanup() { kill "$pid" 2>/dev/null || true; }
trap cleanup EXIT
# The runtime's diagnostic socket appears once the process is up.
for _ in $(seq 1 100); do
  compgen -G "${TMPDIR:-/tmp}/dotnet-diagnostic-$pid-*-socket" >/dev/null && break
  sleep 0.2
done
compgen -G "${TMPDIR:-/tmp}/dotnet-diagnostic-$pid-*-socket" >/dev/null || { echo "process $pid has no diagnostic socket" >&2; exit 1; }
sleep 3 # let it build its graph and start collecting
echo "pid $pid"

step "attach dotnet-counters and dotnet-trace for ${attached} s"
duration="$(printf '00:00:00:%02d' "$attached")"
rm -f "$out/counters.json" "$out/trace.nettrace"
"$tools/dotnet-counters" collect -p "$pid" --counters GcHeap --refresh-interval 1 --format json \
  -o "$out/counters.json" --duration "$duration" >"$out/dotnet-counters.log" 2>&1 &
counters_pid=$!
"$tools/dotnet-trace" collect -p "$pid" --providers "GcHeap:0xFFFFFFFFFFFFFFFF:4" --rundown false \
  -o "$out/trace.nettrace" --duration "$duration" >"$out/dotnet-trace.log" 2>&1 &
trace_pid=$!
rc=0
wait "$counters_pid" || rc=$?
[ $rc -eq 0 ] || { echo "dotnet-counters failed ($rc):"; cat "$out/dotnet-counters.log"; exit 1; }
wait "$trace_pid" || rc=$?
[ $rc -eq 0 ] || { echo "dotnet-trace failed ($rc):"; cat "$out/dotnet-trace.log"; exit 1; }
echo "counters.json: $(stat -c %s "$out/counters.json") bytes; trace.nettrace: $(stat -c %s "$out/trace.nettrace") bytes"

step "wait for the workload"
wait "$pid" || { echo "the workload failed:"; cat "$out/workload.stderr"; exit 1; }
trap - EXIT
echo "finished; load average (1/5/15 min): $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs (pause figures below are not a measurement)"
for f in "$out/workload.stdout" "$out/workload.stderr"; do [ -s "$f" ] || rm -f "$f"; done

step "dotnet-counters: GcHeap's counters (runner counters-summary)"
dotnet "$runner" counters-summary "$out/counters.json"

step "dotnet-trace: GcHeap's events (runner trace-summary, TraceEvent)"
dotnet "$runner" trace-summary "$out/trace.nettrace"

step "all checks passed"
