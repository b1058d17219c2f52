using System.Runtime.CompilerServices;
using GcHeap.Collection;
using GcHeap.Marking;

namespace GcHeap;

// The write barrier: the single place every reference store goes through.
// While concurrent marking runs it logs the value being overwritten (Yuasa's
// snapshot-at-the-beginning barrier), so nothing reachable when marking started is lost when
// a mutator moves the only reference to an object from one field to another. When marking is
// off it costs one load of a field of this mutator and a predictable branch.
public sealed unsafe partial class Mutator
{
    /// <summary>
    /// On while concurrent marking runs. Turned on by the collector with the world stopped (mark
    /// start); turned off without a stop once marking is complete: a mutator that still sees it on
    /// only logs values nobody reads (the flip discards every log).
    /// </summary>
    internal bool BarrierActive;

    /// <summary>
    /// With <see cref="BarrierActive"/>: also log the value being stored (Go's hybrid barrier:
    /// Yuasa's deletion barrier plus Dijkstra's insertion barrier). On while marking runs when mark
    /// start is a handshake (<see cref="HeapOptions.MarkStartHandshake"/>): threads' handles are
    /// then greyed one thread at a time and never rescanned, so a reference a scanned thread
    /// stores must be shaded too (docs/design.md section 7).
    /// </summary>
    internal bool BarrierShadesNew;

    // The thread's log buffer (native, SatbQueue.BufferSize entries, owned by the heap's queue).
    private nint* _satb;
    private int _satbCount;

    [MethodImpl(HotPath.Inline)]
    internal void WriteReference(nint* slot, nint value)
    {
        if (BarrierActive)
        {
            LogStore(*slot, value);
        }

        *slot = value;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void LogStore(nint old, nint value)
    {
        LogOverwritten(old);
        if (BarrierShadesNew)
        {
            LogOverwritten(value);
        }
    }

    /// <summary>The barrier for values stored into a new object or by a bulk store: while marking runs with the hybrid barrier, logs every non-null value stored.</summary>
    private void LogStoredRange(ReadOnlySpan<nint> values)
    {
        if (!BarrierActive || !BarrierShadesNew)
        {
            return;
        }

        foreach (nint v in values)
        {
            LogOverwritten(v);
        }
    }

    /// <summary>Like <see cref="LogStoredRange"/>, for one value (a fill, an initial reference).</summary>
    private void LogStored(nint value)
    {
        if (BarrierActive && BarrierShadesNew)
        {
            LogOverwritten(value);
        }
    }

    /// <summary>
    /// Mark start by handshake: logs every local handle of this thread (its roots) and publishes
    /// the log, so the marker greys them. Run by the thread at its poll, or for it by the
    /// coordinator while it cannot run.
    /// </summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    internal void LogLocalRoots()
    {
        for (int i = _segmentBase; i < _top; i++)
        {
            LogOverwritten(_slots[i]);
        }

        FlushSatb();
    }

    /// <summary>The barrier for a bulk store: while marking runs, logs every non-null value about to be overwritten.</summary>
    private void LogOverwrittenRange(ReadOnlySpan<nint> slots)
    {
        if (!BarrierActive)
        {
            return;
        }

        foreach (nint old in slots)
        {
            LogOverwritten(old);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void LogOverwritten(nint old)
    {
        if (old == 0)
        {
            return;
        }

        if (_satbCount == SatbQueue.BufferSize)
        {
            FlushSatb();
        }

        _satb[_satbCount++] = old;
    }

    /// <summary>Publishes this mutator's SATB buffer to the marker. Called by the mutator, or by the collector with the world stopped.</summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    internal void FlushSatb()
    {
        if (_satbCount > 0)
        {
            _heap.Collector.Satb.Publish(_satb, _satbCount);
            _satb = _heap.Collector.Satb.Rent();
            _satbCount = 0;
        }
    }

    /// <summary>
    /// Detaching: hands the log to the marker (while the heap lives) and keeps no buffer. A
    /// detached mutator runs no barrier (every call throws first).
    /// </summary>
    internal void ReleaseSatb()
    {
        var queue = _heap.Collector.Satb;
        if (_satb != null)
        {
            if (_satbCount > 0 && !_heap.Safepoints.Terminated)
            {
                queue.Publish(_satb, _satbCount);
            }
            else
            {
                queue.Return(_satb);
            }

            _satb = null;
        }

        _satbCount = 0;
    }

    /// <summary>Drops this mutator's unpublished log (the owner is stopped, or it is the owner): its addresses may be stale after a flip.</summary>
    internal void DiscardSatb() => _satbCount = 0;

    private void InitSatb() => _satb = _heap.Collector.Satb.Rent();
}
