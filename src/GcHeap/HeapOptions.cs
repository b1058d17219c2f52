namespace GcHeap;

/// <summary>Configuration of a <see cref="Heap"/>. Every property has a sensible default.</summary>
public sealed class HeapOptions
{
    /// <summary>
    /// The heap limit in bytes (rounded up to pages): 64 KiB to <see cref="MaxHeapBytesLimit"/>
    /// (4 TiB less 4 KiB). Default 256 MiB. Address space of twice this is reserved.
    /// </summary>
    public long MaxHeapBytes { get; set; } = 256L << 20;

    /// <summary>The largest <see cref="MaxHeapBytes"/> accepted: 2^30 - 1 pages of 4 KiB.</summary>
    public const long MaxHeapBytesLimit = (long)(int.MaxValue / 2) << 12;

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
    /// End concurrent marking with handshakes instead of a pause. Default true: each thread hands
    /// its write-barrier log over at its own next poll while the others keep running, in rounds
    /// until one marks nothing new, so a cycle has two global stops (mark start and the flip)
    /// instead of three. False ends marking in a <see cref="PauseKind.MarkEnd"/> pause (the
    /// earlier design, kept to compare the two). A thread that never reaches a poll keeps marking
    /// from ending: after <see cref="SafepointTimeout"/> the cycle is abandoned with
    /// <see cref="GcSafepointTimeoutException"/>, as a stop would be.
    /// </summary>
    public bool MarkEndHandshake { get; set; } = true;

    /// <summary>
    /// Start concurrent marking with handshakes instead of a pause. Default true: the write
    /// barrier is turned on everywhere (a first handshake round), then each thread greys its own
    /// handles and retires its allocation buffer at its next poll (a second round) while the
    /// others keep running. The barrier then also shades the values stored (Go's hybrid barrier),
    /// so that threads greyed one at a time never need a rescan; it costs every reference store
    /// a second log entry while marking runs. With <see cref="MarkEndHandshake"/> also on, the flip
    /// is a cycle's only global stop. False starts marking in a <see cref="PauseKind.MarkStart"/>
    /// pause. Threads that never reach a poll abandon the cycle after
    /// <see cref="SafepointTimeout"/>, as a stop would.
    /// </summary>
    public bool MarkStartHandshake { get; set; } = true;

    /// <summary>
    /// Let the thread whose arrival completes a stop hand its CPU to the stopper it wakes. Default
    /// true. A stopper that has waited 100 us sleeps; when the last thread parks and wakes it, the
    /// kernel can queue it behind another thread on its previous CPU (measured here: 2.4 ms behind
    /// .NET's JIT worker, every mutator stopped meanwhile) while the parking thread's CPU goes
    /// idle. With this on, the parking thread restricts the sleeping stopper's affinity to its own
    /// CPU just before waking it, and the stopper restores its mask as soon as it runs (no
    /// privilege needed: both threads belong to this process). False only to compare.
    /// </summary>
    public bool StopperHandoff { get; set; } = true;

    /// <summary>
    /// A stop for a concurrent cycle's flip that is not complete within this long is given up (the
    /// threads already parked go on; nothing was done) and tried again a few milliseconds later,
    /// up to 50 times, the last waiting as long as <see cref="SafepointTimeout"/>. The flip's
    /// moment is free once marking has ended (objects allocated since are black, so a later flip
    /// loses nothing), so a thread the host or another task keeps off its CPU need not hold the
    /// others. <see cref="CollectionStats.FlipStopsGivenUp"/> and
    /// <see cref="CollectionStats.LongestGivenUpStopMs"/> report it. Default
    /// <see cref="Timeout.InfiniteTimeSpan"/> (one attempt) until measured.
    /// </summary>
    public TimeSpan FlipStopBudget { get; set; } = Timeout.InfiniteTimeSpan;

    /// <summary>
    /// A page with at least this fraction of live bytes moves whole (zero copy with Move) instead
    /// of being packed. Default 0.75. 0 moves every non-empty page whole; above 1 packs every page.
    /// </summary>
    public double DensePageThreshold { get; set; } = 0.75;

    /// <summary>
    /// Pages a compactor thread takes at a time, and so the longest run one ioctl installs.
    /// Default 256: a UFFDIO_MOVE run of 64 pages cost 0.30-0.89 us per page here, 256 pages
    /// 0.24-0.37 us (docs/design.md section 6).
    /// </summary>
    public int BatchPages { get; set; } = 256;

    /// <summary>
    /// Move backend: install a page a mutator is faulting on with UFFDIO_COPY, which fills an
    /// empty PTE without a TLB flush, while background runs use UFFDIO_MOVE. A single-page MOVE
    /// must flush the page from the TLB of every CPU running the process (measured here: 4.8 us
    /// alone, 32.9 us with a second thread running; a one-page COPY 8.1 us). Default true.
    /// </summary>
    public bool CopyFaultedPages { get; set; } = true;

    /// <summary>
    /// Move and Copy backends: a fault on a page not built yet claims the aligned window of this
    /// many to-space pages around it, builds them and installs the window as one run (one MOVE,
    /// or one COPY), so faults do not cut the background runs into pieces too short to move, and
    /// a mutator touching the heap at random faults far less often. The faulting thread waits for
    /// the window. 0 or 1: only the faulted page is built and installed (then
    /// <see cref="CopyFaultedPages"/> decides how, with Move): short stalls, many more faults.
    /// Default 64 (docs/design.md section 6).
    /// </summary>
    public int FaultAroundPages { get; set; } = 64;

    /// <summary>
    /// Move backend: install packed pages (built in a buffer) with UFFDIO_COPY and move only whole
    /// pages. Default false. Moving a packed page takes its buffer's frame, and the buffer's next
    /// use needs a fresh page; on a virtual machine with shadow paging the first touch of a fresh
    /// page is a hypervisor round trip (~7 us measured here), which nearly doubled Move's page
    /// building. Measured on this project's VM (docs/design.md section 6): compaction 0.42-0.48x
    /// Copy's instead of 0.48-0.67x and collector throughput 1.68-1.76 GB/s instead of 1.14-1.40
    /// GB/s, but 70-74% of pages zero-copy instead of 95%. On hardware without shadow paging a
    /// fresh page costs far less and the default moves more for less.
    /// </summary>
    public bool PackedPagesByCopy { get; set; }

    /// <summary>
    /// Move backend: runs of fewer pages than this are installed with UFFDIO_COPY instead of
    /// UFFDIO_MOVE. The kernel flushes the TLB for a range of at most 33 pages one page at a time
    /// (x86 <c>tlb_single_page_flush_ceiling</c>) and for longer ranges at once; under
    /// virtualization each page flush goes through the hypervisor: MOVE runs of 16-33 pages cost
    /// 2.8-5.6 us per page here, runs of 48 0.47-1.3 us, COPY runs of 16-64 0.71-3.5 us. Default 48;
    /// 1 moves every run.
    /// </summary>
    public int MinMovePages { get; set; } = 48;

    /// <summary>
    /// Move backend: longest gap of sparse or empty pages that is moved whole to join two runs of
    /// whole pages into one run long enough for a MOVE (see <see cref="MinMovePages"/>). Their dead
    /// objects are kept as fillers until the next collection. Default 4; 0 turns bridging off.
    /// </summary>
    public int RunBridgePages { get; set; } = 4;

    /// <summary>
    /// Move backend: at most this fraction of the marked pages is bridged (moved whole although
    /// sparse or empty) per collection, which bounds the garbage kept. Default 0.3.
    /// </summary>
    public double RunBridgeBudget { get; set; } = 0.3;

    /// <summary>
    /// Move backend: dense pages in a run of whole pages shorter than <see cref="MinMovePages"/>
    /// (after bridging) are packed like sparse pages instead of moved whole: their run would go in
    /// by UFFDIO_COPY, while packed pages go in as long MOVE runs, and packing also drops their
    /// dead bytes. Large-object pages always move whole. Default true.
    /// </summary>
    public bool PackShortRuns { get; set; } = true;

    /// <summary>
    /// Native threads that build and install to-space pages in the background (Move and Copy).
    /// Faults are served by one more native thread, which builds the faulted page itself.
    /// Default 1 (measured best with one or two mutators on two CPUs; docs/design.md section 6).
    /// </summary>
    public int CompactorThreads { get; set; } = 1;

    /// <summary>
    /// From-space pages are given back in batches: once every to-space page below a frontier is
    /// installed, the from-space prefix nothing left to build reads is released with one
    /// MADV_DONTNEED, once it is this many pages long (each call also flushes TLBs). Bounds the
    /// extra memory to about this many pages plus the pages still to build. Default 512; 0 keeps
    /// from-space until the collection ends.
    /// </summary>
    public int SourceReleaseChunkPages { get; set; } = 512;

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
    /// Size of each space's allocation nursery. Default 32 MiB (measured against 16 MiB and none in
    /// docs/results/2026-12-07/nursery); 0 turns it off. The first
    /// allocation buffers after each collection come from the nursery, whose pages are never given
    /// back to the kernel: when a collection leaves the space, the nursery's live objects are packed
    /// into the other space like any sparse page's (never moved by their page frame) and its pages
    /// are zeroed in place. So allocation writes to pages the process has mapped already instead of
    /// paying a page fault per fresh page (~12 us in the development VM, see docs/design.md,
    /// "The nursery"). Costs: both spaces' nurseries stay resident once used (twice this size), and
    /// the nursery's live objects are always copied. Capped at an eighth of
    /// <see cref="MaxHeapBytes"/>, rounded down to whole pages (whole 2 MiB blocks with
    /// <see cref="TransparentHugePages"/>; a nursery smaller than one is off); off on 2 MiB
    /// hugetlbfs spaces (<see cref="ContinueHugePages"/>). The heap limit is unchanged: nursery and
    /// the rest of the space together hold at most <see cref="MaxHeapBytes"/>. See
    /// <see cref="Heap.NurseryBytes"/>.
    /// </summary>
    public long NurseryBytes { get; set; } = 32L << 20;

    /// <summary>
    /// Pages of the allocation space kept populated ahead of the mutators by a native thread
    /// (MADV_POPULATE_WRITE), so that taking a fresh page for an allocation buffer or a large
    /// object does not cost the mutator a page fault. Default 256 (1 MiB); 0 turns it off. At
    /// most this many pages beyond those allocated are resident per space; they are discarded
    /// with the space after each collection. See <see cref="Heap.AllocationPrefault"/>.
    /// </summary>
    public int AllocationPrefaultPages { get; set; } = 256;

    /// <summary>
    /// A debugging aid for code using <see cref="GcContext"/> and <see cref="GcView"/> (default
    /// false): every fast-path allocation invalidates the thread's earlier views, as if a
    /// collection happened at each one. Without it a view only dies at an allocation that refills
    /// the thread's buffer or waits for a collection, so code that wrongly keeps a view across an
    /// allocation usually works and fails rarely; with it, such code throws
    /// <see cref="GcInvalidHandleException"/> (<see cref="GcHandleProblem.ViewExpired"/>) on its
    /// first run. Costs one store per allocation.
    /// </summary>
    public bool StrictViews { get; set; }

    /// <summary>
    /// MADV_DONTFORK the heap's spaces (default true), so a child process (for example from
    /// Process.Start) does not share heap pages copy-on-write, which would make UFFDIO_MOVE answer
    /// EBUSY for them until the parent writes them. With false a forked child has the heap's
    /// memory: a <c>fork()</c> during a compaction waits until its last page is installed, so the
    /// child reads every object as it was at the fork (the handle table is never inherited: give
    /// the child addresses); a child forked past <c>pthread_atfork</c> (a raw <c>clone</c>) gets
    /// the to-space pages it lacks poisoned (SIGBUS). docs/design.md section 6, "Events".
    /// </summary>
    public bool DontForkHeap { get; set; } = true;

    /// <summary>
    /// Move, Copy and StopTheWorld: the two spaces are 2 MiB aligned and allow transparent huge
    /// pages (MADV_HUGEPAGE), when the kernel has them (<see cref="Heap.TransparentHugePages"/>).
    /// Fresh allocation pages then arrive 2 MiB at a time (on this project's VM a first touch cost
    /// 13 us per 4 KiB page against 0.25 us per 4 KiB of a huge page). With Move, a whole aligned
    /// 2 MiB block of live pages is moved by one UFFDIO_MOVE of its page-table entry (a PMD move:
    /// 15-90 ns per 4 KiB against 0.6-0.8 us for 4 KiB moves); the planner pads to-space with
    /// unpopulated holes to keep such blocks aligned (<see cref="CollectionStats.PagesPmdMoved"/>,
    /// <see cref="CollectionStats.PagesHoles"/>; docs/design.md section 6, "Huge blocks").
    /// Experimental, default false (4 KiB pages, MADV_NOHUGEPAGE): with it on, the test suite's
    /// parallel run (many heaps in one process) still sees an occasional compaction fail with
    /// EEXIST (a to-space page present before its install; the collection fails loudly with
    /// <see cref="GcCollectionFailedException"/>, nothing is lost silently); docs/design.md section 6,
    /// "Huge blocks", says what is known. The Continue backend ignores it (see <see cref="ContinueHugePages"/>).
    /// </summary>
    public bool TransparentHugePages { get; set; }

    /// <summary>
    /// Continue backend only (other backends ignore it): back both spaces with 2 MiB hugetlbfs pages
    /// (a hugetlbfs memfd; UFFD_FEATURE_MINOR_HUGETLBFS), installed 2 MiB at a time. Needs
    /// <c>vm.nr_hugepages</c> large enough for both spaces (2 x <see cref="MaxHeapBytes"/>, rounded
    /// up to 2 MiB), which are reserved when the heap is created; when the kernel lacks the feature
    /// or the pool is too small, the heap uses 4 KiB pages and <see cref="Heap.BackendReason"/> says
    /// why. Hugetlb spaces are zeroed rather than given back between cycles. Default false.
    /// </summary>
    public bool ContinueHugePages { get; set; }

    /// <summary>
    /// Nice value of the native compactor threads and of the snapshot saver thread (-20..19).
    /// Default -5: a mutator waiting in a fault depends on them, so they get more CPU weight than running mutators. Lowering needs
    /// CAP_SYS_NICE (root has it); without it the threads keep the process's priority.
    /// </summary>
    public int CollectorThreadNice { get; set; } = -5;

    /// <summary>Ways of opening a userfaultfd that may be tried. Default all (full mode first).</summary>
    public UffdOpenMethods UffdOpenMethods { get; set; } = UffdOpenMethods.All;

    /// <summary>Kernel features to treat as missing, to exercise fallbacks on purpose.</summary>
    public KernelFeatures DisabledKernelFeatures { get; set; }

    /// <summary>Log2 of the local handles one thread may hold (and of global roots). Default 18 (262,144).</summary>
    public int HandlesPerSegmentLog2 { get; set; } = 18;

    /// <summary>
    /// Most weak references (<see cref="GcWeakRef"/>) alive at once. Default 4,194,304 (32 MiB of
    /// address space, touched only as far as used); 1 to 2^28.
    /// </summary>
    public int MaxWeakReferences { get; set; } = 1 << 22;

    /// <summary>Fault stall samples kept per collection for percentiles: 0 to 16,777,216 (8 bytes each). Default 65,536.</summary>
    public int StallSampleCapacity { get; set; } = 1 << 16;

    /// <summary>
    /// Keep every fault stall sample in <see cref="CollectionStats.FaultStallSamplesNs"/> (up to
    /// <see cref="StallSampleCapacity"/> per collection), so run-wide percentiles can be computed
    /// exactly. Default false (only per-collection percentiles).
    /// </summary>
    public bool RecordFaultStallSamples { get; set; }

    /// <summary>
    /// How long a stop-the-world handshake may wait for attached threads to reach a heap call (a
    /// poll) before it gives up. Every stop of a collection up to and including the flip can give
    /// up, since nothing has moved before the flip forwards the roots: the collection is then
    /// abandoned (its marks and plan dropped), the world resumes, and <see cref="Heap.Collect"/>
    /// or the allocation that needed the collection throws
    /// <see cref="GcSafepointTimeoutException"/> naming the threads it waited for (a background
    /// collection is simply retried later; <see cref="Heap.AbandonedCollections"/> counts them).
    /// <see cref="Heap.Verify"/> and a snapshot's pause (<see cref="Heap.SaveSnapshot(System.IO.Stream, SnapshotOptions?)"/>,
    /// before anything is frozen) give up the same way. Two stops cannot give up and wait as
    /// long as it takes: the verification pause after a compaction (<see cref="VerifyHeap"/>) and
    /// <see cref="Heap.Dispose"/>'s. The EventSource event SlowSafepoint names the awaited threads
    /// after this timeout or 5 s, whichever comes first. Default
    /// <see cref="Timeout.InfiniteTimeSpan"/>: wait as long as it takes.
    /// </summary>
    public TimeSpan SafepointTimeout { get; set; } = Timeout.InfiniteTimeSpan;

    /// <summary>Collections kept in <see cref="Heap.History"/>: 1 to 1,048,576. Default 256.</summary>
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
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxHeapBytes, MaxHeapBytesLimit, nameof(MaxHeapBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(BatchPages, 1, nameof(BatchPages));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(BatchPages, 4096, nameof(BatchPages));
        ArgumentOutOfRangeException.ThrowIfLessThan(HandlesPerSegmentLog2, 10, nameof(HandlesPerSegmentLog2));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(HandlesPerSegmentLog2, 22, nameof(HandlesPerSegmentLog2));
        ArgumentOutOfRangeException.ThrowIfLessThan(MaxWeakReferences, 1, nameof(MaxWeakReferences));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(MaxWeakReferences, 1 << 28, nameof(MaxWeakReferences));
        ArgumentOutOfRangeException.ThrowIfNegative(StallSampleCapacity, nameof(StallSampleCapacity));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(StallSampleCapacity, 1 << 24, nameof(StallSampleCapacity));
        ArgumentOutOfRangeException.ThrowIfLessThan(HistoryLength, 1, nameof(HistoryLength));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(HistoryLength, 1 << 20, nameof(HistoryLength));
        ArgumentOutOfRangeException.ThrowIfNegative(CollectionTriggerBytes, nameof(CollectionTriggerBytes));
        ArgumentOutOfRangeException.ThrowIfNegative(NurseryBytes, nameof(NurseryBytes));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(NurseryBytes, 1L << 30, nameof(NurseryBytes));
        ArgumentOutOfRangeException.ThrowIfLessThan(MinMovePages, 1, nameof(MinMovePages));
        ArgumentOutOfRangeException.ThrowIfNegative(RunBridgePages, nameof(RunBridgePages));
        ArgumentOutOfRangeException.ThrowIfNegative(FaultAroundPages, nameof(FaultAroundPages));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(FaultAroundPages, 1024, nameof(FaultAroundPages));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(RunBridgePages, 64, nameof(RunBridgePages));
        ArgumentOutOfRangeException.ThrowIfLessThan(CompactorThreads, 1, nameof(CompactorThreads));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(CompactorThreads, 16, nameof(CompactorThreads));
        if (double.IsNaN(RunBridgeBudget) || RunBridgeBudget < 0 || RunBridgeBudget > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(RunBridgeBudget), RunBridgeBudget, "A fraction between 0 and 1.");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(SourceReleaseChunkPages, nameof(SourceReleaseChunkPages));
        ArgumentOutOfRangeException.ThrowIfNegative(AllocationPrefaultPages, nameof(AllocationPrefaultPages));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(AllocationPrefaultPages, 65536, nameof(AllocationPrefaultPages));
        ArgumentOutOfRangeException.ThrowIfLessThan(CollectorThreadNice, -20, nameof(CollectorThreadNice));
        ArgumentOutOfRangeException.ThrowIfGreaterThan(CollectorThreadNice, 19, nameof(CollectorThreadNice));
        if ((UffdOpenMethods & ~UffdOpenMethods.All) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(UffdOpenMethods), UffdOpenMethods, "Unknown open methods: combine Syscall, DevUserfaultfd and UserModeOnly (or None).");
        }

        if (!Enum.IsDefined(Backend))
        {
            throw new ArgumentOutOfRangeException(nameof(Backend), Backend, "Unknown backend.");
        }

        if (FlipStopBudget != Timeout.InfiniteTimeSpan && FlipStopBudget <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(FlipStopBudget), FlipStopBudget, "Positive, or Timeout.InfiniteTimeSpan.");
        }

        if (SafepointTimeout != Timeout.InfiniteTimeSpan && SafepointTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(SafepointTimeout), SafepointTimeout, "Positive, or Timeout.InfiniteTimeSpan.");
        }

        if (double.IsNaN(DensePageThreshold))
        {
            throw new ArgumentOutOfRangeException(nameof(DensePageThreshold), "NaN is not a threshold.");
        }
    }

    internal HeapOptions Clone() => (HeapOptions)MemberwiseClone();
}
