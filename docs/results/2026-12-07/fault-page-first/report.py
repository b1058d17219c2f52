"""report.py DIR: one line per run of fragment JSON files (zero-copy share, fault stall p50/p99/max
in us, faults served, collector ms, compaction us per installed page, mutator ops/s, max pause ms)."""
import json, glob, sys
d0 = sys.argv[1] if len(sys.argv) > 1 else '.'
print('| run | zero-copy | stall p50 us | p99 us | max us | faults | collector ms | compaction us/page | mutator ops/s | max pause ms |')
print('|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|')
for f in sorted(glob.glob(d0 + '/*.json')):
    d = json.load(open(f))
    cs = d['collections']
    cm = sum(c['compact_ms'] for c in cs)
    pg = sum(c['pages_installed'] for c in cs)
    ops = d['workload_metrics'].get('mutator_ops_per_second', 0)
    print(f"| {f.split('/')[-1][:-5]} | {d['zero_copy_share']:.3f} | {d['fault_stall_us_p50']:.0f} | {d['fault_stall_us_p99']:.0f} | "
          f"{d['fault_stall_us_max']:.0f} | {d['faults_served']} | {d['collector_ms']:.0f} | {cm * 1000 / pg:.2f} | {ops:,.0f} | {d['max_pause_ms']:.2f} |")
