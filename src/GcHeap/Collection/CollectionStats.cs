namespace GcHeap;

/// <summary>
/// Everything measured about one collection. Page and ioctl counts come from the native code
/// that did the work; times from the collector's clock.
/// </summary>
public sealed class CollectionStats
{
    /// <summary>Sequence number of the collection (1-based).</summary>
    public long Cycle { get; init; }

    /// <summary>The backend that ran it.</summary>
    public GcBackend Backend { get; init; }

    /// <summary>Why it ran.</summary>
    public CollectionReason Reason { get; init; }

    /// <summary>Whether marking ran concurrently with mutators.</summary>
    public bool ConcurrentMarking { get; init; }

    /// <summary>Every pause of the cycle, in order.</summary>
    public IReadOnlyList<PauseRecord> Pauses { get; init; } = [];

    /// <summary>
    /// Every handshake of the cycle, in order: per-thread operations done without stopping the
    /// world (each mark-end round; with <see cref="HeapOptions.MarkEndHandshake"/> off, the soft
    /// handshake before the mark-end pause).
    /// </summary>
    public IReadOnlyList<HandshakeRecord> Handshakes { get; init; } = [];

    /// <summary>The longest time any one thread spent answering a handshake of this cycle, in milliseconds (the handshake's share of that thread's pause time).</summary>
    public double MaxHandshakeHeldMs => Handshakes.Count == 0 ? 0 : Handshakes.Max(h => h.MaxHeldMs);

    /// <summary>Where the pause time went: the stop handshake, each step inside the pauses, and the resume, in milliseconds.</summary>
    public IReadOnlyList<(string Step, double Milliseconds)> PauseSteps { get; init; } = [];

    /// <summary>The longest pause in milliseconds.</summary>
    public double MaxPauseMs => Pauses.Count == 0 ? 0 : Pauses.Max(p => p.Milliseconds);

    /// <summary>Sum of pauses in milliseconds.</summary>
    public double TotalPauseMs => Pauses.Sum(p => p.Milliseconds);

    /// <summary>The flip pause (or the full pause for stop-the-world) in milliseconds.</summary>
    public double FlipPauseMs => Pauses.Where(p => p.Kind is PauseKind.Flip or PauseKind.Full).Sum(p => p.Milliseconds);

    /// <summary>Wall time of the whole cycle in milliseconds.</summary>
    public double CycleMs { get; init; }

    /// <summary>Marking time (concurrent part plus the marking inside pauses) in milliseconds.</summary>
    public double MarkMs { get; init; }

    /// <summary>Planning (forwarding) time in milliseconds.</summary>
    public double PlanMs { get; init; }

    /// <summary>Compaction wall time: from the native compactor's start to its last page installed (or the stop-the-world copy).</summary>
    public double CompactMs { get; init; }

    /// <summary>CPU time of the native compactor threads, sweepers and fault thread (or of the stop-the-world copy), in milliseconds.</summary>
    public double CollectorCpuMs { get; init; }

    /// <summary>Bytes of pages in use before the collection.</summary>
    public long HeapBytesBefore { get; init; }

    /// <summary>Bytes of pages in use right after compaction.</summary>
    public long HeapBytesAfter { get; init; }

    /// <summary>Bytes found live by marking (objects allocated during the cycle not included).</summary>
    public long LiveBytes { get; init; }

    /// <summary>Objects found live by marking.</summary>
    public long LiveObjects { get; init; }

    /// <summary>From-space pages with nothing live (dropped).</summary>
    public long PagesEmpty { get; init; }

    /// <summary>Dense pages that moved whole (references fixed in place).</summary>
    public long PagesDense { get; init; }

    /// <summary>Sparse pages whose objects were packed.</summary>
    public long PagesSparse { get; init; }

    /// <summary>Pages of live large objects (moved whole).</summary>
    public long PagesLarge { get; init; }

    /// <summary>Weak references this collection cleared because their targets were dead.</summary>
    public long WeakReferencesCleared { get; init; }

    /// <summary>Stable object ids (<see cref="Mutator.GetObjectId"/>) whose objects survived and were re-keyed by this collection.</summary>
    public long ObjectIdsKept { get; init; }

    /// <summary>
    /// Time the collector thread spent re-keying the object-id table after the flip (mutators
    /// running; a thread asking for an id meanwhile waits), in milliseconds.
    /// </summary>
    public double ObjectIdRekeyMs { get; init; }

    /// <summary>Pages allocated during the cycle (moved whole).</summary>
    public long PagesBlack { get; init; }

    /// <summary>To-space pages installed.</summary>
    public long PagesInstalled { get; init; }

    /// <summary>To-space pages that were whole from-space pages.</summary>
    public long PagesWhole { get; init; }

    /// <summary>To-space pages built by packing objects in a buffer page.</summary>
    public long PagesCompacted { get; init; }

    /// <summary>
    /// Pages installed by UFFDIO_MOVE of the page frame: nothing copied at install, no fresh page
    /// allocated (whole pages, and packed pages moved out of a build buffer). The share of
    /// installed pages is <see cref="ZeroCopyShare"/>.
    /// </summary>
    public long PagesMoved { get; init; }

    /// <summary>
    /// Of <see cref="PagesMoved"/>, the whole pages: moved with their objects in place, not a byte
    /// copied at all (references fixed in place).
    /// </summary>
    public long PagesZeroCopy { get; init; }

    /// <summary>
    /// Zero-copy share: <see cref="PagesMoved"/> / <see cref="PagesInstalled"/> (0 when nothing was
    /// installed; always 0 for Copy and StopTheWorld).
    /// </summary>
    /// <remarks>
    /// With the Continue backend it is <see cref="PagesContinued"/> / <see cref="PagesInstalled"/>:
    /// the installs that copied nothing (UFFDIO_CONTINUE maps a page already in the page cache).
    /// Building a whole page still copies it once into the collector view (<see cref="PagesWholeCopied"/>).
    /// </remarks>
    public double ZeroCopyShare => PagesInstalled == 0 ? 0 : (double)(PagesMoved + PagesContinued) / PagesInstalled;

    /// <summary>
    /// Continue backend: pages installed by UFFDIO_CONTINUE, built in place in the collector view of
    /// the to-space memfd (nothing copied at install, no fresh page allocated at install).
    /// </summary>
    public long PagesContinued { get; init; }

    /// <summary>Continue backend: UFFDIO_CONTINUE ioctls (each installs a run of consecutive to-pages).</summary>
    public long ContinueIoctls { get; init; }

    /// <summary>Continue backend: whole pages copied (4 KiB memcpy) from from-space into the collector view and fixed there.</summary>
    public long PagesWholeCopied { get; init; }

    /// <summary>Continue backend: faults that were minor (the page was in the page cache, not yet mapped); the rest of <see cref="FaultsServed"/> were missing (a hole).</summary>
    public long FaultsMinor { get; init; }

    /// <summary>Time in UFFDIO_CONTINUE ioctls, all native threads, in milliseconds.</summary>
    public double ContinueMs { get; init; }

    /// <summary>UFFDIO_MOVE runs issued; <see cref="PagesMoved"/> / <see cref="RunsMoved"/> is the mean run length.</summary>
    public long RunsMoved { get; init; }

    /// <summary>Sparse or empty pages the planner moved whole to join runs (<see cref="HeapOptions.RunBridgePages"/>).</summary>
    public long PagesBridged { get; init; }

    /// <summary>Dense pages packed because their run was too short to move (<see cref="HeapOptions.PackShortRuns"/>); included in <see cref="PagesSparse"/>.</summary>
    public long PagesPackedShortRuns { get; init; }

    /// <summary>
    /// Move on transparent huge pages: pages that arrived in to-space mapped by one PMD, i.e. moved
    /// 2 MiB at a time by one UFFDIO_MOVE of a huge page's page-table entry (the native collector
    /// checks the destination with PAGEMAP_SCAN after the move; 0 where the kernel lacks it).
    /// Included in <see cref="PagesZeroCopy"/>. See <see cref="HeapOptions.TransparentHugePages"/>.
    /// </summary>
    public long PagesPmdMoved { get; init; }

    /// <summary>Aligned whole 2 MiB blocks moved as one run (whether or not their source was still mapped by a PMD).</summary>
    public long HugeBlocksMoved { get; init; }

    /// <summary>Whole 2 MiB from-space blocks the planner placed at aligned to-space blocks.</summary>
    public long HugeBlocksPlanned { get; init; }

    /// <summary>To-space pages left as unpopulated holes to keep whole 2 MiB blocks aligned (address space only; free pages next cycle).</summary>
    public long PagesHoles { get; init; }

    /// <summary>
    /// Pages UFFDIO_MOVE moved although it answered EEXIST. On Linux 6.18 two MOVEs whose sources
    /// lie in one transparent huge page, racing while the kernel splits it, can complete a move
    /// and report EEXIST (reproduced without GcHeap by experiments/kernel-costs/thp_move_race.c);
    /// the native collector checks such a run page by page (source gone and destination present:
    /// moved) and counts those pages here. Only ever non-zero with <see cref="HeapOptions.TransparentHugePages"/>.
    /// </summary>
    public long MovesMisreported { get; init; }

    /// <summary><see cref="PagesPmdMoved"/> / <see cref="PagesInstalled"/>.</summary>
    public double PmdMovedShare => PagesInstalled == 0 ? 0 : (double)PagesPmdMoved / PagesInstalled;

    /// <summary>Whole pages moved with their objects in place (<see cref="PagesZeroCopy"/>) / <see cref="PagesInstalled"/>: the share installed without a byte copied anywhere.</summary>
    public double InPlaceShare => PagesInstalled == 0 ? 0 : (double)PagesZeroCopy / PagesInstalled;

    /// <summary>Pages installed by UFFDIO_COPY (every page with the Copy backend; with Move, EBUSY fallbacks and faulted pages).</summary>
    public long PagesCopied { get; init; }

    /// <summary>
    /// Nursery pages of the space this collection left that had been handed out (see
    /// <see cref="HeapOptions.NurseryBytes"/>): their live objects were packed into to-space and the
    /// pages zeroed in place, kept mapped for the next cycle's allocation instead of given back.
    /// </summary>
    public long NurseryPagesReused { get; init; }

    /// <summary>
    /// Whole pages whose source was a nursery page taken while marking (black), installed by
    /// UFFDIO_COPY so that their frames stay in the nursery (Move and Copy backends; included in
    /// <see cref="PagesCopied"/>).
    /// </summary>
    public long PagesNurseryCopied { get; init; }

    /// <summary>From-space pages given back to the kernel while compaction ran (batched releases), before the end of the cycle.</summary>
    public long PagesReleasedEarly { get; init; }

    /// <summary>Pages UFFDIO_MOVE answered EBUSY for, installed by UFFDIO_COPY + MADV_DONTNEED instead.</summary>
    public long EbusyFallbacks { get; init; }

    /// <summary>Never-touched source pages installed with UFFDIO_ZEROPAGE.</summary>
    public long PagesZeroFilled { get; init; }

    /// <summary>Installs the kernel answered EEXIST for. Every to-space page has one owner, so this fails the collection; always 0 in a completed one.</summary>
    public long Eexist { get; init; }

    /// <summary>Partial moves/copies resumed after EAGAIN.</summary>
    public long EagainRetries { get; init; }

    /// <summary>Non-cooperative events (fork, madvise, munmap, mremap of to-space by other code) read during the compaction.</summary>
    public UffdEventCounts Events { get; init; } = UffdEventCounts.None;

    /// <summary>userfaultfd ioctls issued (MOVE, COPY, ZEROPAGE, WAKE).</summary>
    public long Ioctls { get; init; }

    /// <summary>UFFDIO_MOVE ioctls.</summary>
    public long MoveIoctls { get; init; }

    /// <summary>UFFDIO_COPY ioctls.</summary>
    public long CopyIoctls { get; init; }

    /// <summary>Missing faults the native collector thread served.</summary>
    public long FaultsServed { get; init; }

    /// <summary>Faults whose page had not been built yet (built out of order on demand).</summary>
    public long FaultsOnPending { get; init; }

    /// <summary>Move backend: pages a mutator was waiting for, installed by UFFDIO_COPY (see <see cref="HeapOptions.CopyFaultedPages"/>). Included in <see cref="PagesCopied"/>.</summary>
    public long PagesFaultCopied { get; init; }

    /// <summary>Faults on a page a compactor thread was building: that thread installed its run at once.</summary>
    public long FaultsOnClaimed { get; init; }

    /// <summary>Compacted pages built in a build buffer.</summary>
    public long BuffersFresh { get; init; }

    /// <summary>Compactor threads that built pages (see <see cref="HeapOptions.CompactorThreads"/>).</summary>
    public int CompactorThreads { get; init; }

    /// <summary>Where compaction time went: building pages (fixing references, packing), summed over the native threads, in milliseconds.</summary>
    public double BuildMs { get; init; }

    /// <summary>Time in UFFDIO_MOVE ioctls (with their EBUSY and ENOENT fallbacks), all native threads, in milliseconds.</summary>
    public double MoveMs { get; init; }

    /// <summary>Time in UFFDIO_COPY ioctls, all native threads, in milliseconds.</summary>
    public double CopyMs { get; init; }

    /// <summary>Fault service: from each fault read to its page installed, summed over faults, in milliseconds.</summary>
    public double FaultServiceMs { get; init; }

    /// <summary>Time giving from-space back (MADV_DONTNEED; Continue: MADV_REMOVE), in milliseconds.</summary>
    public double ReleaseMs { get; init; }

    /// <summary>Time refilling build buffers whose pages MOVE took away (Continue: populating the collector view before building) with MADV_POPULATE_WRITE, in milliseconds.</summary>
    public double PopulateMs { get; init; }

    /// <summary>Reference slots rewritten.</summary>
    public long RefsFixed { get; init; }

    /// <summary>Median mutator fault stall in microseconds (fault read to page installed).</summary>
    public double FaultStallP50Us { get; init; }

    /// <summary>99th-percentile fault stall in microseconds.</summary>
    public double FaultStallP99Us { get; init; }

    /// <summary>Longest fault stall in microseconds.</summary>
    public double FaultStallMaxUs { get; init; }

    /// <summary>Stall samples behind the percentiles.</summary>
    public int FaultStallSamples { get; init; }

    /// <summary>
    /// Every fault stall of the collection in nanoseconds, sorted (fault read by the collector's
    /// fault thread to page installed); empty unless <see cref="HeapOptions.RecordFaultStallSamples"/>.
    /// </summary>
    public IReadOnlyList<long> FaultStallSamplesNs { get; init; } = [];

    /// <summary>True when the heap verifier ran for this cycle and passed.</summary>
    public bool Verified { get; init; }

    /// <summary>
    /// Time to safepoint: the longest stop-the-world handshake of the cycle, from asking every
    /// thread to stop to the last one parked (included in its pause), in milliseconds.
    /// </summary>
    public double MaxTimeToSafepointMs { get; init; }

    /// <summary>Stops for the flip given up after <see cref="HeapOptions.FlipStopBudget"/> and tried again (0 without a budget).</summary>
    public int FlipStopsGivenUp { get; init; }

    /// <summary>The longest given-up stop, from its request to the release of the threads it had parked, ms: those threads were held that long, as in a pause (0 when none).</summary>
    public double LongestGivenUpStopMs { get; init; }

    /// <summary>The thread(s) that longest handshake waited for last (null when every thread was parked or in a safe region at once).</summary>
    public string? SafepointAwaitedThread { get; init; }

    /// <summary>
    /// .NET GC pauses that ended while this cycle's stops waited or inside its pauses, in
    /// milliseconds: time the awaited threads (or the collector doing the pause's work) could not
    /// run because .NET's own collector had suspended the process.
    /// </summary>
    public double DotnetGcPauseDuringStopsMs { get; init; }

    /// <summary>
    /// Null normally. For a Move or Copy heap, why this cycle ran stop-the-world instead: a step
    /// before the flip failed transiently (no compactor thread could be created: EAGAIN;
    /// UFFDIO_REGISTER answered ENOMEM). Nothing had moved, so the heap goes on; the next cycle
    /// tries the concurrent backend again. <see cref="Backend"/> is then StopTheWorld.
    /// </summary>
    public string? StopTheWorldFallbackReason { get; init; }

    /// <summary>Bytes that reached to-space: whole pages plus packed object bytes.</summary>
    public long BytesMoved => (PagesWhole * 4096) + BytesPacked;

    /// <summary>Object bytes copied (memcpy) into compacted pages.</summary>
    public long BytesPacked { get; init; }

    /// <summary>Pages given back to the kernel by the cycle (heap shrink).</summary>
    public long PagesFreed => Math.Max(0, (HeapBytesBefore - HeapBytesAfter) / 4096);

    /// <inheritdoc />
    public override string ToString() =>
        $"GC #{Cycle} {Backend} ({Reason}): pauses [{string.Join(", ", Pauses.Select(p => $"{p.Kind} {p.Milliseconds:F3} ms"))}], " +
        $"mark {MarkMs:F1} ms, plan {PlanMs:F1} ms, compact {CompactMs:F1} ms, live {LiveBytes / 1024.0 / 1024.0:F1} MiB, " +
        $"heap {HeapBytesBefore / 1024.0 / 1024.0:F1} -> {HeapBytesAfter / 1024.0 / 1024.0:F1} MiB, pages moved {PagesMoved}{(PagesContinued > 0 ? $", continued {PagesContinued}" : "")} ({ZeroCopyShare:P0} zero-copy), compacted {PagesCompacted}, " +
        $"copied {PagesCopied} (EBUSY {EbusyFallbacks}), ioctls {Ioctls}, faults {FaultsServed} (stall p50 {FaultStallP50Us:F1} us, p99 {FaultStallP99Us:F1} us)";
}
