namespace GcHeap;

/// <summary>
/// What one <see cref="Heap.SaveSnapshot(Stream, SnapshotOptions?)"/> did: its pause, how its
/// pages were protected and saved, and what it wrote. Every figure is measured by the code that
/// did the work (native counters for the saver thread).
/// </summary>
public sealed record SnapshotStats
{
    /// <summary>True when mutators ran while the pages were saved (write-protect); false when every page was copied inside the pause (see <see cref="FallbackReason"/>).</summary>
    public bool Live { get; init; }

    /// <summary>True for an increment: only the pages written or allocated since the previous snapshot of the chain were saved (<see cref="PagesInImage"/>).</summary>
    public bool Incremental { get; init; }

    /// <summary>Why a requested increment was saved as a full snapshot (no tracked previous snapshot, or a collection ran since); null otherwise.</summary>
    public string? IncrementalFallbackReason { get; init; }

    /// <summary>This snapshot's id; an increment names its parent's (<see cref="ParentId"/>).</summary>
    public ulong Id { get; init; }

    /// <summary>The id of the snapshot an increment applies to; 0 for a full snapshot.</summary>
    public ulong ParentId { get; init; }

    /// <summary>Pages whose contents are in this file: every page of a full snapshot, the written and new pages of an increment.</summary>
    public long PagesInImage { get; init; }

    /// <summary>Increments: pages written between the previous snapshot's pause and this one's pre-copy.</summary>
    public long PagesWrittenSincePrevious { get; init; }

    /// <summary>Tracking: first writes to pages already saved (or unchanged since the previous snapshot), each one fault.</summary>
    public long TrackedWrites { get; init; }

    /// <summary>Why the snapshot was not live (the kernel lacks write-protect of unpopulated pages, or it was disabled); null when live.</summary>
    public string? FallbackReason { get; init; }

    /// <summary>The snapshot's pause: from asking threads to stop until they were released, as the collector measures its pauses (time to safepoint included).</summary>
    public double PauseMs { get; init; }

    /// <summary>Of the pause, the time the stop waited for threads to reach a safepoint.</summary>
    public double TimeToSafepointMs { get; init; }

    /// <summary>The thread(s) the pause's stop waited for last, once its short spin was over (null when every thread stopped within it), as <see cref="CollectionStats.SafepointAwaitedThread"/>.</summary>
    public string? SafepointAwaitedThread { get; init; }

    /// <summary>The kernel's thread id (gettid) of the first thread in <see cref="SafepointAwaitedThread"/>; 0 when none.</summary>
    public int SafepointAwaitedOsThreadId { get; init; }

    /// <summary>
    /// <see cref="System.Diagnostics.Stopwatch.GetTimestamp"/> when the pause's stop was requested (on
    /// Linux CLOCK_MONOTONIC nanoseconds), as <see cref="PauseRecord.StartTimestamp"/>: to line the
    /// pause up with a scheduler trace.
    /// </summary>
    public long PauseStartTimestamp { get; init; }

    /// <summary>Of the pause, from the world stopped until the roots, types and page table were captured (the freeze included); the rest of the pause is stopping and resuming the threads.</summary>
    public double FreezeAndCaptureMs { get; init; }

    /// <summary>.NET collections that ran during the pause (any thread's allocation can start one; the pause then includes it).</summary>
    public int NetGcsDuringPause { get; init; }

    /// <summary>How long .NET's own collections of <see cref="NetGcsDuringPause"/> kept the process's threads suspended (<see cref="GC.GetTotalPauseDuration"/>): a stop cannot finish while .NET holds the threads it waits for.</summary>
    public double NetGcPauseMsDuringPause { get; init; }

    /// <summary>Of the pause, the native freeze: re-protecting pages written since the pre-copy and protecting pages allocated since (or copying every page without write-protect).</summary>
    public double FreezeMs { get; init; }

    /// <summary>Time spent write-protecting the heap in slices before the pause, while mutators ran.</summary>
    public double ProtectMs { get; init; }

    /// <summary>Pages write-protected before the pause.</summary>
    public long PagesProtected { get; init; }

    /// <summary>Pre-copy rounds that re-protected pages written since they were protected (before the pause).</summary>
    public long PrecopyRounds { get; init; }

    /// <summary>Pages written during the pre-copy (each a write fault the saver thread resolved at once).</summary>
    public long PrecopyFaults { get; init; }

    /// <summary>
    /// Writes to a page written during the pre-copy that a round had protected again because it lay
    /// in the gap of a run the round joined into one ioctl: unprotected again at once (it was saved
    /// or will be), counted once in <see cref="PrecopyFaults"/>.
    /// </summary>
    public long PrecopyRefaults { get; init; }

    /// <summary>
    /// Pages written since the last pre-copy round that the pause copied as they were into its pool (up to
    /// <see cref="SnapshotOptions.PauseCopyPages"/>) instead of protecting them again: saved, and
    /// writable again at once. The image's pages are
    /// <see cref="PagesSavedInBackground"/> + <see cref="PagesSavedByFault"/> + this.
    /// </summary>
    public long DirtyPagesCopiedInPause { get; init; }

    /// <summary>Time inside the pause spent on <see cref="DirtyPagesCopiedInPause"/> and <see cref="NewPagesCopiedInPause"/>, ms.</summary>
    public double DirtyCopyInPauseMs { get; init; }

    /// <summary>Pages re-protected inside the pause (written during the last pre-copy round).</summary>
    public long PagesReprotectedInPause { get; init; }

    /// <summary>
    /// Pages allocated since the last pre-copy round, copied inside the pause (about a microsecond
    /// each) rather than write-protected there: a protect ioctl, even of one page, cost 0.02-2.8 ms
    /// of a pause on the project's VM. Only what does not fit the pool (<see cref="SnapshotOptions.PauseCopyPages"/>) is protected.
    /// </summary>
    public long NewPagesCopiedInPause { get; init; }

    /// <summary>Stops of the world tried for the pause (<see cref="SnapshotOptions.StopBudget"/>); 1 when the first one completed.</summary>
    public int StopAttempts { get; init; }

    /// <summary>
    /// The longest stop given up before the pause, from its request to the release of the threads it
    /// had stopped, ms (0 when none was): those threads were held that long, like a pause.
    /// </summary>
    public double AbandonedStopMaxMs { get; init; }

    /// <summary>Pages allocated since the last pre-copy round that did not fit the pause's pool, protected inside the pause.</summary>
    public long PagesProtectedInPause { get; init; }

    /// <summary>Pages in the snapshot (the allocation space below its high-water mark at the pause).</summary>
    public long Pages { get; init; }

    /// <summary>Pages saved in order by the saver thread.</summary>
    public long PagesSavedInBackground { get; init; }

    /// <summary>Pages saved early because a thread wrote to them before the saver got there (its write waited for the save).</summary>
    public long PagesSavedByFault { get; init; }

    /// <summary>Pages copied inside the pause (snapshots without write-protect).</summary>
    public long PagesCopiedInPause { get; init; }

    /// <summary>Write-protect faults the saver thread read, in every phase.</summary>
    public long WriteFaults { get; init; }

    /// <summary>Pages written to the stream as all-zero markers (no data).</summary>
    public long ZeroPages { get; init; }

    /// <summary>Global roots saved.</summary>
    public int Roots { get; init; }

    /// <summary>Types saved (including the two built-in array types).</summary>
    public int Types { get; init; }

    /// <summary>Bytes written to the stream.</summary>
    public long BytesWritten { get; init; }

    /// <summary>From the end of the pause until the last page was written (mutators running).</summary>
    public double WriteMs { get; init; }

    /// <summary>The whole call, from holding off collections to the last byte.</summary>
    public double TotalMs { get; init; }

    /// <summary>Bytes written per second of <see cref="WriteMs"/>.</summary>
    public double BytesPerSecond => WriteMs > 0 ? BytesWritten / (WriteMs / 1000.0) : 0;

    /// <inheritdoc />
    public override string ToString() =>
        string.Create(System.Globalization.CultureInfo.InvariantCulture,
            $"{(Incremental ? "increment" : "snapshot")} ({(Live ? "live" : "copied in the pause: " + FallbackReason)}): {PagesInImage} pages in the image, pause {PauseMs:F3} ms (stop {TimeToSafepointMs:F3}{(SafepointAwaitedThread is null ? "" : $" waiting last for {SafepointAwaitedThread}")}, freeze+capture {FreezeAndCaptureMs:F3}, freeze {FreezeMs:F3}, .NET GCs {NetGcsDuringPause}{(NetGcsDuringPause > 0 ? $" pausing {NetGcPauseMsDuringPause:F3} ms" : "")}{(StopAttempts > 1 ? $", {StopAttempts} stops tried, the longest given up {AbandonedStopMaxMs:F3} ms" : "")}), protect {ProtectMs:F1} ms before it in {PrecopyRounds} rounds; " +
            $"in the pause {DirtyPagesCopiedInPause} written and {NewPagesCopiedInPause} new pages copied ({DirtyCopyInPauseMs:F3} ms), {PagesReprotectedInPause} protected again, {PagesProtectedInPause} protected; " +
            $"{Pages} pages ({PagesSavedInBackground} background, {PagesSavedByFault} by fault, {PagesCopiedInPause} in the pause, {ZeroPages} zero), " +
            $"{WriteFaults} write faults ({PrecopyFaults} pre-copy), {Roots} roots, {Types} types, {BytesWritten} bytes in {WriteMs:F1} ms");
}
