import re,sys,collections
tot=collections.Counter()
for i in sys.argv[1:]:
    txt=f'/tmp/pa{i}.txt'
    lines=open(txt).read().splitlines()
    evs=[]
    for l in lines:
        m=re.search(r'^\s*(.+?)\s+(\d+)\s+\[(\d+)\]\s+(\d+\.\d+):\s+sched:sched_switch: prev_comm=(.+?) prev_pid=(\d+) prev_prio=(\d+) prev_state=(\S+) ==> next_comm=(.+?) next_pid=(\d+)',l)
        if m: evs.append((float(m.group(4)),int(m.group(3)),m.group(5),int(m.group(6)),m.group(8),m.group(9),int(m.group(10))))
    for m in re.finditer(r'DBGPAUSE (\w+) start_ns=(\d+) end_ns=(\d+) tts=([\d.]+) ms=([\d.]+)',open(f'/tmp/pa{i}.err').read()):
        s=int(m.group(2))/1e9; e=int(m.group(3))/1e9
        print(f'== run {i} {m.group(1)} {m.group(5)} ms tts {m.group(4)}')
        # who was on each CPU during [s,e]
        for cpu in (0,1):
            cur=None; occ=collections.Counter(); last=s
            # find state at s
            prior=[x for x in evs if x[1]==cpu and x[0]<=s]
            cur=prior[-1][5]+'/'+str(prior[-1][6]) if prior else '?'
            for x in evs:
                if x[1]!=cpu or x[0]<=s: continue
                if x[0]>e: break
                occ[cur]+= (x[0]-last)*1e6; last=x[0]; cur=x[5]+'/'+str(x[6])
            occ[cur]+=(e-last)*1e6
            print('   cpu',cpu, ', '.join(f'{k}:{v:.0f}us' for k,v in occ.most_common()))
            for k,v in occ.items(): tot[re.sub(r'/\d+','',k)]+=v
print('TOTAL', ', '.join(f'{k}:{v:.0f}us' for k,v in tot.most_common()))
