using System.Runtime.CompilerServices;

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

    private nint[] _satb = [];
    private int _satbCount;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void WriteReference(nint* slot, nint value)
    {
        if (BarrierActive)
        {
            LogOverwritten(*slot);
        }

        *slot = value;
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

        if (_satbCount == _satb.Length)
        {
            FlushSatb();
        }

        _satb[_satbCount++] = old;
    }

    /// <summary>Publishes this mutator's SATB buffer to the marker. Called by the mutator, or by the collector with the world stopped.</summary>
    internal void FlushSatb()
    {
        if (_satbCount > 0)
        {
            _heap.Collector.Satb.Publish(_satb, _satbCount);
            _satb = _heap.Collector.Satb.Rent();
            _satbCount = 0;
        }
    }

    /// <summary>Drops this mutator's unpublished log (the owner is stopped, or it is the owner): its addresses may be stale after a flip.</summary>
    internal void DiscardSatb() => _satbCount = 0;

    private void InitSatb() => _satb = _heap.Collector.Satb.Rent();
}
