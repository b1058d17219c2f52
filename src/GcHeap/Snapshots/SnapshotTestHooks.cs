namespace GcHeap.Snapshots;

/// <summary>Seams for tests that stage a snapshot's races. Null in normal use.</summary>
internal sealed class SnapshotTestHooks
{
    /// <summary>Called inside the snapshot's pause, after the pages were frozen and the roots captured (world stopped).</summary>
    public Action? InPause { get; set; }

    /// <summary>Called after the pause, before the first page is written (mutators running, pages protected).</summary>
    public Action? AfterPause { get; set; }

    /// <summary>Called after each block of pages is written, with the pages written so far.</summary>
    public Action<long>? AfterBlock { get; set; }
}
