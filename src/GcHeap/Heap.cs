using GcHeap.Collection;
using GcHeap.Diagnostics;
using GcHeap.Interop;
using GcHeap.Memory;
using GcHeap.ObjectModel;
using GcHeap.Roots;
using GcHeap.Snapshots;
using GcHeap.Threads;

namespace GcHeap;

/// <summary>
/// A garbage-collected heap whose objects live in native memory. Define types with
/// <see cref="Types"/>, attach each thread that uses objects with <see cref="AttachCurrentThread"/>,
/// and hold objects through handles (<see cref="GcRef"/>, <see cref="GcRoot"/>). Collections trace
/// from the handles and compact: concurrently with UFFDIO_MOVE (or UFFDIO_COPY) where the kernel
/// allows, otherwise stop-the-world; <see cref="Backend"/> and <see cref="BackendReason"/> say which
/// and why.
/// </summary>
public sealed unsafe class Heap : IDisposable
{
    private readonly ThreadLocal<Mutator?> _current = new();
    private readonly Space _spaceA;
    private readonly Space _spaceB;
    private UffdCapabilities? _capabilities;
    private volatile Space _allocationSpace;
    private readonly object _releaseLock = new();
    private Exception? _fault;
    private int _disposed;
    private readonly object _disposalLock = new();
    private bool _disposalDone;

    /// <summary>
    /// Creates a heap. A heap created with <see cref="HeapOptions.Backend"/> =
    /// <see cref="GcBackend.StopTheWorld"/> makes no userfaultfd call (a sandbox may forbid it);
    /// the others probe what the kernel offers and fall back (see <see cref="BackendReason"/>).
    /// A constructor that fails releases everything it had created.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="GcBackendUnavailableException">The backend cannot run here and <see cref="HeapOptions.RequireBackend"/> is set.</exception>
    /// <exception cref="OutOfMemoryException">The address space for the heap (twice <see cref="HeapOptions.MaxHeapBytes"/>) or its tables cannot be reserved.</exception>
    /// <exception cref="GcHeapException">The process has created 2^32 - 1 heaps already (heap tags are never reused).</exception>
    public Heap(HeapOptions? options = null)
    {
        NativeLibraryCheck.EnsureCompatible();
        Options = (options ?? new HeapOptions()).Clone();
        Options.Validate();
        CapacityPages = (int)Math.Min(int.MaxValue / 2, ObjectLayout.PagesFor(Options.MaxHeapBytes));
        Options.MaxHeapBytes = (long)CapacityPages << ObjectLayout.PageShift;
        Tag = HeapTagSource.Process.Next();

        using var owned = new DisposeOnFailure();
        if (Options.Backend == GcBackend.StopTheWorld)
        {
            (Backend, BackendReason) = (GcBackend.StopTheWorld, "StopTheWorld as requested");
        }
        else
        {
            _capabilities = UffdCapabilities.Probe(Options.DisabledKernelFeatures, Options.UffdOpenMethods);
            (Backend, BackendReason) = ChooseBackend(Options.Backend, _capabilities);
            if (Backend != GcBackend.StopTheWorld)
            {
                int rc = CollectorUffd.Open(Options.UffdOpenMethods, _capabilities, Backend, out int fd, out int method, out ulong granted);
                if (rc == 0)
                {
                    Uffd = owned.Add(new UffdSafeHandle(fd));
                    UffdOpenMethod = (UffdOpenMethod)method;
                    UffdFeatures = granted;
                }
                else
                {
                    BackendReason = $"{Backend} requested but opening the userfaultfd failed ({Errno.Describe(rc)}); using StopTheWorld";
                    Backend = GcBackend.StopTheWorld;
                }
            }
        }

        if (Options.RequireBackend && Backend != Options.Backend)
        {
            throw new GcBackendUnavailableException($"Backend {Options.Backend} is unavailable: {BackendReason}.");
        }

        Types = new TypeRegistry(Tag);
        owned.Add(Types.Release);
        Handles = owned.Add(new HandleTable(Options.HandlesPerSegmentLog2, Tag));
        Weak = owned.Add(new WeakTable(Options.MaxWeakReferences));
        Identity = new IdentityTable(this);

        // The spaces swap roles every cycle, so for Continue both are memfds mapped twice.
        bool shared = Backend == GcBackend.Continue;
        var (hugeA, hugeB) = shared && Options.ContinueHugePages ? TryHugePageSpaces() : (null, null);
        ContinueHugePages = hugeA is not null;
        TransparentHugePages = !shared && Options.TransparentHugePages && TransparentHugePageSupport.IsAvailable(out _);
        int limit = CapacityPages;
        NurseryPages = hugeA is null ? NurseryPagesFor(Options, limit, TransparentHugePages) : 0;
        if (NurseryPages > 0)
        {
            // Room above the heap limit for a compacted prefix that starts above the nursery: the
            // limit still bounds what allocation hands out.
            CapacityPages = limit + NurseryPages;
        }

        _spaceA = owned.Add(hugeA ?? new Space("A", CapacityPages, Options.DontForkHeap, shared, transparentHugePages: TransparentHugePages, allocationLimitPages: limit, nurseryPages: NurseryPages));
        _spaceB = owned.Add(hugeB ?? new Space("B", CapacityPages, Options.DontForkHeap, shared, transparentHugePages: TransparentHugePages, allocationLimitPages: limit, nurseryPages: NurseryPages));
        _spaceA.OpenNursery();

        _allocationSpace = _spaceA;
        Prefaulter = AllocationPrefaulter.TryCreate(Options.AllocationPrefaultPages, out _prefaultOff);
        if (Prefaulter is not null)
        {
            owned.Add(Prefaulter);
        }

        Safepoints = new SafepointCoordinator(Options.StopperHandoff);
        Safepoints.SlowStop += threads => Events.SlowSafepoint(threads);
        Collector = owned.Add(new Collector(this));
        Collector.Completed += OnCollected;
        owned.Keep();
        Events.HeapCreated(this);
    }

    /// <summary>
    /// Raised on the collector thread after every collection, before <see cref="Collect"/> returns
    /// for it. A handler may read the statistics and dispose the heap; <see cref="Collect"/>,
    /// <see cref="Verify"/> and an allocation that finds the heap full would wait for the collector
    /// thread itself, so there they throw <see cref="GcThreadStateException"/>. Exceptions a
    /// handler throws are traced and otherwise ignored.
    /// </summary>
    public event Action<CollectionStats>? CollectionCompleted;

    /// <summary>The heap's run-time types. After <see cref="Dispose"/> every member of the registry throws <see cref="GcHeapDisposedException"/>.</summary>
    public TypeRegistry Types { get; }

    /// <summary>
    /// What the kernel allows: probed when the heap was created, except for a heap created
    /// with <see cref="GcBackend.StopTheWorld"/>, which probes on the first read of this property
    /// (its constructor makes no userfaultfd call).
    /// </summary>
    /// <exception cref="GcHeapDisposedException">The heap is disposed.</exception>
    public UffdCapabilities Capabilities
    {
        get
        {
            ThrowIfDisposed();
            if (Volatile.Read(ref _capabilities) is { } known)
            {
                return known;
            }

            var probed = UffdCapabilities.Probe(Options.DisabledKernelFeatures, Options.UffdOpenMethods);
            return Interlocked.CompareExchange(ref _capabilities, probed, null) ?? probed;
        }
    }

    /// <summary>The backend in use.</summary>
    public GcBackend Backend { get; }

    /// <summary>Why this backend: as requested, or what was missing and what is used instead.</summary>
    public string BackendReason { get; private set; }

    /// <summary>
    /// True when the Continue backend's spaces are 2 MiB hugetlbfs pages (asked for with
    /// <see cref="HeapOptions.ContinueHugePages"/>, and available); <see cref="BackendReason"/> says
    /// why not otherwise.
    /// </summary>
    public bool ContinueHugePages { get; }

    /// <summary>Pages the Continue backend installs at once: 512 (2 MiB) on hugetlbfs, else 1.</summary>
    internal int UnitPages => ContinueHugePages ? NativeConstants.HugePagePages : 1;

    /// <summary>
    /// True when the spaces are 2 MiB aligned and allow transparent huge pages (asked for with
    /// <see cref="HeapOptions.TransparentHugePages"/>, the backend is not Continue, and the kernel's
    /// <c>transparent_hugepage/enabled</c> is <c>always</c> or <c>madvise</c>). With Move, aligned
    /// whole 2 MiB blocks are then moved by PMD (<see cref="CollectionStats.PagesPmdMoved"/>).
    /// </summary>
    public bool TransparentHugePages { get; }

    /// <summary>
    /// Pages to-space is registered in at a time: whole 2 MiB pages on hugetlbfs, else any count.
    /// (Transparent huge pages need no rounding: the block that straddles the end of the registered
    /// range gets 4 KiB pages, the blocks above it huge ones; rounding would take up to 2 MiB from
    /// allocation, all of a small heap.)
    /// </summary>
    internal int RegistrationUnitPages => ContinueHugePages ? NativeConstants.PmdPages : 1;

    /// <summary>How the heap's userfaultfd was opened (None for the stop-the-world backend).</summary>
    public UffdOpenMethod UffdOpenMethod { get; }

    /// <summary>A copy of the options the heap was created with (changing it has no effect).</summary>
    public HeapOptions Configuration => Options.Clone();

    /// <summary>Bytes of pages handed out in the allocation space.</summary>
    /// <exception cref="GcHeapDisposedException">The heap is disposed.</exception>
    public long BytesInUse
    {
        get
        {
            ThrowIfDisposed();
            return (long)AllocationSpace.PagesInUse << ObjectLayout.PageShift;
        }
    }

    /// <summary>Bytes of both spaces resident in RAM right now (mincore).</summary>
    /// <exception cref="GcHeapDisposedException">The heap is disposed.</exception>
    public long ResidentBytes
    {
        get
        {
            lock (_releaseLock) // the spaces stay mapped until this returns
            {
                ThrowIfDisposed();
                return (_spaceA.ResidentPages() + _spaceB.ResidentPages()) << ObjectLayout.PageShift;
            }
        }
    }

    /// <summary>Collections completed.</summary>
    public long CollectionCount => Collector.CompletedCycles;

    /// <summary>The most recent collection, or null.</summary>
    public CollectionStats? LastCollection => Collector.Last;

    /// <summary>Recent collections, oldest first (at most <see cref="HeapOptions.HistoryLength"/>).</summary>
    public IReadOnlyList<CollectionStats> History => Collector.History;

    /// <summary>Where the collector is in its cycle right now.</summary>
    public CollectionPhase Phase => Collector.Phase;

    /// <summary>
    /// Collections of a Move or Copy heap that ran stop-the-world because a step before the flip
    /// failed transiently (see <see cref="CollectionStats.StopTheWorldFallbackReason"/>).
    /// </summary>
    public long StopTheWorldFallbacks => Collector.StopTheWorldFallbacks;

    /// <summary>Collections abandoned (before anything moved) because a stop waited longer than <see cref="HeapOptions.SafepointTimeout"/>.</summary>
    public long AbandonedCollections => Collector.AbandonedCycles;

    /// <summary>
    /// The stop-the-world handshake right now: whether a stop is waiting and for how long, and
    /// every attached thread with its state (running, parked, in a safe region) and whether the
    /// stop waits for it. Readable from any thread, also after <see cref="Dispose"/> (then empty);
    /// null when the handshake's lock could not be taken within a second (a stop is being set up
    /// or released, or something holds it: itself worth reporting).
    /// </summary>
    public SafepointStatus? GetSafepointStatus() => Safepoints.TryGetStatus(TimeSpan.FromSeconds(1));

    /// <summary>Threads currently attached.</summary>
    /// <exception cref="GcHeapDisposedException">The heap is disposed.</exception>
    public int AttachedThreads
    {
        get
        {
            ThrowIfDisposed();
            return Safepoints.Mutators.Count;
        }
    }

    internal HeapOptions Options { get; }

    /// <summary>This heap's identity, carried by its handles and field tokens (see <see cref="HeapTagSource"/>).</summary>
    internal uint Tag { get; }

    /// <summary>Pages of each space's virtual range: the heap limit, plus the nursery's pages (see <see cref="Space"/>).</summary>
    internal int CapacityPages { get; private set; }

    /// <summary>Pages of each space's nursery (<see cref="HeapOptions.NurseryBytes"/>); 0 without one.</summary>
    internal int NurseryPages { get; }

    /// <summary>
    /// Bytes of each space's allocation nursery (<see cref="HeapOptions.NurseryBytes"/> after its
    /// cap and rounding); 0 when the heap has none. Once used, both spaces' nurseries stay resident.
    /// </summary>
    public long NurseryBytes => (long)NurseryPages << ObjectLayout.PageShift;

    /// <summary>The nursery's size in pages for these options: capped at an eighth of the limit, whole touch units (2 MiB blocks with transparent huge pages), 0 below one unit.</summary>
    private static int NurseryPagesFor(HeapOptions o, int limitPages, bool transparentHugePages)
    {
        long pages = Math.Min(o.NurseryBytes >> ObjectLayout.PageShift, limitPages / 8);
        int unit = transparentHugePages ? NativeConstants.PmdPages : 1;
        pages = pages / unit * unit;
        return pages >= Math.Max(unit, 16) ? (int)pages : 0;
    }

    internal HandleTable Handles { get; }

    internal WeakTable Weak { get; }

    internal IdentityTable Identity { get; }

    internal SafepointCoordinator Safepoints { get; }

    internal Collector Collector { get; }

    internal UffdSafeHandle? Uffd { get; }

    /// <summary>The UFFD_FEATURE_* bits the collector's uffd was opened with (0 without one).</summary>
    internal ulong UffdFeatures { get; }

    /// <summary>The allocation prefault thread, or null when off or unavailable.</summary>
    internal AllocationPrefaulter? Prefaulter { get; }

    private readonly string? _prefaultOff;

    /// <summary>
    /// What the allocation prefault thread did (<see cref="HeapOptions.AllocationPrefaultPages"/>),
    /// or null when it is off or could not start (<see cref="AllocationPrefaultUnavailableReason"/>
    /// says which). Readable after disposal: the last figures.
    /// </summary>
    public AllocationPrefaultStats? AllocationPrefault
    {
        get
        {
            lock (_releaseLock)
            {
                if (Prefaulter is null)
                {
                    return null;
                }

                return _prefaultFinal ?? Prefaulter.Stats(); // the handle is only released under this lock, after _prefaultFinal is set
            }
        }
    }

    /// <summary>Why <see cref="AllocationPrefault"/> is null (off by option, or the native thread could not be created); null when it runs.</summary>
    public string? AllocationPrefaultUnavailableReason => _prefaultOff;

    private AllocationPrefaultStats? _prefaultFinal;

    internal static GcHeapEventSource Events => GcHeapEventSource.Log;

    internal Space AllocationSpace
    {
        get => _allocationSpace;
        set => _allocationSpace = value;
    }

    internal bool IsFaulted => Volatile.Read(ref _fault) is not null;

    /// <summary>Attaches the calling thread. Dispose the mutator on this thread to detach.</summary>
    /// <exception cref="GcThreadStateException">The thread is already attached to this heap, or 255 threads are.</exception>
    /// <exception cref="GcHeapDisposedException">The heap is disposed.</exception>
    /// <exception cref="GcCollectionFailedException">A collection failed; the heap refuses further use.</exception>
    public Mutator AttachCurrentThread(string? name = null)
    {
        ThrowIfDisposed();
        ThrowIfFaulted();
        if (CurrentMutator() is { IsDetached: false })
        {
            throw new GcThreadStateException("This thread is already attached to the heap; use its existing Mutator.");
        }

        var m = new Mutator(this, name ?? Thread.CurrentThread.Name ?? $"thread {Environment.CurrentManagedThreadId}");
        try
        {
            lock (Safepoints.SyncRoot)
            {
                m.BarrierActive = Collector.BarrierOn;
                m.BarrierShadesNew = Collector.BarrierShadesNew;
                Safepoints.Register(m);
            }
        }
        catch (GcHeapDisposedException)
        {
            ThrowIfFaulted(); // a collection failed meanwhile (which also terminates the threads): say so
            throw;
        }

        try
        {
            _current.Value = m;
        }
        catch (ObjectDisposedException)
        {
            throw new GcHeapDisposedException("heap"); // disposed meanwhile
        }

        return m;
    }

    /// <summary>
    /// Runs a full collection that starts after this call and returns its statistics. From an
    /// attached thread, the thread is in a safe region while it waits.
    /// </summary>
    /// <exception cref="GcHeapDisposedException">The heap is disposed (also when that happens while waiting).</exception>
    /// <exception cref="GcCollectionFailedException">The collection (or an earlier one) failed.</exception>
    /// <exception cref="GcThreadStateException">Called from a <see cref="CollectionCompleted"/> handler (the collector thread).</exception>
    /// <exception cref="GcSafepointTimeoutException">A stop of the collection waited longer than <see cref="HeapOptions.SafepointTimeout"/> for a thread; the collection was abandoned before anything moved.</exception>
    public CollectionStats Collect() => WhileSafe(() => Collector.CollectAndWait(CollectionReason.Requested));

    /// <summary>
    /// Stops the world and checks the heap (see <see cref="HeapVerificationReport"/>); waits for a
    /// collection in progress first. Returns the report; does not throw for an invalid heap.
    /// </summary>
    /// <exception cref="GcHeapDisposedException">The heap is disposed, also when that happens before the queued verification ran.</exception>
    /// <exception cref="GcCollectionFailedException">A collection failed (before or while waiting).</exception>
    /// <exception cref="GcThreadStateException">Called from a <see cref="CollectionCompleted"/> handler (the collector thread).</exception>
    /// <exception cref="GcSafepointTimeoutException">The stop waited longer than <see cref="HeapOptions.SafepointTimeout"/> for a thread; nothing was checked.</exception>
    public HeapVerificationReport Verify() => WhileSafe(() => Collector.RunExclusive(() =>
    {
        Safepoints.StopTheWorld(Options.SafepointTimeout, abandonable: true);
        try
        {
            lock (Handles.GlobalLock)
            {
                return HeapVerifier.Verify(AllocationSpace, Handles, RootSet.Capture(Handles, Safepoints.Mutators), Types);
            }
        }
        finally
        {
            Safepoints.ResumeTheWorld();
        }
    }));

    /// <summary>
    /// Counts the live objects per type (see <see cref="HeapCensus"/>): stops the world once and
    /// marks from every root (no compaction), after waiting for a collection in progress. The pause
    /// is proportional to the live data (like a marking), so this is a diagnostic for heap-usage
    /// reports, not something to call per request.
    /// </summary>
    /// <exception cref="GcHeapDisposedException">The heap is disposed, also when that happens before the queued census ran.</exception>
    /// <exception cref="GcCollectionFailedException">A collection failed (before or while waiting), or the census found a corrupt reference.</exception>
    /// <exception cref="GcThreadStateException">Called from a <see cref="CollectionCompleted"/> handler (the collector thread).</exception>
    /// <exception cref="GcSafepointTimeoutException">The stop waited longer than <see cref="HeapOptions.SafepointTimeout"/> for a thread; nothing was counted.</exception>
    public HeapCensus TakeCensus() => WhileSafe(() => Collector.RunExclusive(Collector.TakeCensus));

    /// <summary>
    /// Saves a consistent image of the heap (every object below the allocation high-water mark,
    /// the global roots and the types) to <paramref name="stream"/> while mutator threads keep
    /// running. Collections wait until the snapshot is written (one that is running finishes
    /// first). The heap is write-protected in slices while mutators run, then a short pause
    /// fixes the snapshot point: it protects only pages written or allocated since, and captures
    /// roots and types; afterwards a native thread saves pages in order, and a thread writing a page
    /// not saved yet waits until that page is saved (microseconds). Where the kernel cannot
    /// write-protect (see <see cref="UffdCapabilities.LiveSnapshots"/>) every page is copied inside
    /// the pause. Local handles are not saved: keep what must survive in <see cref="GcRoot"/>s.
    /// Load it with <see cref="LoadSnapshot(Stream, HeapOptions?)"/>. From an attached thread, the
    /// thread is in a safe region meanwhile.
    /// </summary>
    /// <param name="stream">A writable stream; written sequentially, flushed at the end, not closed.</param>
    /// <param name="options">Root names and tuning; null for defaults.</param>
    /// <returns>What the snapshot did and cost.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="stream"/> is not writable, or a named root is disposed, foreign or named twice.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="GcHeapDisposedException">The heap is disposed, also when that happens during the snapshot (which then stops; the stream holds an incomplete file).</exception>
    /// <exception cref="GcCollectionFailedException">A collection failed before.</exception>
    /// <exception cref="GcThreadStateException">Called from a <see cref="CollectionCompleted"/> handler (the collector thread).</exception>
    /// <exception cref="GcSnapshotFailedException">The native saver failed (an errno from userfaultfd); no protection is left behind.</exception>
    /// <exception cref="GcSafepointTimeoutException">With <see cref="HeapOptions.SafepointTimeout"/>: the snapshot's stop waited too long for a thread (named); nothing was saved, no protection is left behind.</exception>
    /// <exception cref="IOException">The stream threw; no protection is left behind and collections go on.</exception>
    public SnapshotStats SaveSnapshot(Stream stream, SnapshotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanWrite)
        {
            throw new ArgumentException("The stream is not writable.", nameof(stream));
        }

        var o = options ?? new SnapshotOptions();
        o.Validate();
        return WhileSafe(() => SnapshotSaver.Save(this, stream, o, incremental: false));
    }

    /// <summary>
    /// Saves only what changed since the previous snapshot of the chain: the pages written since
    /// its pause and the pages allocated since, with the roots and types as they are now; load it
    /// after the snapshots before it (<see cref="LoadSnapshot(IReadOnlyList{Stream}, HeapOptions?)"/>).
    /// The chain starts with a snapshot saved with <see cref="SnapshotOptions.TrackChanges"/> and
    /// goes on with each increment (they keep tracking). When there is no such snapshot, or a
    /// collection ran since (every object moved), this saves a full snapshot instead and says why
    /// in <see cref="SnapshotStats.IncrementalFallbackReason"/>. Otherwise as
    /// <see cref="SaveSnapshot(Stream, SnapshotOptions?)"/>, with the same exceptions.
    /// </summary>
    /// <param name="stream">A writable stream.</param>
    /// <param name="options">Root names and tuning; null for defaults.</param>
    /// <returns>What the snapshot did; <see cref="SnapshotStats.Incremental"/> says whether it is an increment.</returns>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> is null.</exception>
    /// <exception cref="ArgumentException"><paramref name="stream"/> is not writable, or a named root is invalid.</exception>
    /// <exception cref="GcHeapDisposedException">The heap is disposed.</exception>
    /// <exception cref="GcSnapshotFailedException">The native saver failed; the chain ends.</exception>
    /// <exception cref="GcSafepointTimeoutException">With <see cref="HeapOptions.SafepointTimeout"/>: the snapshot's stop waited too long for a thread (named); nothing was saved, no protection is left behind.</exception>
    public SnapshotStats SaveIncrementalSnapshot(Stream stream, SnapshotOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!stream.CanWrite)
        {
            throw new ArgumentException("The stream is not writable.", nameof(stream));
        }

        var o = options ?? new SnapshotOptions();
        o.Validate();
        return WhileSafe(() => SnapshotSaver.Save(this, stream, o, incremental: true));
    }

    /// <summary>
    /// Builds a new heap from a chain of snapshot files: a full snapshot followed by its increments
    /// in the order they were saved (each names its parent; a file out of order, missing or from
    /// another chain throws). The heap is the graph at the last file's pause. See
    /// <see cref="LoadSnapshot(Stream, HeapOptions?)"/>.
    /// </summary>
    /// <param name="chain">The full snapshot, then its increments.</param>
    /// <param name="options">Options of the new heap (null: defaults, with the saving heap's size limit).</param>
    /// <exception cref="ArgumentException"><paramref name="chain"/> is empty or holds null.</exception>
    /// <exception cref="GcSnapshotFormatException">A file is corrupt, or the files do not form one chain in order.</exception>
    public static LoadedSnapshot LoadSnapshot(IReadOnlyList<Stream> chain, HeapOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(chain);
        if (chain.Count == 0 || chain.Any(c => c is null))
        {
            throw new ArgumentException("The chain needs a full snapshot first and no null entries.", nameof(chain));
        }

        NativeLibraryCheck.EnsureCompatible();
        return SnapshotLoader.Load(chain, options);
    }

    /// <summary>
    /// Saves a snapshot to a new file at <paramref name="path"/> (replaced if it exists); see
    /// <see cref="SaveSnapshot(Stream, SnapshotOptions?)"/>. From an attached thread, opening the
    /// file (replacing a large file can take a file system hundreds of milliseconds) and closing it
    /// happen inside the safe region too, so a collection never waits for them.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty, or a named root is invalid.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (checked before the file is touched).</exception>
    /// <exception cref="IOException">The file cannot be written.</exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be written.</exception>
    /// <exception cref="GcHeapDisposedException">The heap is disposed.</exception>
    /// <exception cref="GcCollectionFailedException">A collection failed before.</exception>
    /// <exception cref="GcThreadStateException">Called from a <see cref="CollectionCompleted"/> handler (the collector thread).</exception>
    /// <exception cref="GcSnapshotFailedException">The native saver failed.</exception>
    /// <exception cref="GcSafepointTimeoutException">With <see cref="HeapOptions.SafepointTimeout"/>: the snapshot's stop waited too long for a thread (named); nothing was saved, no protection is left behind.</exception>
    public SnapshotStats SaveSnapshot(string path, SnapshotOptions? options = null) => SaveToFile(path, options, incremental: false);

    /// <summary>
    /// Saves an increment (see <see cref="SaveIncrementalSnapshot(Stream, SnapshotOptions?)"/>) to a
    /// new file at <paramref name="path"/> (replaced if it exists); the file is opened and closed
    /// inside the safe region, as for <see cref="SaveSnapshot(string, SnapshotOptions?)"/>.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="path"/> is null or empty, or a named root is invalid.</exception>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range (checked before the file is touched).</exception>
    /// <exception cref="IOException">The file cannot be written.</exception>
    /// <exception cref="UnauthorizedAccessException">The file may not be written.</exception>
    /// <exception cref="GcHeapDisposedException">The heap is disposed.</exception>
    /// <exception cref="GcCollectionFailedException">A collection failed before.</exception>
    /// <exception cref="GcThreadStateException">Called from a <see cref="CollectionCompleted"/> handler (the collector thread).</exception>
    /// <exception cref="GcSnapshotFailedException">The native saver failed; the chain ends.</exception>
    /// <exception cref="GcSafepointTimeoutException">With <see cref="HeapOptions.SafepointTimeout"/>: the snapshot's stop waited too long for a thread (named); nothing was saved, no protection is left behind.</exception>
    public SnapshotStats SaveIncrementalSnapshot(string path, SnapshotOptions? options = null) => SaveToFile(path, options, incremental: true);

    private SnapshotStats SaveToFile(string path, SnapshotOptions? options, bool incremental)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        var o = options ?? new SnapshotOptions();
        o.Validate();
        Collector.ThrowIfCollectorThread("A snapshot"); // before the file is replaced
        return WhileSafe(() =>
        {
            // A 64 KiB buffer: under the large-object threshold, so saving allocates no large
            // object that could bring a .NET gen2 collection (which suspends the mutators).
            using var f = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16);
            return SnapshotSaver.Save(this, f, o, incremental);
        });
    }

    /// <summary>
    /// Builds a new heap from a snapshot written by <see cref="SaveSnapshot(Stream, SnapshotOptions?)"/>:
    /// the same graph, types registered under the same names and ids, the saved global roots
    /// reachable by index and by the names given when saving. References are rebased to the new
    /// heap's addresses, the checksum is compared and the heap verified before it is returned.
    /// </summary>
    /// <param name="stream">A readable stream positioned at the snapshot.</param>
    /// <param name="options">Options of the new heap (null: defaults, with the saving heap's size limit).</param>
    /// <exception cref="ArgumentNullException"><paramref name="stream"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="options"/> limits the heap below the snapshot's size.</exception>
    /// <exception cref="GcSnapshotFormatException">The stream is not a snapshot of a supported version, is truncated, or its checksum or contents are wrong.</exception>
    /// <exception cref="IOException">The stream threw.</exception>
    public static LoadedSnapshot LoadSnapshot(Stream stream, HeapOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(stream);
        NativeLibraryCheck.EnsureCompatible();
        return SnapshotLoader.Load([stream], options);
    }

    /// <summary>Loads a snapshot from the file at <paramref name="path"/>; see <see cref="LoadSnapshot(Stream, HeapOptions?)"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="path"/> is empty.</exception>
    /// <exception cref="FileNotFoundException">No such file.</exception>
    /// <exception cref="GcSnapshotFormatException">The file is not a valid snapshot.</exception>
    public static LoadedSnapshot LoadSnapshot(string path, HeapOptions? options = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return LoadSnapshot(f, options);
    }

    /// <summary>The page-table copy buffer of snapshots (one at a time: they hold the collector), kept between snapshots.</summary>
    internal byte[]? SnapshotKindBuffer { get; set; }

    /// <summary>The saver of the last tracked snapshot (the next increment's base), or null; touched only by a snapshot (holding the collector), the collector thread and disposal.</summary>
    internal SnapshotTracker? SnapshotTracker { get; set; }

    /// <summary>Why the chain of increments ended, when a collection ended it.</summary>
    internal string? SnapshotChainBroken { get; set; }

    /// <summary>A collection is starting (collector thread): every object will move, so the chain of increments ends and write tracking stops.</summary>
    internal void OnCollectionStarting()
    {
        if (SnapshotTracker is { } t)
        {
            SnapshotTracker = null;
            SnapshotChainBroken = "a collection ran since the previous snapshot (every object moved)";
            t.Handle.Dispose();
        }
    }

    /// <summary>Hooks for tests that stage a snapshot's races.</summary>
    internal SnapshotTestHooks SnapshotHooks { get; } = new();

    /// <summary>True once <see cref="Dispose"/> has begun (a snapshot in progress stops).</summary>
    internal bool IsDisposing => Volatile.Read(ref _disposed) != 0;

    /// <summary>
    /// Frees the heap. Waits for a collection in progress and for every attached thread to reach
    /// a poll or a safe region (also after a failed collection); afterwards every call on a
    /// mutator throws <see cref="GcHeapDisposedException"/> (<see cref="GcCollectionFailedException"/>
    /// after a failure), and so do <see cref="Types"/>' members, <see cref="BytesInUse"/>,
    /// <see cref="ResidentBytes"/>, <see cref="AttachedThreads"/>, <see cref="Capabilities"/>,
    /// <see cref="Collect"/>, <see cref="Verify"/> and <see cref="AttachCurrentThread"/>. What
    /// was recorded stays readable: <see cref="Backend"/>, <see cref="BackendReason"/>,
    /// <see cref="UffdOpenMethod"/>, <see cref="Configuration"/>, <see cref="CollectionCount"/>,
    /// <see cref="LastCollection"/>, <see cref="History"/>, <see cref="Phase"/>. Disposing
    /// twice, or from a <see cref="CollectionCompleted"/> handler, is allowed (a second call
    /// returns once the first one has finished, except in a handler); roots disposed afterwards
    /// are ignored.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            WaitForDisposal();
            return;
        }

        try
        {
            var self = _current.Value;
            bool selfRunning = self is { IsDetached: false, State: MutatorState.Running } && self.IsCurrentThread;
            if (selfRunning)
            {
                Safepoints.EnterSafe(self!); // let the cycle in progress stop the world without us
            }

            Collector.Dispose();
            if (!Safepoints.Terminated)
            {
                Safepoints.StopTheWorld();
            }

            // After a failed collection the heap was terminated without a stop: threads may still be
            // in the middle of a call. Every poll throws now, so wait for them to reach one.
            Safepoints.Terminate();
            Safepoints.WaitUntilNoneRunning();
            Events.HeapDisposed(this);
            lock (_releaseLock)
            {
                if (Prefaulter is not null)
                {
                    _prefaultFinal = Prefaulter.Stats();
                    Prefaulter.Dispose(); // joined before the spaces it populates are unmapped
                }

                SnapshotTracker?.Handle.Dispose(); // its thread reads the space: gone before the space is
                SnapshotTracker = null;
                Uffd?.Dispose();
                _spaceA.Dispose();
                _spaceB.Dispose();
                Collector.Satb.Dispose(); // the barrier logs: no thread runs a barrier any more
                Handles.Dispose();
                Weak.Dispose();
                Identity.Dispose();
                Types.Release();
            }

            _current.Dispose();
        }
        finally
        {
            lock (_disposalLock)
            {
                _disposalDone = true;
                Monitor.PulseAll(_disposalLock);
            }
        }
    }

    /// <summary>
    /// A second <see cref="Dispose"/> returns once the first has finished (another thread may be
    /// tearing the heap down right now), out of the way of its stop like a thread in a safe
    /// region. On the collector thread (a handler) it cannot wait: the first disposal waits for
    /// that thread to end.
    /// </summary>
    private void WaitForDisposal()
    {
        if (Collector.IsCollectorThread)
        {
            return;
        }

        Mutator? self = null;
        try
        {
            self = _current.Value;
        }
        catch (ObjectDisposedException)
        {
            // The first disposal is past its last step.
        }

        if (self is { IsDetached: false, State: MutatorState.Running } && self.IsCurrentThread)
        {
            Safepoints.EnterSafe(self); // the heap is going: this thread will not touch it again
        }

        lock (_disposalLock)
        {
            while (!_disposalDone)
            {
                Monitor.Wait(_disposalLock);
            }
        }
    }

    internal Space SpaceA => _spaceA;

    internal Space SpaceB => _spaceB;

    internal Space OtherSpace(Space s) => ReferenceEquals(s, _spaceA) ? _spaceB : _spaceA;

    internal void Detach(Mutator m) => Safepoints.Unregister(m, release => m.DetachCore(release));

    internal void Fault(Exception e)
    {
        if (Interlocked.CompareExchange(ref _fault, e, null) is null)
        {
            Safepoints.Terminate();
        }
    }

    internal void ThrowIfFaulted()
    {
        var f = Volatile.Read(ref _fault);
        if (f is not null)
        {
            throw new GcCollectionFailedException("A collection failed; the heap cannot be used any more: " + f.Message, f);
        }
    }

    /// <summary>
    /// Both spaces as 2 MiB hugetlbfs memfds (capacity rounded up to whole 2 MiB pages), or
    /// (null, null) with the reason appended to <see cref="BackendReason"/>: the kernel or the pool
    /// lacks them (reserving the spaces' pages at mmap fails with ENOMEM when too few are free).
    /// </summary>
    private (Space?, Space?) TryHugePageSpaces()
    {
        var caps = _capabilities!;
        if (!caps.ContinueHugePages)
        {
            BackendReason += $"; with 4 KiB pages: 2 MiB pages are unavailable ({caps.ContinueHugePagesUnavailableReason})";
            return (null, null);
        }

        int pages = (CapacityPages + NativeConstants.HugePagePages - 1) / NativeConstants.HugePagePages * NativeConstants.HugePagePages;
        Space? a = null;
        try
        {
            a = new Space("A", pages, Options.DontForkHeap, shared: true, hugePages: true);
            var b = new Space("B", pages, Options.DontForkHeap, shared: true, hugePages: true);
            CapacityPages = pages;
            Options.MaxHeapBytes = (long)pages << ObjectLayout.PageShift;
            BackendReason += "; 2 MiB hugetlbfs pages";
            return (a, b);
        }
        catch (OutOfMemoryException e)
        {
            a?.Dispose();
            BackendReason += $"; with 4 KiB pages: the 2 x {pages / NativeConstants.HugePagePages} 2 MiB pages of the spaces could not be reserved ({e.Message} HugePages_Free was {caps.HugePagesFree})";
            return (null, null);
        }
    }

    /// <summary>The backend for a request of Move, Copy or Continue, given what the kernel offers.</summary>
    private static (GcBackend, string) ChooseBackend(GcBackend requested, UffdCapabilities caps)
    {
        if (!caps.Available)
        {
            return (GcBackend.StopTheWorld, $"{requested} requested but userfaultfd is unavailable ({caps.UffdUnavailableReason}); using StopTheWorld");
        }

        if (!caps.Copy)
        {
            return (GcBackend.StopTheWorld, $"{requested} requested but UFFDIO_COPY is not offered on anonymous memory; using StopTheWorld");
        }

        if (requested == GcBackend.Continue && !caps.Continue)
        {
            return caps.Move
                ? (GcBackend.Move, $"Continue requested but UFFDIO_CONTINUE on shared memory is unavailable ({caps.ContinueUnavailableReason}); using Move (UFFDIO_MOVE)")
                : (GcBackend.Copy, $"Continue requested but UFFDIO_CONTINUE on shared memory is unavailable ({caps.ContinueUnavailableReason}) and so is UFFDIO_MOVE ({caps.MoveUnavailableReason}); using Copy (UFFDIO_COPY + MADV_DONTNEED)");
        }

        if (requested == GcBackend.Move && !caps.Move)
        {
            return (GcBackend.Copy, $"Move requested but UFFDIO_MOVE is unavailable ({caps.MoveUnavailableReason}); using Copy (UFFDIO_COPY + MADV_DONTNEED)");
        }

        string mode = caps.HandlesKernelFaults ? "full mode" : "user-mode-only: system calls that touch a missing to-space page fail with EFAULT";
        return (requested, $"{requested} as requested (userfaultfd via {caps.OpenMethod}, {mode})");
    }

    private void OnCollected(CollectionStats s)
    {
        Events.Collected(s);
        CollectionCompleted?.Invoke(s);
    }

    private T WhileSafe<T>(Func<T> f)
    {
        ThrowIfDisposed();
        ThrowIfFaulted();
        var m = CurrentMutator();
        if (m is { IsDetached: false, State: MutatorState.Running } && m.IsCurrentThread)
        {
            using var region = m.EnterSafeRegion();
            return f();
        }

        return f();
    }

    /// <summary>The calling thread's mutator of this heap, or null; a heap disposed meanwhile throws <see cref="GcHeapDisposedException"/>.</summary>
    private Mutator? CurrentMutator()
    {
        try
        {
            return _current.Value;
        }
        catch (ObjectDisposedException)
        {
            throw new GcHeapDisposedException("heap");
        }
    }

    private void ThrowIfDisposed()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            throw new GcHeapDisposedException("heap");
        }
    }
}
