namespace GcHeap;

/// <summary>Options of <see cref="Heap.SaveSnapshot(Stream, SnapshotOptions?)"/>.</summary>
public sealed class SnapshotOptions
{
    /// <summary>
    /// Names for some of the heap's global roots, found again by name after
    /// <see cref="Heap.LoadSnapshot(Stream, HeapOptions?)"/> (<see cref="LoadedSnapshot.Root(string)"/>).
    /// Every global root is saved whether named or not; roots are also reachable by index.
    /// </summary>
    public IReadOnlyDictionary<string, GcRoot>? RootNames { get; init; }

    /// <summary>
    /// Keep recording which pages are written after this snapshot, so that
    /// <see cref="Heap.SaveIncrementalSnapshot(Stream, SnapshotOptions?)"/> can save only those.
    /// The price: the first write to each page after a snapshot waits for one write-protect
    /// fault served by the native saver thread (tens of microseconds here), until the next
    /// collection, which ends the chain (every object moves). Needs live snapshots.
    /// </summary>
    public bool TrackChanges { get; init; }

    /// <summary>
    /// Copy every page inside the pause instead of saving them while mutators run (what kernels
    /// without write-protect of unpopulated pages get); for comparisons and tests.
    /// </summary>
    public bool CopyInPause { get; init; }

    /// <summary>
    /// Write-protect the whole heap inside the pause instead of before it (no pre-copy): the pause
    /// then grows with the heap. For comparisons: what a snapshot without pre-copy would cost.
    /// </summary>
    public bool ProtectInPause { get; init; }

    /// <summary>How many pages the background save may run ahead of the stream (staging memory: 4 KiB each). Default 4,096 (16 MiB).</summary>
    public int WindowPages { get; init; } = 4096;

    /// <summary>Protect slices before the pause, in pages (each one UFFDIO_WRITEPROTECT call). Default 16,384 (64 MiB).</summary>
    public int ProtectSlicePages { get; init; } = 16384;

    /// <summary>Pre-copy re-protect rounds stop once at most this many pages were written or allocated while a round ran (what the pause would be left with). Default 64.</summary>
    public int PrecopyConvergedPages { get; init; } = 64;

    /// <summary>
    /// Pre-copy re-protect rounds before the pause, unless they converge first
    /// (<see cref="PrecopyConvergedPages"/>). After this many, rounds go on (at most as many again)
    /// only while more than <see cref="PrecopyMaxLeftPages"/> pages would be left for the pause. Default 8.
    /// </summary>
    public int MaxPrecopyRounds { get; init; } = 8;

    /// <summary>
    /// The most pages written during the last pre-copy round that the pause is left to copy before
    /// the rounds stop on <see cref="MaxPrecopyRounds"/>: with more, up to as many rounds again run
    /// first. Default 512 (about half a millisecond of copying in the pause on the project's VM).
    /// </summary>
    public int PrecopyMaxLeftPages { get; init; } = 512;

    /// <summary>
    /// Pages written since the last pre-copy round that the pause copies (about half a microsecond
    /// each, into a pool of this many slots touched when the saver is created) instead of protecting
    /// them again (an ioctl and a TLB flush, tens of microseconds per scattered page); pages beyond
    /// this many are protected again. 0 protects them all again. Default 4,096 (a 16 MiB pool); never
    /// more than the allocation space's pages.
    /// </summary>
    public int PauseCopyPages { get; init; } = 4096;

    /// <summary>
    /// A stop of the world for the snapshot's pause that is not complete within this long is given
    /// up (the threads already stopped go on) and tried again a few milliseconds later, up to
    /// <see cref="MaxStopAttempts"/> times; the last attempt waits as long as
    /// <see cref="HeapOptions.SafepointTimeout"/>. A snapshot's moment does not matter, so no thread
    /// is held longer than this while another thread cannot reach its safepoint (its CPU taken by
    /// the host or another task). <see cref="Timeout.InfiniteTimeSpan"/>: one attempt. Default 1 ms.
    /// </summary>
    public TimeSpan StopBudget { get; init; } = TimeSpan.FromMilliseconds(1);

    /// <summary>Stops tried for the pause, the last without <see cref="StopBudget"/>. Default 50.</summary>
    public int MaxStopAttempts { get; init; } = 50;

    internal void Validate()
    {
        if (StopBudget != Timeout.InfiniteTimeSpan && StopBudget <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(StopBudget), StopBudget, "The stop budget must be positive or Timeout.InfiniteTimeSpan.");
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(MaxStopAttempts, 1, nameof(MaxStopAttempts));
        ArgumentOutOfRangeException.ThrowIfLessThan(WindowPages, 64, nameof(WindowPages));
        ArgumentOutOfRangeException.ThrowIfLessThan(ProtectSlicePages, 1, nameof(ProtectSlicePages));
        ArgumentOutOfRangeException.ThrowIfNegative(PrecopyConvergedPages, nameof(PrecopyConvergedPages));
        ArgumentOutOfRangeException.ThrowIfNegative(MaxPrecopyRounds, nameof(MaxPrecopyRounds));
        ArgumentOutOfRangeException.ThrowIfNegative(PrecopyMaxLeftPages, nameof(PrecopyMaxLeftPages));
        ArgumentOutOfRangeException.ThrowIfNegative(PauseCopyPages, nameof(PauseCopyPages));
        if (RootNames is not null)
        {
            foreach (var (name, root) in RootNames)
            {
                ArgumentException.ThrowIfNullOrEmpty(name, nameof(RootNames));
                ArgumentNullException.ThrowIfNull(root, nameof(RootNames));
            }
        }
    }
}
