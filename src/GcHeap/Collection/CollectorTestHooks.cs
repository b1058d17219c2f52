namespace GcHeap.Collection;

/// <summary>
/// Seams that let tests stage races deterministically instead of hoping for them. Null / false
/// in normal use; every hook runs on the collector thread while mutators run.
/// </summary>
internal sealed class CollectorTestHooks
{
    /// <summary>Called once concurrent marking has started (world resumed, barrier on).</summary>
    public Action? AfterMarkStart { get; set; }

    /// <summary>Called right before the flip pause of a concurrent cycle (marking and planning done, to-space registered).</summary>
    public Action? BeforeFlip { get; set; }

    /// <summary>Called after a stop for the flip was given up (<see cref="HeapOptions.FlipStopBudget"/>), with the number of attempts so far.</summary>
    public Action<int>? FlipStopGivenUp { get; set; }

    /// <summary>Called right after the flip pause of a concurrent cycle, while the native compactor runs (before the collector waits for it).</summary>
    public Action? AfterFlip { get; set; }

    /// <summary>Called after each object the concurrent marker scans, with the count so far.</summary>
    public Action<long>? AfterScan { get; set; }

    /// <summary>Called after each round of mark-end handshakes, with the round number and how many objects it marked (0 ends marking).</summary>
    public Action<int, long>? AfterMarkEndRound { get; set; }

    /// <summary>With <see cref="HeapOptions.MarkEndHandshake"/> off: called after the soft handshake before the mark-end pause, with how many running mutators were asked to publish their barrier logs and how many answered.</summary>
    public Action<int, int>? AfterSoftHandshake { get; set; }

    /// <summary>How long the soft handshake waits for answers before leaving the rest to the mark-end pause.</summary>
    public TimeSpan SoftHandshakeTimeout { get; set; } = TimeSpan.FromMilliseconds(5);

    /// <summary>Ends marking after the first round of mark-end handshakes whatever it found: a negative control that must lose objects a later round would have kept.</summary>
    public bool SingleMarkEndRound { get; set; }

    /// <summary>With mark start by handshake: called after the barrier round and the global roots, before the round in which threads grey their handles.</summary>
    public Action? BeforeMarkStartRoots { get; set; }

    /// <summary>With mark start by handshake: called each time the second round checks for answers, after the marker has drained what it has (global roots first).</summary>
    public Action? WhileMarkStartRootsWait { get; set; }

    /// <summary>Keeps the barrier to its old-value half (no shading of stored values) even with mark start by handshake: a negative control that must lose objects.</summary>
    public bool DisableShadingNewValues { get; set; }

    /// <summary>Leaves the SATB write barrier off during concurrent marking: a negative control that must lose objects.</summary>
    public bool DisableWriteBarrier { get; set; }
}
