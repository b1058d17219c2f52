#!/usr/bin/env python3
"""Every context switch and wake-up around one pause, from an ftrace of trace-pauses.sh.

    sched_window.py RUN.sched RUN.json PAUSE [before_ms] [after_ms]

PAUSE names the pause: for the snapshot command's JSON the index of a save in `rows`
(its PauseStartTimestamp); for a collection run `cycle:kind` (its start_ns). Prints the
sched_switch and sched_waking events from before_ms (default 1.5) ahead of the stop request
to after_ms (default: the pause's length + 0.5) after it, in microseconds from the request,
each blocking switch with the first kernel frames of its stack. A stretch with no event on a
CPU is a CPU running one task (or idle, or its vCPU not run by the host: perf samples tell
those apart, see pause_attribution.py).
"""
import json
import re
import sys

sched, run, which = sys.argv[1], sys.argv[2], sys.argv[3]
before = float(sys.argv[4]) / 1e3 if len(sys.argv) > 4 else 0.0015
d = json.load(open(run))
if "rows" in d:
    st = d["rows"][int(which)]["Stats"]
    start, ms, label = st["PauseStartTimestamp"] / 1e9, st["PauseMs"], f"{d['rows'][int(which)]['Kind']} #{which}"
else:
    cyc, kind = which.split(":")
    p = next(p for c in d["collections"] if str(c["cycle"]) == cyc for p in c["pauses"] if p["kind"] == kind)
    start, ms, label = p["start_ns"] / 1e9, p["ms"], f"cycle {cyc} {kind}"
after = float(sys.argv[5]) / 1e3 if len(sys.argv) > 5 else ms / 1e3 + 0.0005
print(f"# {label}: pause {ms:.3f} ms from {start:.6f} s; events from -{before * 1e3:.1f} to +{after * 1e3:.1f} ms")
pat = re.compile(r"^\s*(.+)-(\d+)\s+\[(\d+)\]\s+\S+\s+([\d.]+):\s+(sched_\w+|<stack trace>):?(.*)$")
keep = False
frames = []
with open(sched, errors="replace") as f:
    for line in f:
        if line.startswith(" => "):
            if keep and len(frames) < 6 and not line.startswith((" => trace_event", " => __traceiter")):
                frames.append(line[4:].strip())
            continue
        m = pat.match(line)
        if not m:
            continue
        if m.group(5) == "<stack trace>":
            continue  # the stack of the event just printed follows
        if frames:
            print("             at " + " < ".join(frames))
            frames = []
        t = float(m.group(4))
        keep = False
        if t < start - before:
            continue
        if t > start + after:
            break
        if m.group(5) in ("sched_switch", "sched_waking"):
            keep = True
            print(f"{(t - start) * 1e6:9.0f} us cpu{int(m.group(3))} {m.group(1).strip()}-{m.group(2)} {m.group(5)}{m.group(6)[:160]}")
if frames:
    print("             at " + " < ".join(frames))
