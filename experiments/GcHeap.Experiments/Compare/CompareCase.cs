using GcHeap.Experiments.Results;

namespace GcHeap.Experiments.Compare;

/// <summary>What one (live size, backend) case of the comparison measured.</summary>
internal sealed class CompareCase
{
    public int LiveMb { get; set; }

    public string Backend { get; set; } = "";

    public string? GcheapBackend { get; set; }

    public string? BackendReason { get; set; }

    /// <summary>Why the case has no figures (for example a collection that failed), or null.</summary>
    public string? Error { get; set; }

    public long? LiveBytes { get; set; }

    public long? BytesBuilt { get; set; }

    public double? BuildMs { get; set; }

    public long? HeapBytesBefore { get; set; }

    public long? HeapBytesAfter { get; set; }

    public int Collections { get; set; }

    public double? FlipPauseMsMax { get; set; }

    public double? FlipPauseMsMean { get; set; }

    public double? MaxPauseMs { get; set; }

    public List<double> PausesMs { get; set; } = [];

    public List<string> PauseKinds { get; set; } = [];

    /// <summary>Mean CompactMs per collection (compaction wall time).</summary>
    public double? CompactMsMean { get; set; }

    public double? CompactMsTotal { get; set; }

    /// <summary>Mean CollectorCpuMs per collection.</summary>
    public double? CollectorCpuMsMean { get; set; }

    public double? CollectorCpuMsTotal { get; set; }

    /// <summary>Sum of BytesMoved / sum of CompactMs, in GB/s (10^9 bytes per second).</summary>
    public double? CollectorThroughputGbS { get; set; }

    public long? BytesMoved { get; set; }

    /// <summary>CollectorThroughputGbS / the run's memcpy bandwidth (CompareReport.MemcpyGbS).</summary>
    public double? ThroughputOfMemcpy { get; set; }

    public double? FaultStallUsP50 { get; set; }

    public double? FaultStallUsP99 { get; set; }

    public double? FaultStallUsMax { get; set; }

    public long? FaultsServed { get; set; }

    public long? PagesZeroCopy { get; set; }

    public double? ZeroCopyShare { get; set; }

    public long? PagesCopied { get; set; }

    public long? PagesCompacted { get; set; }

    public long? PagesMoved { get; set; }

    public long? EbusyFallbacks { get; set; }

    public long? Ioctls { get; set; }

    public long? RssPeakBytes { get; set; }

    public long? RssAfterBytes { get; set; }

    /// <summary>RssShmem after the collections (/proc/self/status): the Continue backend's memfd pages.</summary>
    public long? RssShmemAfterBytes { get; set; }

    /// <summary>HugetlbPages after the collections (/proc/self/status): 2 MiB pages mapped, which RSS does not count.</summary>
    public long? HugetlbAfterBytes { get; set; }

    /// <summary>RssAnon after the collections (/proc/self/status).</summary>
    public long? RssAnonAfterBytes { get; set; }

    /// <summary>PSS after the collections (/proc/self/smaps_rollup).</summary>
    public long? PssAfterBytes { get; set; }

    /// <summary>RSS when the case started (after a full .NET GC, before the heap existed): cases share one process, so what a case added is the difference.</summary>
    public long? RssBeforeBytes { get; set; }

    /// <summary>RssShmem when the case started.</summary>
    public long? RssShmemBeforeBytes { get; set; }

    /// <summary>PSS when the case started.</summary>
    public long? PssBeforeBytes { get; set; }

    /// <summary>Continue: pages installed by UFFDIO_CONTINUE (summed over collections).</summary>
    public long? PagesContinued { get; set; }

    /// <summary>Continue: whole pages copied once into the collector view while building.</summary>
    public long? PagesWholeCopied { get; set; }

    public long? HeapResidentBytes { get; set; }

    public bool? Verified { get; set; }

    public long MutatorOperations { get; set; }

    public double MutatorSeconds { get; set; }

    public long DataErrors { get; set; }

    /// <summary>For dotnet: GC.GetTotalPauseDuration over the measured phase (every GC, not only the forced ones).</summary>
    public double? DotnetTotalPauseMs { get; set; }

    public int? DotnetGcCount { get; set; }

    public List<CollectionRecord> CollectionRecords { get; set; } = [];
}
