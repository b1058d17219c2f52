#!/usr/bin/env python3
"""Capture time inside the pause (freeze+capture minus freeze) and pauses, per mode, from the JSON files of a directory."""
import glob, json, os, statistics, sys
d = sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.abspath(__file__))
res = {}
for f in sorted(glob.glob(os.path.join(d, '*.json'))):
    mode = os.path.basename(f).split('-')[0]
    for r in json.load(open(f))['rows']:
        if r['Kind'] != 'live':
            continue
        st = r['Stats']
        res.setdefault(mode, []).append((st['FreezeAndCaptureMs'] - st['FreezeMs'], st['PauseMs'], st['TimeToSafepointMs']))
print('| mode | live pauses | capture ms median | capture ms max | pause ms median | pause ms max | stop ms max |')
print('|---|---:|---:|---:|---:|---:|---:|')
for m, v in sorted(res.items()):
    c = [x[0] for x in v]; p = [x[1] for x in v]; s = [x[2] for x in v]
    print(f'| {m} | {len(v)} | {statistics.median(c):.3f} | {max(c):.3f} | {statistics.median(p):.2f} | {max(p):.2f} | {max(s):.2f} |')
