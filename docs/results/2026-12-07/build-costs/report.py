import json,glob,sys
d0=sys.argv[1]
print('| run | live MiB | backend | compaction ms (mean) | collector CPU ms (mean) | throughput GB/s | % of memcpy | build us/page | verified |')
print('|---|---:|---|---:|---:|---:|---:|---:|---|')
for f in sorted(glob.glob(d0+'/*.json')):
    d=json.load(open(f))
    for c in d['cases']:
        rs=c.get('collection_records') or []
        b=sum(r.get('build_ms',0) or 0 for r in rs); pg=sum(r.get('pages_installed',0) or 0 for r in rs)
        bp=f"{b*1000/pg:.2f}" if pg else '-'
        print(f"| {f.split('/')[-1][:-5]} | {c['live_mb']} | {c['backend']} | {c['compact_ms_mean']:.0f} | {c['collector_cpu_ms_mean']:.0f} | {c['collector_throughput_gb_s']:.2f} | {100*(c['throughput_of_memcpy'] or 0):.1f} | {bp} | {c['verified']} |")
    print(f"| {f.split('/')[-1][:-5]} | ratios | {json.dumps(d['ratios'])[:200]} | memcpy {d['memcpy_gb_s']:.1f} GB/s |||||")
