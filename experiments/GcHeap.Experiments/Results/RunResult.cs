namespace GcHeap.Experiments.Results;

/// <summary>
/// The JSON result of one workload run. Every figure was measured in that run; a field that was
/// not measured (for example userfaultfd counters on the stop-the-world backend or on .NET) is null.
/// </summary>
internal sealed class RunResult
{
    public int SchemaVersion { get; set; } = 1;

    public string Workload { get; set; } = "";

    /// <summary>The backend asked for on the command line: move, copy, stw or dotnet.</summary>
    public string Backend { get; set; } = "";

    /// <summary>The GcHeap backend that actually ran (Move, Copy, StopTheWorld); null for dotnet.</summary>
    public string? GcheapBackend { get; set; }

    public string? BackendReason { get; set; }

    public string? UffdOpenMethod { get; set; }

    public int Threads { get; set; }

    public int Seed { get; set; }

    public double? SecondsRequested { get; set; }

    public long? LiveBytesRequested { get; set; }

    public long? HeapLimitBytes { get; set; }

    public bool VerifyEachCollection { get; set; }

    public Dictionary<string, object?> Parameters { get; set; } = [];

    /// <summary>Why the run has no figures (it failed), or null.</summary>
    public string? Error { get; set; }

    /// <summary>Bytes reachable at the end of the work (see notes for how each backend measures it).</summary>
    public long? LiveBytes { get; set; }

    public double ElapsedMs { get; set; }

    /// <summary>Methods the JIT compiled during the work (every thread: tier-0, tier-1, OSR), and the time it spent (JitInfo).</summary>
    public long? JitMethods { get; set; }

    /// <summary>See <see cref="JitMethods"/>, in milliseconds.</summary>
    public double? JitMs { get; set; }

    /// <summary>
    /// GcHeap runs: .NET's own collections of this process during the work, gen0/gen1/gen2 (each
    /// counted in its generation and the younger ones, as GC.CollectionCount), and how long they
    /// held the process's threads (GC.GetTotalPauseDuration): mutator time GcHeap's pauses do not show.
    /// </summary>
    public int[]? DotnetGcsDuringWork { get; set; }

    /// <summary>See <see cref="DotnetGcsDuringWork"/>: their pauses in milliseconds.</summary>
    public double? DotnetGcPauseMsDuringWork { get; set; }

    /// <summary>With --log-dotnet-gcs: each .NET collection of the process (whole run, the warm-up included), and sampled large allocations.</summary>
    public IReadOnlyList<Harness.DotnetGcLog.Entry>? DotnetGcLog { get; set; }

    /// <summary>See <see cref="DotnetGcLog"/>.</summary>
    public IReadOnlyList<Harness.DotnetGcLog.LargeAllocation>? DotnetLargeAllocations { get; set; }

    public int GcCount { get; set; }

    /// <summary>Every pause of the run, in order, in milliseconds.</summary>
    public List<double> PausesMs { get; set; } = [];

    /// <summary>The kind of each entry of <see cref="PausesMs"/> (GcHeap pause kinds, or "dotnet").</summary>
    public List<string> PauseKinds { get; set; } = [];

    public double? TotalPauseMs { get; set; }

    public double? MaxPauseMs { get; set; }

    /// <summary>Time to safepoint of each entry of <see cref="PausesMs"/> (GcHeap only; empty for dotnet).</summary>
    public List<double> PauseTimeToSafepointMs { get; set; } = [];

    /// <summary>The longest time to safepoint of the run (GcHeap only).</summary>
    public double? MaxTimeToSafepointMs { get; set; }

    /// <summary>Handshakes of the run (GcHeap only): how many, and the longest time one thread spent answering one.</summary>
    public int? Handshakes { get; set; }

    /// <summary>The longest any one thread was held by a handshake (GcHeap only), in milliseconds.</summary>
    public double? MaxHandshakeHeldMs { get; set; }

    /// <summary>The longest pause minus its time to safepoint: the most work done inside one pause (GcHeap only).</summary>
    public double? MaxPauseInsideMs { get; set; }

    /// <summary>Pauses whose last arriving thread handed its CPU to the sleeping stopper (PauseRecord.StopperHandoff; GcHeap only).</summary>
    public int? StopperHandoffs { get; set; }

    /// <summary>Stops for a flip given up after HeapOptions.FlipStopBudget and tried again, and the longest of them in ms (GcHeap only).</summary>
    public int? FlipStopsGivenUp { get; set; }

    /// <summary>The longest given-up stop of the run, from request to release, ms (GcHeap only).</summary>
    public double? LongestGivenUpStopMs { get; set; }

    /// <summary>
    /// With --trace-suspensions: the .NET runtime's own suspensions during the run (count, total and
    /// by reason) and, for each GcHeap pause of at least 0.5 ms, how much of it the runtime was
    /// suspended or its tiered-compilation worker was compiling. Null otherwise.
    /// </summary>
    public RuntimeSuspensionSummary? RuntimeSuspensions { get; set; }

    public double? P50PauseMs { get; set; }

    public double? P99PauseMs { get; set; }

    /// <summary>Largest flip pause (the full pause for StopTheWorld); null for dotnet.</summary>
    public double? MaxFlipPauseMs { get; set; }

    public long? RssPeakBytes { get; set; }

    public long? RssAfterBytes { get; set; }

    /// <summary>Heap.ResidentBytes (mincore of both spaces) at the end of the work.</summary>
    public long? HeapResidentBytes { get; set; }

    /// <summary>Heap.Verify() at the end of the work: IsValid. Null for dotnet.</summary>
    public bool? Verified { get; set; }

    public string? VerifierReport { get; set; }

    public long? PagesMoved { get; set; }

    public long? PagesZeroCopy { get; set; }

    /// <summary>pages_moved / pages_installed: the share of pages installed by UFFDIO_MOVE.</summary>
    public double? ZeroCopyShare { get; set; }

    public long? PagesCopied { get; set; }

    public long? PagesCompacted { get; set; }

    public long? EbusyFallbacks { get; set; }

    public long? Ioctls { get; set; }

    public long? FaultsServed { get; set; }

    public double? FaultStallUsP50 { get; set; }

    public double? FaultStallUsP99 { get; set; }

    public double? FaultStallUsMax { get; set; }

    /// <summary>Sum of CompactMs over collections (null for dotnet).</summary>
    public double? CollectorMs { get; set; }

    /// <summary>Sum of CollectorCpuMs over collections (null for dotnet).</summary>
    public double? CollectorCpuMs { get; set; }

    /// <summary>Pages the allocation prefault thread populated ahead of the mutators (Heap.AllocationPrefault; null when off or dotnet).</summary>
    public long? PrefaultPages { get; set; }

    /// <summary>Time the prefault thread spent populating, off the mutators' threads (null when off or dotnet).</summary>
    public double? PrefaultBusyMs { get; set; }

    public Dictionary<string, object?> WorkloadMetrics { get; set; } = [];

    /// <summary>For dotnet: .NET's pauses measured from outside (EventPipe) and inside the process.</summary>
    public DotnetGcMeasurements? Dotnet { get; set; }

    public MachineInfo Machine { get; set; } = new();

    public List<string> Notes { get; set; } = [];

    public List<CollectionRecord> Collections { get; set; } = [];
}

/// <summary>.NET GC pauses of a dotnet-backend run, measured two ways, and whether they agree.</summary>
internal sealed class DotnetGcMeasurements
{
    public ExternalGcPauses? External { get; set; }

    public InProcessGcPauses? InProcess { get; set; }

    /// <summary>External total pause minus in-process total, relative to the in-process total, in percent.</summary>
    public double? TotalDifferencePercent { get; set; }

    /// <summary>True when both saw the same number of GCs and their totals differ by at most <see cref="AgreementTolerancePercent"/> (or 0.5 ms).</summary>
    public bool? Agree { get; set; }

    public double AgreementTolerancePercent { get; set; } = 5;
}

/// <summary>Pauses from an EventPipe session on the child process (GCSuspendEEStart to GCRestartEEStop).</summary>
internal sealed class ExternalGcPauses
{
    public string Method { get; set; } = "";

    public int GcCount { get; set; }

    public List<double> PausesMs { get; set; } = [];

    public List<int> PauseGcIndex { get; set; } = [];

    public List<int> PauseGenerations { get; set; } = [];

    /// <summary>The SuspendEE reason of each pause (SuspendForGC, SuspendForGCPrep, ...).</summary>
    public List<string> PauseSuspendReasons { get; set; } = [];

    public double TotalPauseMs { get; set; }

    public int PausesExcludedAfterCutoff { get; set; }

    public int EventsSeen { get; set; }
}

/// <summary>What the runtime reports about its own pauses inside the process.</summary>
internal sealed class InProcessGcPauses
{
    public string Method { get; set; } = "";

    public double TotalPauseMs { get; set; }

    public int GcCount { get; set; }

    public int Gen0Count { get; set; }

    public int Gen1Count { get; set; }

    public int Gen2Count { get; set; }

    /// <summary>GC.CollectionCount(0) when the work ended: GCs with a higher index happened after it.</summary>
    public int GcIndexAtEnd { get; set; }

    public double? LastGcPauseMs { get; set; }

    public double? PauseTimePercentage { get; set; }

    public long? TotalAllocatedBytes { get; set; }
}

/// <summary>What <see cref="Harness.RuntimeSuspensionTrace"/> saw during a run.</summary>
internal sealed class RuntimeSuspensionSummary
{
    public int Count { get; set; }

    public double TotalMs { get; set; }

    public double MaxMs { get; set; }

    public Dictionary<string, int> ByReason { get; set; } = [];

    /// <summary>GcHeap pauses of at least 0.5 ms, with the runtime's suspended time and tier-1 JIT time inside each.</summary>
    public List<PauseOverlapRecord> Pauses { get; set; } = [];
}

/// <summary>One GcHeap pause and the runtime's activity inside it.</summary>
internal sealed record PauseOverlapRecord(string Kind, double Ms, double RuntimeSuspendedMs, string SuspendReasons, double TierJitMs);
