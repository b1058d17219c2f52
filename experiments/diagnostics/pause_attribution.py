#!/usr/bin/env python3
"""What the thread a slow stop waited for was doing: one paragraph per slow pause.

Input: the runner's JSON of a run (or of the snapshot command: each save's pause; the stopper is
then the saving thread, `saverTid`) (each pause has `start_ns`, `time_to_safepoint_ms`,
`awaited_thread` and `awaited_tid`: the thread the stop was still waiting for after its spin)
and a scheduler trace of the same run with call stacks:

    DOTNET_PerfMapEnabled=1 perf record -a -k CLOCK_MONOTONIC -F 4000 -g \\
        -e cpu-clock -e sched:sched_switch -e sched:sched_wakeup -o DATA -- RUNNER ... --json RUN.json
    perf script -i DATA -F comm,tid,cpu,time,event,trace,ip,sym,dso > DATA.txt
    pause_attribution.py DATA.txt RUN.json [min_pause_ms] [--summary]

For each pause longer than min_pause_ms (default 1.0) the script follows the awaited thread
through the time to safepoint [start, start + tts]:
  - running: its cpu-clock samples (every 250 us of CPU), with the innermost frames, i.e. the
    code that ran that long without reaching a poll;
  - off its CPU: each switch-out with its state (R = preempted, S/D = blocked), the kernel and
    user frames where it went off, who ran on that CPU meanwhile, and whether the other CPU
    was idle;
  - stretches in which its CPU took no cpu-clock sample at all (the vCPU not running);
  - when it parked (its last switch-out, asleep in the stop) and when the stopper it woke ran.
Each pause gets one verdict (the largest share of the time to safepoint):
  ran-without-poll, preempted, blocked, vcpu-gap, stopper-late, or unattributed.
"""
import bisect
import gzip
import json
import re
import sys
from collections import Counter, defaultdict

args = [a for a in sys.argv[1:] if not a.startswith("--")]
summary_only = "--summary" in sys.argv
run_json = next(a for a in args if a.endswith(".json"))
perf_files = [a for a in args if not a.endswith(".json") and not re.fullmatch(r"[\d.]+", a)]
nums = [a for a in args if re.fullmatch(r"[\d.]+", a)]
min_ms = float(nums[0]) if nums else 1.0
def opentext(path):
    return gzip.open(path, "rt", errors="replace") if path.endswith(".gz") else open(path, errors="replace")


have_ftrace = any(opentext(f).readline().startswith("# tracer") for f in perf_files)
SAMPLE_US = 250.0

head_re = re.compile(r"^\s*(.+?)\s+(\d+)\s+\[(\d+)\]\s+([\d.]+):\s+([\w:-]+):(.*)$")
frame_re = re.compile(r"^\s+([0-9a-f]+)\s+(.*?)\s+\((.*)\)\s*$")
ftrace_re = re.compile(r"^\s*(.+)-(\d+)\s+\[(\d+)\]\s+\S+\s+([\d.]+):\s+(sched_\w+|<stack trace>):?(.*)$")

events = []  # [time, kind, cpu, tid, comm, info, frames]
last_switch = {}
for path in perf_files:
    is_ftrace = opentext(path).readline().startswith("# tracer")
    cur = None
    for line in opentext(path):
        if is_ftrace:
            if line.startswith(" => "):
                if cur is not None and len(cur[6]) < 40 and not line.startswith((" => trace_event", " => __traceiter")):
                    cur[6].append(line[4:].strip())
                continue
            m = ftrace_re.match(line)
            if not m:
                continue
            comm, tid, cpu, t, ev, rest = m.group(1).strip(), int(m.group(2)), int(m.group(3)), float(m.group(4)), m.group(5), m.group(6)
            if ev == "<stack trace>":
                cur = last_switch.get(cpu)
                continue
            if ev == "sched_waking":
                ev = "sched_wakeup"  # the waker's context (a remote sched_wakeup runs on the target CPU)
            cur = [t, "sched:" + ev, cpu, tid, comm, " " + rest.strip(), []]
            events.append(cur)
            if ev == "sched_switch":
                last_switch[cpu] = cur
            continue
        if line[0] in " \t" and cur is not None:
            if line.strip() == "":
                continue
            if len(cur[6]) < 12:
                f = frame_re.match(line)
                if f:
                    sym, dso = f.group(2), f.group(3)
                    cur[6].append(sym if sym != "[unknown]" else f"?{dso.rsplit('/', 1)[-1]}")
            continue
        m = head_re.match(line)
        if m:
            ev = m.group(5)
            cur = [float(m.group(4)), ev, int(m.group(3)), int(m.group(2)), m.group(1), m.group(6), []]
            if ev == "cpu-clock" or not have_ftrace:
                events.append(cur)
events.sort(key=lambda e: e[0])
times = [e[0] for e in events]

samples_by_cpu = defaultdict(list)
for e in events:
    if e[1] == "cpu-clock":
        samples_by_cpu[e[2]].append(e[0])

BORING = ("__schedule", "schedule", "preempt_schedule", "irqentry_exit", "asm_sysvec", "sysvec_",
          "schedule_timeout", "do_syscall_64", "entry_SYSCALL", "futex_", "__futex", "__x64_sys_futex",
          "do_futex", "asm_common_interrupt", "common_interrupt", "__irq_exit", "irq_exit")


def frames_text(frames, n=5):
    keep = [f for f in frames if not f.startswith(BORING)]
    return " < ".join(keep[:n]) if keep else "(no frames)"


def window(a, b):
    i = bisect.bisect_left(times, a)
    j = bisect.bisect_right(times, b)
    return events[i:j]


def gaps(cpu, a, b, min_gap_us=1000.0):
    s = samples_by_cpu.get(cpu, [])
    i = bisect.bisect_left(s, a)
    prev = s[i - 1] if i > 0 else a
    out = []
    while i < len(s) and s[i] <= b + 0.002:
        if (s[i] - prev) * 1e6 >= min_gap_us and s[i] > a and prev < b:
            out.append((max(prev, a), min(s[i], b)))
        prev = s[i]
        i += 1
    return out


def follow(tid, s, e_tts, label):
    """The thread's time in [s, e_tts]: lines to print and a Counter of ms by state."""
    lines, share = [], Counter()
    is_me = lambda e: (e[3] == tid and e[1] != "sched:sched_switch") or (
        e[1] == "sched:sched_switch" and (f"prev_pid={tid} " in e[5] or f"next_pid={tid} " in e[5] + " ")) or (
        e[1] == "sched:sched_wakeup" and f" pid={tid} " in e[5] + " ")
    mine = [e for e in window(s, e_tts) if is_me(e)]
    before = [e for e in window(s - 2.0, s) if e[1] == "sched:sched_switch" and is_me(e)]
    off = None  # (time, state, cpu)
    running_since = None
    c0 = None
    if before:
        last = before[-1]
        c0 = last[2]
        if f"next_pid={tid} " in last[5] + " ":
            running_since = s
            lines.append(f"   {label}: running on cpu {c0} at the request")
        else:
            st = re.search(r"prev_state=(\S+)", last[5]).group(1)
            off = (s, st, c0)
            lines.append(f"   {label}: off cpu {c0} ({st}) since {(s - last[0]) * 1e3:.2f} ms before the request, at {frames_text(last[6])}")
    samples = Counter()
    for e in mine:
        rel = (e[0] - s) * 1e6
        if e[1] == "cpu-clock":
            samples[frames_text(e[6], 4)] += 1
        elif e[1] == "sched:sched_switch" and f"prev_pid={tid} " in e[5]:
            st = re.search(r"prev_state=(\S+)", e[5]).group(1)
            nxt = re.search(r"next_comm=(.*?) next_pid=(\d+)", e[5])
            if running_since is not None:
                share["running"] += (e[0] - running_since) * 1e3
            running_since = None
            off = (e[0], st, e[2])
            lines.append(f"   {label} +{rel:6.0f} us off cpu {e[2]} ({st}) -> {nxt.group(1)}/{nxt.group(2)}" + (f" at {frames_text(e[6])}" if e[6] else ""))
        elif e[1] == "sched:sched_switch":
            if off is not None:
                share["preempted" if off[1].startswith("R") else "blocked"] += (e[0] - off[0]) * 1e3
            off = None
            running_since = e[0]
            prev = re.search(r"prev_comm=(.*?) prev_pid=(\d+)", e[5])
            lines.append(f"   {label} +{rel:6.0f} us on cpu {e[2]} after {prev.group(1)}/{prev.group(2)}")
        elif e[1] == "sched:sched_wakeup" and f" pid={tid} " in e[5] + " ":
            lines.append(f"   {label} +{rel:6.0f} us woken by {e[4]}/{e[3]} (cpu {e[2]})")
        elif e[1] == "sched:sched_wakeup":
            who = re.search(r"comm=(.*?) pid=(\d+)", e[5])
            lines.append(f"   {label} +{rel:6.0f} us woke {who.group(1)}/{who.group(2)}")
    if running_since is not None:
        share["running"] += (e_tts - running_since) * 1e3
    if off is not None:
        share["preempted" if off[1].startswith("R") else "blocked"] += (e_tts - off[0]) * 1e3
    for fr, n in samples.most_common(3):
        lines.append(f"   {label} ran {n * SAMPLE_US:5.0f} us in {fr}")
    if c0 is not None:
        for a, b in gaps(c0, s, e_tts):
            share["vcpu-gap"] += (b - a) * 1e3
    return lines, share, c0


collector_counts = Counter(e[3] for e in events if e[1] == "cpu-clock" and e[4].startswith("GcHeap collecto"))
stopper = collector_counts.most_common(1)[0][0] if collector_counts else None
verdicts = Counter()
d = json.load(open(run_json))
if "rows" in d and "saverTid" in d:
    # The snapshot command's JSON: each save's pause, stopped by the saving (main) thread.
    stopper = d["saverTid"]
    d = {
        "workload": "snapshot", "threads": d.get("threads"), "verified": "(loaded and verified by the command)",
        "pauses_ms": [r["Stats"]["PauseMs"] for r in d["rows"]],
        "collections": [{
            "cycle": f"{r['Kind']} #{i}",
            "pause_steps": [],
            "pauses": [{
                "kind": "Snapshot", "ms": r["Stats"]["PauseMs"], "start_ns": r["Stats"].get("PauseStartTimestamp"),
                "time_to_safepoint_ms": r["Stats"]["TimeToSafepointMs"],
                "awaited_thread": r["Stats"].get("SafepointAwaitedThread"), "awaited_tid": r["Stats"].get("SafepointAwaitedOsThreadId"),
            }],
        } for i, r in enumerate(d["rows"])],
    }
print(f"# {run_json}: {d['workload']} {d.get('threads')} thread(s), {len(d['pauses_ms'])} pauses, verified {d['verified']}; stopper (collector thread) {stopper}")
for c in d["collections"]:
    for p in c["pauses"]:
        if p["ms"] < min_ms or not p.get("start_ns"):
            continue
        s = p["start_ns"] / 1e9
        tts = (p.get("time_to_safepoint_ms") or 0) / 1e3
        e_tts = s + max(tts, 1e-4)
        tid = p.get("awaited_tid")
        head = f"\n== cycle {c['cycle']} {p['kind']} {p['ms']:.2f} ms, time to safepoint {tts * 1e3:.2f} ms, awaited after the spin: {p.get('awaited_thread')} ({tid})"
        steps = [f"{x['kind'].split(': ', 1)[-1][:32]} {x['ms']:.2f}" for x in c["pause_steps"] if x["kind"].startswith(p["kind"]) and x["ms"] > 0.05]
        lines = [f"   steps over 0.05 ms: {steps}"]
        if tts * 1e3 < 0.5:
            # The time is inside the pause: follow the stopper (which does the pause's work) through it.
            share = Counter()
            if stopper:
                l2, sh2, _ = follow(stopper, s, s + p["ms"] / 1e3, "stopper")
                lines += l2
                share = Counter({f"inside-stopper-{k}": v for k, v in sh2.items()})
            verdict = "inside-stopper-running"
            for k in ("preempted", "blocked", "vcpu-gap"):
                if share.get(f"inside-stopper-{k}", 0) >= 0.3:
                    verdict = f"inside-stopper-{k}"
        else:
            share = Counter()
            if tid:
                l1, sh, _ = follow(tid, s, e_tts, "awaited")
                lines += l1
                share = Counter({f"mutator-{k}": v for k, v in sh.items()})
            if stopper:
                l2, sh2, _ = follow(stopper, s, e_tts, "stopper")
                lines += l2
                for k in ("preempted", "vcpu-gap"):
                    if sh2.get(k, 0) > 0:
                        share[f"stopper-{k}"] += sh2[k]
            for cpu in sorted(samples_by_cpu):
                occ = Counter()
                for e in window(s, e_tts):
                    if e[1] == "cpu-clock" and e[2] == cpu:
                        occ[f"{e[4]}/{e[3]}" if e[3] != 0 else "idle"] += 1
                if occ:
                    lines.append(f"   cpu {cpu} samples: " + ", ".join(f"{k} {v * SAMPLE_US:.0f} us" for k, v in occ.most_common(4)))
                for a, b in gaps(cpu, s, e_tts):
                    lines.append(f"   cpu {cpu} took no sample for {(b - a) * 1e3:.2f} ms from +{(a - s) * 1e6:.0f} us (vCPU not running)")
            # A vCPU gap is also counted as running/preempted by the guest: let it win when it covers half.
            verdict = share.most_common(1)[0][0] if share else "unattributed"
            for k in ("mutator-vcpu-gap", "stopper-vcpu-gap"):
                if share.get(k, 0) >= 0.5 * tts * 1e3:
                    verdict = k
        verdicts[verdict] += 1
        if not summary_only:
            print(head + f"  -> {verdict}: " + ", ".join(f"{k} {v:.2f} ms" for k, v in share.most_common()))
            print("\n".join(lines))
print("\nverdicts:", dict(verdicts))
