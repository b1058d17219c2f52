namespace GcHeap.Experiments.Results;

/// <summary>One pause of a GcHeap collection.</summary>
internal sealed record PauseEntry(string Kind, double Ms, double? TimeToSafepointMs = null, bool? StopperHandoff = null, long? StartNs = null, string? AwaitedThread = null, int? AwaitedTid = null);

/// <summary>One handshake of a GcHeap collection: the collector's wait, the threads asked, answered for by the collector, and the longest any thread was held.</summary>
internal sealed record HandshakeEntry(string Kind, double Ms, int Threads, int DoneByCollector, int Unanswered, double MaxHeldMs);

/// <summary>Every figure of one GcHeap collection, copied from its <see cref="CollectionStats"/>.</summary>
internal sealed class CollectionRecord
{
    public long Cycle { get; init; }

    public string Backend { get; init; } = "";

    public string Reason { get; init; } = "";

    public bool ConcurrentMarking { get; init; }

    public IReadOnlyList<PauseEntry> Pauses { get; init; } = [];

    /// <summary>Where the pause time went (CollectionStats.PauseSteps): the stop handshake, each step, the resume.</summary>
    public IReadOnlyList<PauseEntry> PauseSteps { get; init; } = [];

    public double FlipPauseMs { get; init; }

    /// <summary>Stops for the flip given up after HeapOptions.FlipStopBudget and tried again.</summary>
    public int FlipStopsGivenUp { get; init; }

    /// <summary>The longest of those, from request to the release of the threads it had parked, ms.</summary>
    public double LongestGivenUpStopMs { get; init; }

    public double MaxPauseMs { get; init; }

    public double TotalPauseMs { get; init; }

    public double CycleMs { get; init; }

    public double MarkMs { get; init; }

    public double PlanMs { get; init; }

    public double CompactMs { get; init; }

    public double CollectorCpuMs { get; init; }

    /// <summary>BytesMoved / CompactMs, in GB/s (10^9 bytes); null when nothing was compacted.</summary>
    public double? CollectorThroughputGbS { get; init; }

    public long HeapBytesBefore { get; init; }

    public long HeapBytesAfter { get; init; }

    public long LiveBytes { get; init; }

    public long LiveObjects { get; init; }

    public long BytesMoved { get; init; }

    public long BytesPacked { get; init; }

    public long PagesEmpty { get; init; }

    public long PagesDense { get; init; }

    public long PagesSparse { get; init; }

    public long PagesLarge { get; init; }

    public long PagesBlack { get; init; }

    public long PagesInstalled { get; init; }

    public long PagesWhole { get; init; }

    public long PagesCompacted { get; init; }

    public long PagesZeroCopy { get; init; }

    public long PagesCopied { get; init; }

    public long PagesZeroFilled { get; init; }

    public long EbusyFallbacks { get; init; }

    public long Eexist { get; init; }

    public long EagainRetries { get; init; }

    /// <summary>Non-cooperative uffd events read during the compaction (fork, madvise, munmap, mremap of to-space).</summary>
    public UffdEventCounts? UffdEvents { get; init; }

    public long Ioctls { get; init; }

    public long MoveIoctls { get; init; }

    public long CopyIoctls { get; init; }

    public long FaultsServed { get; init; }

    public long FaultsOnPending { get; init; }

    public long PagesMoved { get; init; }

    public long PagesContinued { get; init; }

    public long ContinueIoctls { get; init; }

    public long PagesWholeCopied { get; init; }

    public long FaultsMinor { get; init; }

    public double ContinueMs { get; init; }

    public double ZeroCopyShare { get; init; }

    public long RunsMoved { get; init; }

    public long PagesBridged { get; init; }

    public long PagesPackedShortRuns { get; init; }

    public long PagesPmdMoved { get; init; }

    public double PmdMovedShare { get; init; }

    public long HugeBlocksMoved { get; init; }

    public long HugeBlocksPlanned { get; init; }

    public long PagesHoles { get; init; }

    public long NurseryPagesReused { get; init; }

    public long PagesNurseryCopied { get; init; }

    public long MovesMisreported { get; init; }

    public double InPlaceShare { get; init; }

    public long FaultsOnClaimed { get; init; }

    public int CompactorThreads { get; init; }

    public double BuildMs { get; init; }

    public double MoveMs { get; init; }

    public double CopyMs { get; init; }

    public double FaultServiceMs { get; init; }

    public double ReleaseMs { get; init; }

    public double PopulateMs { get; init; }

    public long BuffersFresh { get; init; }

    public long RefsFixed { get; init; }

    public double FaultStallUsP50 { get; init; }

    public double FaultStallUsP99 { get; init; }

    public double FaultStallUsMax { get; init; }

    public int FaultStallSamples { get; init; }

    /// <summary>Every stall of the collection in nanoseconds (HeapOptions.RecordFaultStallSamples); not written to JSON.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public IReadOnlyList<long> FaultStallSamplesNs { get; init; } = [];

    /// <summary>Every handshake of the collection (mark-start and mark-end rounds), in order.</summary>
    public List<HandshakeEntry> Handshakes { get; init; } = [];

    public bool Verified { get; init; }

    /// <summary>A Stopwatch timestamp as CLOCK_MONOTONIC nanoseconds (what perf -k CLOCK_MONOTONIC prints); null when unset.</summary>
    private static long? MonotonicNs(long timestamp) =>
        timestamp == 0 ? null : (long)(timestamp * (1_000_000_000.0 / System.Diagnostics.Stopwatch.Frequency));

    public static CollectionRecord From(CollectionStats s) => new()
    {
        Cycle = s.Cycle,
        Backend = s.Backend.ToString(),
        Reason = s.Reason.ToString(),
        ConcurrentMarking = s.ConcurrentMarking,
        Pauses = [.. s.Pauses.Select(p => new PauseEntry(p.Kind.ToString(), p.Milliseconds, p.TimeToSafepointMs, p.StopperHandoff, MonotonicNs(p.StartTimestamp), p.AwaitedThread, p.AwaitedOsThreadId == 0 ? null : p.AwaitedOsThreadId))],
        PauseSteps = [.. s.PauseSteps.Select(p => new PauseEntry(p.Step, p.Milliseconds))],
        Handshakes = [.. s.Handshakes.Select(h => new HandshakeEntry(h.Kind.ToString(), h.Milliseconds, h.Threads, h.DoneByCollector, h.Unanswered, h.MaxHeldMs))],
        FlipPauseMs = s.FlipPauseMs,
        FlipStopsGivenUp = s.FlipStopsGivenUp,
        LongestGivenUpStopMs = s.LongestGivenUpStopMs,
        MaxPauseMs = s.MaxPauseMs,
        TotalPauseMs = s.TotalPauseMs,
        CycleMs = s.CycleMs,
        MarkMs = s.MarkMs,
        PlanMs = s.PlanMs,
        CompactMs = s.CompactMs,
        CollectorCpuMs = s.CollectorCpuMs,
        CollectorThroughputGbS = s.CompactMs > 0 && s.BytesMoved > 0 ? s.BytesMoved / (s.CompactMs * 1e6) : null,
        HeapBytesBefore = s.HeapBytesBefore,
        HeapBytesAfter = s.HeapBytesAfter,
        LiveBytes = s.LiveBytes,
        LiveObjects = s.LiveObjects,
        BytesMoved = s.BytesMoved,
        BytesPacked = s.BytesPacked,
        PagesEmpty = s.PagesEmpty,
        PagesDense = s.PagesDense,
        PagesSparse = s.PagesSparse,
        PagesLarge = s.PagesLarge,
        PagesBlack = s.PagesBlack,
        PagesInstalled = s.PagesInstalled,
        PagesWhole = s.PagesWhole,
        PagesCompacted = s.PagesCompacted,
        PagesZeroCopy = s.PagesZeroCopy,
        PagesCopied = s.PagesCopied,
        PagesZeroFilled = s.PagesZeroFilled,
        EbusyFallbacks = s.EbusyFallbacks,
        Eexist = s.Eexist,
        EagainRetries = s.EagainRetries,
        UffdEvents = s.Events,
        Ioctls = s.Ioctls,
        MoveIoctls = s.MoveIoctls,
        CopyIoctls = s.CopyIoctls,
        FaultsServed = s.FaultsServed,
        FaultsOnPending = s.FaultsOnPending,
        PagesMoved = s.PagesMoved,
        PagesContinued = s.PagesContinued,
        ContinueIoctls = s.ContinueIoctls,
        PagesWholeCopied = s.PagesWholeCopied,
        FaultsMinor = s.FaultsMinor,
        ContinueMs = s.ContinueMs,
        ZeroCopyShare = s.ZeroCopyShare,
        RunsMoved = s.RunsMoved,
        PagesBridged = s.PagesBridged,
        PagesPackedShortRuns = s.PagesPackedShortRuns,
        PagesPmdMoved = s.PagesPmdMoved,
        PmdMovedShare = s.PmdMovedShare,
        HugeBlocksMoved = s.HugeBlocksMoved,
        HugeBlocksPlanned = s.HugeBlocksPlanned,
        PagesHoles = s.PagesHoles,
        NurseryPagesReused = s.NurseryPagesReused,
        PagesNurseryCopied = s.PagesNurseryCopied,
        MovesMisreported = s.MovesMisreported,
        InPlaceShare = s.InPlaceShare,
        FaultsOnClaimed = s.FaultsOnClaimed,
        CompactorThreads = s.CompactorThreads,
        BuildMs = s.BuildMs,
        MoveMs = s.MoveMs,
        CopyMs = s.CopyMs,
        FaultServiceMs = s.FaultServiceMs,
        ReleaseMs = s.ReleaseMs,
        PopulateMs = s.PopulateMs,
        BuffersFresh = s.BuffersFresh,
        RefsFixed = s.RefsFixed,
        FaultStallUsP50 = s.FaultStallP50Us,
        FaultStallUsP99 = s.FaultStallP99Us,
        FaultStallUsMax = s.FaultStallMaxUs,
        FaultStallSamples = s.FaultStallSamples,
        FaultStallSamplesNs = s.FaultStallSamplesNs,
        Verified = s.Verified,
    };
}
