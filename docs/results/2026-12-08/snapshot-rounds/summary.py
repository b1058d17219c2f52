#!/usr/bin/env python3
"""One line per save of `snapshot` command JSON files: summary.py FILES...
Columns appear as the runs have them: new pages copied (d19a1da on), stop attempts (4f0ab44 on)."""
import json, sys
for f in sys.argv[1:]:
    d = json.load(open(f))
    print(f, 'maxLive', d['maxLivePauseMs'], 'median', d['medianLivePauseMs'], 'wholeProtect', round(d['wholeHeapProtectMs'], 1))
    for r in d['rows']:
        s = r['Stats']
        if r['Kind'] in ('copy in pause', 'protect in pause'):
            continue
        line = '  %-12s pause %7.3f stop %6.3f freeze %6.3f rounds %2d left %4d' % (
            r['Kind'][:12], s['PauseMs'], s['TimeToSafepointMs'], s['FreezeMs'], s['PrecopyRounds'],
            s['DirtyPagesCopiedInPause'] + s['PagesReprotectedInPause'])
        if 'NewPagesCopiedInPause' in s:
            line += ' new %3d' % s['NewPagesCopiedInPause']
        line += ' copyms %.3f' % s['DirtyCopyInPauseMs']
        if 'StopAttempts' in s:
            line += ' attempts %d abandonedMax %.3f' % (s['StopAttempts'], s['AbandonedStopMaxMs'])
        print(line + ' awaited %s' % s['SafepointAwaitedThread'])
