#!/usr/bin/env bash
# Turns runner JSON results into PNG charts (kept for the commands in the docs; the work is done by
# the runner's `plot` command, with ScottPlot: no system package needed).
#
#   experiments/plot.sh OUT_DIR RESULT.json [RESULT.json ...]
#
# Each input is a workload result (binary-trees, gcbench, fragment, gcperfsim: --json) or a
# compare/demo report. Writes into OUT_DIR:
#   pauses.png     pause distribution per run (or per compare case): pause length vs. percentile
#   stalls.png     fault stall p50 / p99 / max of every collection (Move and Copy only)
#   occupancy.png  heap pages in use before and after each collection, and live bytes
set -euo pipefail
if [ $# -lt 2 ]; then
  echo "usage: $0 OUT_DIR RESULT.json [RESULT.json ...]" >&2
  exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
exec dotnet run -c Release --project "$here/GcHeap.Experiments" -- plot "$@"
