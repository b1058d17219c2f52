#!/usr/bin/env python3
"""Tables of the live snapshots in the snapshot runner's JSON files of this directory.
Usage: report.py DIR  (files named MODE-1024-tT-rR.json)."""
import glob, json, os, re, statistics, sys

d = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
rows = {}
for f in sorted(glob.glob(os.path.join(d, '*.json'))):
    m = re.match(r'(\w+)-(\d+)-t(\d)-r(\d)\.json', os.path.basename(f))
    if not m:
        continue
    mode, live, t, r = m.groups()
    data = json.load(open(f))
    whole = None
    for row in data['rows']:
        st = row['Stats']
        if row['Kind'] == 'protect in pause':
            whole = st['FreezeMs']
        if row['Kind'] != 'live':
            continue
        rows.setdefault((mode, live, t), []).append(dict(st, r=r, whole=whole))

print('| mode | live MiB | mutators | live pauses | pause ms (each) | median | max | stop max | freeze max | pages copied in pause max | re-protected in pause max | over 2 ms |')
print('|---|---:|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|')
for (mode, live, t), v in sorted(rows.items(), key=lambda kv: (int(kv[0][1]), kv[0][2], kv[0][0] != 'before')):
    p = [x['PauseMs'] for x in v]
    print(f"| {mode} | {live} | {t} | {len(v)} | {', '.join(f'{x:.2f}' for x in p)} | {statistics.median(p):.2f} | {max(p):.2f} | "
          f"{max(x['TimeToSafepointMs'] for x in v):.2f} | {max(x['FreezeMs'] for x in v):.2f} | "
          f"{max(x.get('DirtyPagesCopiedInPause', 0) for x in v)} | {max(x['PagesReprotectedInPause'] for x in v)} | {sum(x > 2 for x in p)} |")
print()
print('| mode | live MiB | mutators | whole-heap protect in a pause, ms (per run) | median pause / whole-heap protect | max pause / whole-heap protect |')
print('|---|---:|---:|---|---:|---:|')
for (mode, live, t), v in sorted(rows.items(), key=lambda kv: (int(kv[0][1]), kv[0][2], kv[0][0] != 'before')):
    w = sorted({(x['r'], x['whole']) for x in v})
    ratios = [x['PauseMs'] / x['whole'] for x in v]
    print(f"| {mode} | {live} | {t} | {', '.join(f'{x[1]:.1f}' for x in w)} | {statistics.median(ratios):.3f} | {max(ratios):.3f} |")
