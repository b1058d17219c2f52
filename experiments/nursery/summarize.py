"""Medians of experiments/nursery/measure.sh runs: elapsed, ratio to .NET, pauses, nursery use."""
import glob, json, os, statistics, sys
out = sys.argv[1]
runs = {}
for f in sorted(glob.glob(os.path.join(out, '*.json'))):
    name, label, _ = os.path.basename(f)[:-5].rsplit('-', 2)
    runs.setdefault((name, label), []).append(json.load(open(f)))
for name in sorted({n for n, _ in runs}):
    base = statistics.median(d['elapsed_ms'] for d in runs[(name, 'dotnet')])
    print(f'{name}: .NET median {base:.0f} ms')
    for label in ['default', 'nursery16', 'nursery32', 'off', 'dotnet']:
        ds = runs.get((name, label))
        if not ds:
            continue
        el = [d['elapsed_ms'] for d in ds]
        line = f'  {label:10} elapsed {", ".join(f"{e:.0f}" for e in el)} ms, median {statistics.median(el):.0f} ({statistics.median(el) / base:.2f}x .NET)'
        if label != 'dotnet':
            cs = [c for d in ds for c in d['collections']]
            line += (f'; max pause {max(d["max_pause_ms"] for d in ds):.2f} ms, p99 {statistics.median(d["p99_pause_ms"] for d in ds):.2f}'
                     f', verified {all(d["verified"] for d in ds)}, collections {statistics.median(d["gc_count"] for d in ds):.0f}'
                     f', nursery pages reused {sum(c["nursery_pages_reused"] for c in cs) // len(ds)}, black {sum(c["pages_black"] for c in cs) // len(ds)}'
                     f' (copied from the nursery {sum(c["pages_nursery_copied"] for c in cs) // len(ds)}), zero-copy {sum(c["pages_zero_copy"] for c in cs) / max(1, sum(c["pages_installed"] for c in cs)):.1%}'
                     f', RSS peak {statistics.median(d["rss_peak_bytes"] for d in ds) / 2**20:.0f} MiB')
        else:
            line += f'; max pause {max(d["max_pause_ms"] for d in ds):.1f} ms, RSS peak {statistics.median(d["rss_peak_bytes"] for d in ds) / 2**20:.0f} MiB'
        print(line)
