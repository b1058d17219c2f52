namespace GcHeap.Snapshots;

/// <summary>Seams for tests that stage a snapshot's races. Null in normal use.</summary>
internal sealed class SnapshotTestHooks
{
    /// <summary>Called inside the snapshot's pause, after the pages were frozen and the roots captured (world stopped).</summary>
    public Action? InPause { get; set; }

    /// <summary>Called before each pre-copy round, with its number (mutators running, the space protected).</summary>
    public Action<int>? BeforeRound { get; set; }

    /// <summary>Called between the two steps of a pre-copy round: its list is taken, its pages not yet protected again.</summary>
    public Action<int>? RoundTaken { get; set; }

    /// <summary>Called after a stop for the pause was given up (its budget ran out), with the number of attempts so far.</summary>
    public Action<int>? StopAbandoned { get; set; }

    /// <summary>Called after the pause, before the first page is written (mutators running, pages protected).</summary>
    public Action? AfterPause { get; set; }

    /// <summary>Called after each block of pages is written, with the pages written so far.</summary>
    public Action<long>? AfterBlock { get; set; }
}
