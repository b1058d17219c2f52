#!/usr/bin/env python3
"""Which slow pauses lie on a vCPU gap: a stretch in which a CPU took no sampling interrupt.

Input: a `perf record -a -k CLOCK_MONOTONIC -F 4000 -e cpu-clock -e sched:sched_switch` of a run
whose stderr has one line per slow pause,
    [GCH_PAUSE] <kind> start <ns> ... released <ns> ...
(Stopwatch timestamps: CLOCK_MONOTONIC ns; printed by a temporary build, see the README of the
results directory). cpu-clock fires every 250 us on every CPU, idle or not, as long as the vCPU
runs: a stretch without a sample on a CPU is time the vCPU did not run (or ran with interrupts
off that long). For each pause the script prints, per CPU, the longest stretch without a sample
that overlaps the pause, how much of the pause it covers, and what the guest scheduler had
running on that CPU meanwhile (from sched_switch).

    perf script -i DATA -F comm,tid,cpu,time,event,trace > DATA.txt
    pause_vcpu_gaps.py DATA.txt STDERR [min_gap_ms]
"""
import bisect
import re
import sys

perf_txt, stderr_txt = sys.argv[1], sys.argv[2]
min_gap = float(sys.argv[3]) if len(sys.argv) > 3 else 0.5

samples = {}   # cpu -> sorted times (s)
who = {}       # cpu -> [(time, comm/tid)] of the samples
switches = {}  # cpu -> [(time, next_comm, next_pid)]
line_re = re.compile(r"^\s*(.+?)\s+(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+([\w:-]+):(.*)$")
for line in open(perf_txt, errors="replace"):
    m = line_re.match(line)
    if not m:
        continue
    comm, tid, cpu, t, ev, rest = m.group(1), int(m.group(2)), int(m.group(3)), float(m.group(4)), m.group(5), m.group(6)
    if ev == "cpu-clock":
        samples.setdefault(cpu, []).append(t)
        who.setdefault(cpu, []).append((t, f"{comm}/{tid}"))
    elif ev == "sched:sched_switch":
        nm = re.search(r"next_comm=(.*?) next_pid=(\d+)", rest)
        switches.setdefault(cpu, []).append((t, nm.group(1), int(nm.group(2))))
for v in samples.values():
    v.sort()
for v in switches.values():
    v.sort()
for v in who.values():
    v.sort()


def sampled(cpu, a, b):
    """What the CPU's samples in [a, b] show running, in order, repeats collapsed (name x count)."""
    out = []
    for t, c in who.get(cpu, []):
        if a <= t <= b:
            if out and out[-1][0] == c:
                out[-1][1] += 1
            else:
                out.append([c, 1])
    return ", ".join(f"{c} x{n}" for c, n in out) or "no samples"

pauses = []
for line in open(stderr_txt, errors="replace"):
    if not line.startswith("[GCH_PAUSE]"):
        continue
    f = line.split()
    kind = f[1]
    start = int(f[f.index("start") + 1]) / 1e9
    released = int(f[f.index("released") + 1]) / 1e9
    pauses.append((kind, start, released, line.strip()))


def running(cpu, t):
    sw = switches.get(cpu, [])
    i = bisect.bisect_right(sw, (t, "\uffff", 1 << 30)) - 1
    return f"{sw[i][1]}/{sw[i][2]}" if i >= 0 else "?"


on_gap = 0
for kind, start, end, raw in pauses:
    ms = (end - start) * 1e3
    print(f"{kind} pause {ms:.3f} ms at {start:.6f}")
    best = 0.0
    for cpu in sorted(samples):
        s = samples[cpu]
        i = max(bisect.bisect_left(s, start) - 1, 0)
        longest = (0.0, 0.0, 0.0)
        while i + 1 < len(s) and s[i] <= end:
            gap = s[i + 1] - s[i]
            if gap > longest[0]:
                longest = (gap, s[i], s[i + 1])
            i += 1
        gap, a, b = longest
        overlap = max(0.0, min(b, end) - max(a, start))
        sw_in = [f"{c}/{p}" for (t, c, p) in switches.get(cpu, []) if start <= t <= end]
        print(f"  cpu {cpu}: longest stretch without a sample {gap * 1e3:.3f} ms ({a:.6f}-{b:.6f}), "
              f"{overlap * 1e3:.3f} ms of it inside the pause; running at its start: {running(cpu, a)}; "
              f"switches during the pause: {', '.join(sw_in[:6]) or 'none'}")
        print(f"          samples during the pause (4 kHz): {sampled(cpu, start, end)}")
        if gap * 1e3 >= min_gap:
            best = max(best, overlap * 1e3)
    if best >= min_gap:
        on_gap += 1
    print(f"  => {'covers' if best >= min_gap else 'no gap'}: {best:.3f} ms of the pause inside a stretch of {min_gap} ms or more without samples")
print(f"{on_gap} of {len(pauses)} pauses overlap a vCPU gap of at least {min_gap} ms")
