import json,sys
for f in sys.argv[1:]:
    d=json.load(open(f))
    print(f, 'maxLive',d['maxLivePauseMs'],'median',d['medianLivePauseMs'],'wholeProtect',round(d['wholeHeapProtectMs'],1))
    for r in d['rows']:
        s=r['Stats']
        if r['Kind'] in ('copy in pause','protect in pause'): continue
        print('  %-12s pause %7.3f stop %6.3f freeze %6.3f rounds %2d left %4d new %3d copyms %.3f attempts %d abandonedMax %.3f awaited %s' % (r['Kind'][:12], s['PauseMs'], s['TimeToSafepointMs'], s['FreezeMs'], s['PrecopyRounds'], s['DirtyPagesCopiedInPause']+s['PagesReprotectedInPause'], s['NewPagesCopiedInPause'], s['DirtyCopyInPauseMs'], s['StopAttempts'], s['AbandonedStopMaxMs'], s['SafepointAwaitedThread']))
