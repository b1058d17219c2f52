namespace GcHeap.Collection;

/// <summary>
/// Seams that let tests stage races deterministically instead of hoping for them. Null / false
/// in normal use; every hook runs on the collector thread while mutators run.
/// </summary>
internal sealed class CollectorTestHooks
{
    /// <summary>Called once concurrent marking has started (world resumed, barrier on).</summary>
    public Action? AfterMarkStart { get; set; }

    /// <summary>Called after each object the concurrent marker scans, with the count so far.</summary>
    public Action<long>? AfterScan { get; set; }

    /// <summary>Leaves the SATB write barrier off during concurrent marking: a negative control that must lose objects.</summary>
    public bool DisableWriteBarrier { get; set; }
}
