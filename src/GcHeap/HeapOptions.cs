namespace GcHeap;

/// <summary>Configuration of a <see cref="Heap"/>. Every property has a sensible default.</summary>
public sealed class HeapOptions
{
    /// <summary>The heap limit in bytes (rounded up to pages). Default 256 MiB. Address space of twice this is reserved.</summary>
    public long MaxHeapBytes { get; set; } = 256L << 20;

    /// <summary>The compaction backend wanted. Default <see cref="GcBackend.Move"/>; see <see cref="RequireBackend"/>.</summary>
    public GcBackend Backend { get; set; } = GcBackend.Move;

    /// <summary>
    /// When false (default) a backend the kernel cannot run falls back (Move, then Copy, then
    /// StopTheWorld) and <see cref="Heap.BackendReason"/> says why; when true the constructor throws
    /// <see cref="GcBackendUnavailableException"/> instead.
    /// </summary>
    public bool RequireBackend { get; set; }

    /// <summary>Mark concurrently with the mutators (Move and Copy backends). Default true; false marks inside the flip pause.</summary>
    public bool ConcurrentMarking { get; set; } = true;

    /// <summary>
    /// A page with at least this fraction of live bytes moves whole (zero copy with Move) instead
    /// of being packed. Default 0.75. 0 moves every non-empty page whole; above 1 packs every page.
    /// </summary>
    public double DensePageThreshold { get; set; } = 0.75;

    /// <summary>Most pages per UFFDIO_MOVE / UFFDIO_COPY ioctl. Default 64.</summary>
    public int BatchPages { get; set; } = 64;

    /// <summary>
    /// Move backend: install a page a mutator is faulting on with UFFDIO_COPY, which fills an
    /// empty PTE without a TLB shootdown, while background runs keep using UFFDIO_MOVE. A
    /// single-page MOVE must flush the TLB of every CPU running the process (measured here:
    /// median fault stall 36 us with MOVE, 26 us with COPY). Default true.
    /// </summary>
    public bool CopyFaultedPages { get; set; } = true;

    /// <summary>
    /// Move backend: runs of fewer pages than this are installed with UFFDIO_COPY instead of
    /// UFFDIO_MOVE. Every MOVE ioctl shoots down the TLB of each CPU running the process, which
    /// costs far more than copying a few pages while mutators run (measured on the fragment
    /// workload with one mutator: 512 ms with every run moved, 314 ms from 16 pages up). Default 16;
    /// 1 moves every run.
    /// </summary>
    public int MinMovePages { get; set; } = 16;

    /// <summary>
    /// From-space pages installed by UFFDIO_COPY are given back in batches: the native collector
    /// releases the finished prefix of from-space with one MADV_DONTNEED every this many to-space
    /// pages, instead of one per installed run (each call also shoots down TLBs). Bounds the extra
    /// memory to about this many pages. Default 512; 0 releases after every run.
    /// </summary>
    public int SourceReleaseChunkPages { get; set; } = 512;

    /// <summary>
    /// Move backend: build compacted pages in already-consumed from-space pages instead of a private
    /// ring of buffer pages. Default false: with batched source release those pages are often
    /// given back already, and being scattered they break runs (measured without mutators on a
    /// 256 MiB fragment heap: 144-151 ms of compaction without recycling, 170-177 ms with it).
    /// </summary>
    public bool RecycleFromSpacePages { get; set; }

    /// <summary>
    /// Run collections in the background when enough has been allocated (see
    /// <see cref="CollectionTriggerBytes"/>). Default true. Collections also run on
    /// <see cref="Heap.Collect"/> and when an allocation finds the heap full.
    /// </summary>
    public bool BackgroundCollection { get; set; } = true;

    /// <summary>Bytes allocated since the last collection that start a background one. 0 (default): automatic.</summary>
    public long CollectionTriggerBytes { get; set; }

    /// <summary>Verify the heap after every collection (and the object graph across the flip). Slow; on in tests.</summary>
    public bool VerifyHeap { get; set; }

    /// <summary>
    /// MADV_DONTFORK the heap's spaces (default true), so a child process (for example from
    /// Process.Start) does not share heap pages copy-on-write, which would make UFFDIO_MOVE answer
    /// EBUSY for them until the parent writes them.
    /// </summary>
    public bool DontForkHeap { get; set; } = true;

    /// <summary>
    /// Nice value of the native compactor threads (-20..19). Default -5: a mutator waiting in a
    /// fault depends on them, so they get more CPU weight than running mutators. Lowering needs
    /// CAP_SYS_NICE (root has it); without it the threads keep the process's priority.
    /// </summary>
    public int CollectorThreadNice { get; set; } = -5;

    /// <summary>Ways of opening a userfaultfd that may be tried. Default all (full mode first).</summary>
    public UffdOpenMethods UffdOpenMethods { get; set; } = UffdOpenMethods.All;

    /// <summary>Kernel features to treat as missing, to exercise fallbacks on purpose.</summary>
    public KernelFeatures DisabledKernelFeatures { get; set; }

    /// <summary>Log2 of the local handles one thread may hold (and of global roots). Default 18 (262,144).</summary>
    public int HandlesPerSegmentLog2 { get; set; } = 18;

    /// <summary>Fault stall samples kept per collection for percentiles. Default 65,536.</summary>
    public int StallSampleCapacity { get; set; } = 1 << 16;

    /// <summary>
    /// Keep every fault stall sample in <see cref="CollectionStats.FaultStallSamplesNs"/> (up to
    /// <see cref="StallSampleCapacity"/> per collection), so run-wide percentiles can be computed
    /// exactly. Default false (only per-collection percentiles).
    /// </summary>
    public bool RecordFaultStallSamples { get; set; }

    /// <summary>Collections kept in <see cref="Heap.History"/>. Default 256.</summary>
    public int HistoryLength { get; set; } = 256;

    /// <summary>
    /// Experiments and tests: the native collector waits this long after each page it builds in
    /// the background (faults are still served at once), so mutators touch many pages that are not
    /// there yet. 0 (default) for real use.
    /// </summary>
    internal int SweepDelayMicros { get; set; }

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxHeapBytes, 64L * 1024, nameof(MaxHeapBytes));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxHeapBytes, 8L << 40, nameof(MaxHeapBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(BatchPages, 1, nameof(BatchPages));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(BatchPages, 4096, nameof(BatchPages));
        ArgumentOutOfRangeException.ThrowIfLessThan(HandlesPerSegmentLog2, 10, nameof(HandlesPerSegmentLog2));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(HandlesPerSegmentLog2, 22, nameof(HandlesPerSegmentLog2));
        ArgumentOutOfRangeException.ThrowIfNegative(StallSampleCapacity, nameof(StallSampleCapacity));
        ArgumentOutOfRangeException.ThrowIfNegative(CollectionTriggerBytes, nameof(CollectionTriggerBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(MinMovePages, 1, nameof(MinMovePages));
        ArgumentOutOfRangeException.ThrowIfNegative(SourceReleaseChunkPages, nameof(SourceReleaseChunkPages));
        ArgumentOutOfRangeException.ThrowIfLessThan(CollectorThreadNice, -20, nameof(CollectorThreadNice));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(CollectorThreadNice, 19, nameof(CollectorThreadNice));
        if (!Enum.IsDefined(Backend))
        {
            throw new ArgumentOutOfRangeException(nameof(Backend), Backend, "Unknown backend.");
        }

        if (double.IsNaN(DensePageThreshold))
        {
            throw new ArgumentOutOfRangeException(nameof(DensePageThreshold), "NaN is not a threshold.");
        }
    }

    internal HeapOptions Clone() => (HeapOptions)MemberwiseClone();
}
