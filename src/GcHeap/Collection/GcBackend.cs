namespace GcHeap;

/// <summary>How a heap compacts.</summary>
public enum GcBackend
{
    /// <summary>
    /// Concurrent: after a short flip pause mutators run on; to-space pages are installed with
    /// UFFDIO_MOVE (the page frame itself moves: zero copy for dense pages), falling back to
    /// UFFDIO_COPY + MADV_DONTNEED for pages the kernel answers EBUSY for. Needs Linux 6.8+.
    /// </summary>
    Move = 1,

    /// <summary>Concurrent, like <see cref="Move"/>, but every page is installed with UFFDIO_COPY.</summary>
    Copy = 2,

    /// <summary>Everything in one pause with plain memory copies; needs no userfaultfd. The correctness reference and baseline.</summary>
    StopTheWorld = 3,

    /// <summary>
    /// Concurrent, like <see cref="Move"/>, on shared memory: each space is a memfd mapped twice.
    /// Pages are built in place in an unregistered collector view (whole pages copied there and
    /// fixed, sparse pages packed there) and installed in the mutator view with UFFDIO_CONTINUE
    /// (minor faults: the page is already in the page cache, the install copies nothing). From-space
    /// is punched out of its memfd. Needs UFFD_FEATURE_MINOR_SHMEM (Linux 5.14); without it the
    /// heap falls back to Move, then Copy (<see cref="Heap.BackendReason"/> says why).
    /// </summary>
    Continue = 4,
}

/// <summary>Why a collection ran.</summary>
public enum CollectionReason
{
    /// <summary><see cref="Heap.Collect"/> was called.</summary>
    Requested,

    /// <summary>Enough was allocated since the last collection (background trigger).</summary>
    AllocationVolume,

    /// <summary>An allocation found the heap full.</summary>
    HeapFull,
}

/// <summary>The kinds of pause a cycle can have.</summary>
public enum PauseKind
{
    /// <summary>A whole stop-the-world collection.</summary>
    Full,

    /// <summary>Concurrent marking starts: roots are greyed, the write barrier turned on. Only with <see cref="HeapOptions.MarkStartHandshake"/> off; by default marking starts by handshakes, without a pause.</summary>
    MarkStart,

    /// <summary>Concurrent marking ends: barrier buffers drained, roots rescanned. Only with <see cref="HeapOptions.MarkEndHandshake"/> off; by default marking ends by handshakes (<see cref="HandshakeKind.MarkEnd"/>), without a pause.</summary>
    MarkEnd,

    /// <summary>The flip: to-space registered, roots forwarded, the compactor started.</summary>
    Flip,

    /// <summary>Heap verification after a cycle (only with <see cref="HeapOptions.VerifyHeap"/>).</summary>
    Verify,
}

/// <summary>One pause of a collection.</summary>
/// <param name="Kind">What the pause did.</param>
/// <param name="Milliseconds">How long mutators were stopped, from the stop request to the resume.</param>
public readonly record struct PauseRecord(PauseKind Kind, double Milliseconds)
{
    /// <summary>
    /// The part of <see cref="Milliseconds"/> spent waiting for the last thread to reach a safepoint
    /// (time to safepoint, as the JVMs report it); the threads that got there first were held
    /// meanwhile.
    /// </summary>
    public double TimeToSafepointMs { get; init; }

    /// <summary>
    /// The thread whose arrival completed the stop handed its CPU to the stopper, which had gone
    /// to sleep after its 100 us spin (<see cref="HeapOptions.StopperHandoff"/>).
    /// </summary>
    public bool StopperHandoff { get; init; }

    /// <summary>
    /// <see cref="System.Diagnostics.Stopwatch.GetTimestamp"/> at the stop request (on Linux the
    /// ticks are CLOCK_MONOTONIC nanoseconds, the clock of <c>perf record -k CLOCK_MONOTONIC</c>),
    /// to line a pause up with a scheduler trace.
    /// </summary>
    public long StartTimestamp { get; init; }

    /// <summary>
    /// The thread (or threads, comma-separated) that the stop was still waiting for after its
    /// 100 us spin and reached a safepoint last; null when every thread stopped within the spin.
    /// </summary>
    public string? AwaitedThread { get; init; }

    /// <summary>The kernel's thread id (gettid) of the first thread in <see cref="AwaitedThread"/>; 0 when none.</summary>
    public int AwaitedOsThreadId { get; init; }

    /// <summary>The part of <see cref="Milliseconds"/> after every thread had stopped: the work inside the pause and the resume.</summary>
    public double InsideMs => Math.Max(0, Milliseconds - TimeToSafepointMs);
}

/// <summary>The kinds of handshake a cycle can have.</summary>
public enum HandshakeKind
{
    /// <summary>Mark start, first round: the write barrier is on in every thread.</summary>
    MarkStartBarrier,

    /// <summary>Mark start, second round: each thread retires its allocation buffer and greys its handles.</summary>
    MarkStartRoots,

    /// <summary>A round of mark end: each thread hands its write-barrier log over.</summary>
    MarkEnd,
}

/// <summary>
/// One handshake: an operation each attached thread does for itself at its next poll (or the
/// collector does for a thread that is not running), without stopping the others.
/// </summary>
/// <param name="Kind">What the handshake did.</param>
/// <param name="Milliseconds">From the request to the last thread's answer (no thread was stopped for it; the collector marks while it waits).</param>
public readonly record struct HandshakeRecord(HandshakeKind Kind, double Milliseconds)
{
    /// <summary>Threads asked.</summary>
    public int Threads { get; init; }

    /// <summary>Threads the collector answered for (in a safe region, parked, or ended without detaching).</summary>
    public int DoneByCollector { get; init; }

    /// <summary>Threads that had not answered when the handshake gave up (only when giving up was allowed).</summary>
    public int Unanswered { get; init; }

    /// <summary>The longest any one thread spent doing the operation at its poll: how long the handshake held that thread.</summary>
    public double MaxHeldMs { get; init; }

    /// <summary>The thread(s) the handshake waited for last (null when every thread answered at once).</summary>
    public string? AwaitedThread { get; init; }
}
