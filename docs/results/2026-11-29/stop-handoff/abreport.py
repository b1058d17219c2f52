import json,sys,os
d0=sys.argv[1]; modes=sys.argv[2].split(',')
ws=[('bt','binary-trees --depth 18'),('gcbench','gcbench'),('gcperfsim','gcperfsim --live-mb 256 --seconds 20'),('frag-t1','fragment --live-mb 1024 --seconds 30'),('frag-t2','fragment --live-mb 1024 --threads 2 --seconds 30')]
print('| workload | mode | pauses per run | pauses > 1 ms (3 runs) | of which TTS > 1 ms | max pause per run, ms | p99 per run, ms | max TTS per run, ms | elapsed median, ms | verified | flip stops given up (longest ms) |')
print('|---|---|---|---|---|---|---|---|---|---|---|')
for w,name in ws:
  for m in modes:
    rs=[]
    for r in (1,2,3):
      f=f'{d0}/{w}-{m}-{r}.json'
      if os.path.exists(f): rs.append(json.load(open(f)))
    if not rs: continue
    n=[len(d['pauses_ms']) for d in rs]
    over=sum(sum(p>1 for p in d['pauses_ms']) for d in rs)
    tts=sum(sum(1 for p,t in zip(d['pauses_ms'],d['pause_time_to_safepoint_ms']) if p>1 and t>1) for d in rs)
    mx=' / '.join(f"{d['max_pause_ms']:.2f}" for d in rs)
    p99=' / '.join(f"{d['p99_pause_ms']:.2f}" for d in rs)
    mt=' / '.join(f"{d['max_time_to_safepoint_ms']:.2f}" for d in rs)
    el=sorted(d['elapsed_ms'] for d in rs)[len(rs)//2]
    ver=all(d['verified'] for d in rs)
    gu=sum(d.get('flip_stops_given_up') or 0 for d in rs); gl=max((d.get('longest_given_up_stop_ms') or 0) for d in rs)  # fields since af1d239
    print(f"| `{name}` | {m} | {' / '.join(map(str,n))} | {over} | {tts} | {mx} | {p99} | {mt} | {el:.0f} | {ver} | {gu} ({gl:.2f}) |")
