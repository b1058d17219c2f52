#!/usr/bin/env python3
"""Medians of the fast-path measurement (measure.sh) and their ratios to .NET, per workload."""
import glob, json, os, statistics, sys

out = sys.argv[1]
rows = {}
for f in sorted(glob.glob(os.path.join(out, "*.json"))):
    base = os.path.basename(f)[:-5]
    workload, label, _round = base.rsplit("-", 2) if base.count("-") >= 2 else (base, "", "")
    if label == "noprefault":  # views-noprefault splits one dash further
        workload, label = workload.rsplit("-", 1)[0], "views-noprefault"
    d = json.load(open(f))
    rows.setdefault(workload, {}).setdefault(label, []).append(d)

def med(runs, key):
    vals = [r[key] for r in runs if r.get(key) is not None]
    return statistics.median(vals) if vals else None

for workload, labels in rows.items():
    print(f"== {workload}")
    dn = med(labels.get("dotnet", []), "elapsed_ms")
    for label in ("views", "handles", "views-noprefault", "dotnet"):
        runs = labels.get(label)
        if not runs:
            continue
        e = med(runs, "elapsed_ms")
        ratio = f"{e / dn:.2f}x" if dn else "-"
        verified = all(r.get("verified") in (True, None) for r in runs)
        extra = ""
        if label != "dotnet":
            extra = (f"  gc {med(runs, 'gc_count'):.0f}  max pause {med(runs, 'max_pause_ms'):.2f} ms  p99 {med(runs, 'p99_pause_ms'):.2f} ms"
                     f"  collector cpu {med(runs, 'collector_cpu_ms'):.0f} ms  prefault {med(runs, 'prefault_pages') or 0:.0f} pages")
        else:
            extra = f"  max pause {med(runs, 'max_pause_ms'):.2f} ms"
        wm = [r.get("workload_metrics", {}) for r in runs]
        rate = [m.get("allocation_rate_mb_s") for m in wm if m.get("allocation_rate_mb_s")]
        if rate:
            extra += f"  alloc {statistics.median(rate):.0f} MB/s"
        print(f"  {label:17s} elapsed {e:9.1f} ms (median of {len(runs)})  vs dotnet {ratio}{extra}  verified={verified}")
