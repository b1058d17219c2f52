import json,sys,glob
for f in sorted(glob.glob(sys.argv[1])):
    d=json.load(open(f))
    for c in d['cases']:
        rs=c['collection_records']
        print(f.split('/')[-1], 'build %.0f'%c['build_ms'], 'compact mean %.0f'%c['compact_ms_mean'], 'GB/s %.2f'%c['collector_throughput_gb_s'], 'ops/s %.0f'%(c['mutator_operations']/c['mutator_seconds']), 'stall p50 %.0f p99 %.0f'%(c['fault_stall_us_p50'],c['fault_stall_us_p99']),
          '| per cycle compact', [round(r['compact_ms']) for r in rs], 'build', [round(r['build_ms']) for r in rs], 'move',[round(r['move_ms']) for r in rs], 'pmd', [r.get('pages_pmd_moved') for r in rs])
