using System.Diagnostics;
using System.Runtime.CompilerServices;
using GcHeap.Marking;

namespace GcHeap.Collection;

/// <summary>
/// The heap's collector thread (managed) and its request protocol. Collections are requested
/// (<see cref="CollectAndWait"/>, an allocation trigger, a full heap) and run one at a time on
/// this thread; Collector.Cycles.cs holds the cycle itself. Work that needs the heap
/// quiescent and exclusive (verification) is queued here too.
/// </summary>
internal sealed partial class Collector : IDisposable
{
    private readonly Heap _heap;
    private readonly object _lock = new();
    private readonly Thread _thread;
    private readonly Queue<QueuedWork> _work = new();
    private readonly List<CollectionStats> _history = [];
    private long _requested;
    private long _started;
    private long _completed;
    private CollectionReason _pendingReason;
    private bool _shutdown;
    private Exception? _failure;
    private long _failedCycle;
    private CollectionStats? _last;
    private long _pagesSinceCycle;
    private long _triggerPages;
    private int _backgroundPending;
    private long _abandonedCount;

    // Cycle numbers are reused when a cycle is abandoned; attempts are not. A waiter waits for
    // the first attempt that starts after its call, and hears if that one is abandoned.
    private long _attempts;
    private long _completedAttempt;
    private long _abandonedAttempt;
    private GcSafepointTimeoutException? _abandonReason;

    public Collector(Heap heap)
    {
        _heap = heap;
        Satb = new SatbQueue();
        _triggerPages = InitialTriggerPages(heap.Options);
        try
        {
            InitCycleState();
        }
        catch
        {
            ReleasePartialCycleState();
            throw;
        }

        _thread = new Thread(Run) { IsBackground = true, Name = "GcHeap collector" };
        try
        {
            _thread.Start();
        }
        catch
        {
            DisposeCycleState();
            Satb.Dispose(); // no mutator can have attached: the heap is not constructed
            throw;
        }
    }

    /// <summary>Published SATB buffers.</summary>
    public SatbQueue Satb { get; }

    /// <summary>Hooks for tests that stage races (see <see cref="CollectorTestHooks"/>).</summary>
    public CollectorTestHooks TestHooks { get; } = new();

    /// <summary>Live bytes found by the last collection.</summary>
    public long LastLiveBytes { get; private set; }

    public long CompletedCycles
    {
        get
        {
            lock (_lock)
            {
                return _completed;
            }
        }
    }

    public CollectionStats? Last
    {
        get
        {
            lock (_lock)
            {
                return _last;
            }
        }
    }

    public IReadOnlyList<CollectionStats> History
    {
        get
        {
            lock (_lock)
            {
                return [.. _history];
            }
        }
    }

    /// <summary>Raised on the collector thread after each collection.</summary>
    public event Action<CollectionStats>? Completed;

    /// <summary>True on the collector thread itself (in a <see cref="Completed"/> handler).</summary>
    public bool IsCollectorThread => Thread.CurrentThread == _thread;

    /// <summary>Requests a collection that starts after this call and waits for it. The caller must not be a running mutator.</summary>
    /// <exception cref="GcThreadStateException">Called on the collector thread, which would wait for itself.</exception>
    public CollectionStats CollectAndWait(CollectionReason reason)
    {
        ThrowIfCollectorThread("A collection");
        lock (_lock)
        {
            ThrowIfUnusable();
            long target = _started + 1;
            long first = _attempts + 1; // the first cycle to start after this call, whatever its number
            if (_requested < target)
            {
                _requested = target;
                _pendingReason = reason;
            }

            Monitor.PulseAll(_lock);
            while (_completedAttempt < first && _abandonedAttempt < first && _failure is null && !_shutdown)
            {
                Monitor.Wait(_lock);
            }

            if (_failure is not null && _failedCycle >= target)
            {
                throw new GcCollectionFailedException("The collection failed; the heap cannot be used any more: " + _failure.Message, _failure);
            }

            if (_completedAttempt < first && _abandonedAttempt >= first && _abandonReason is { } why)
            {
                throw new GcSafepointTimeoutException(why.Message, why) { Awaited = why.Awaited, Waited = why.Waited };
            }

            ThrowIfUnusable();
            return _last!;
        }
    }

    /// <summary>Called by an allocation that found the heap full (the mutator is in a safe region).</summary>
    public void CollectForAllocation() => CollectAndWait(CollectionReason.HeapFull);

    /// <summary>Counts pages handed to mutators; starts a background collection past the trigger.</summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    public void NoteAllocatedPages(int pages)
    {
        long total = Interlocked.Add(ref _pagesSinceCycle, pages);
        if (total >= Volatile.Read(ref _triggerPages) && _heap.Options.BackgroundCollection &&
            Interlocked.CompareExchange(ref _backgroundPending, 1, 0) == 0)
        {
            lock (_lock)
            {
                if (_requested <= _started)
                {
                    _requested = _started + 1;
                    _pendingReason = CollectionReason.AllocationVolume;
                    Monitor.PulseAll(_lock);
                }
            }
        }
    }

    /// <summary>
    /// Runs <paramref name="work"/> on the collector thread between collections and waits for it.
    /// Work still queued when the heap is disposed or a collection fails does not run: the
    /// waiter gets <see cref="GcHeapDisposedException"/> or <see cref="GcCollectionFailedException"/>.
    /// </summary>
    /// <exception cref="GcThreadStateException">Called on the collector thread, which would wait for itself.</exception>
    public T RunExclusive<T>(Func<T> work)
    {
        ThrowIfCollectorThread("Exclusive work (verification)");
        var item = new QueuedWork<T>(work);
        lock (_lock)
        {
            ThrowIfUnusable();
            _work.Enqueue(item);
            Monitor.PulseAll(_lock);
        }

        item.Wait();
        return item.Result;
    }

    /// <summary>
    /// Parks the collector thread between collections until the returned hold is released (a
    /// snapshot holds it from before its pre-copy until its last page is written).
    /// </summary>
    /// <exception cref="GcThreadStateException">Called on the collector thread, which would wait for itself.</exception>
    /// <exception cref="GcHeapDisposedException">The heap is disposed before the hold began.</exception>
    /// <exception cref="GcCollectionFailedException">A collection failed before the hold began.</exception>
    public CollectionHold Hold()
    {
        ThrowIfCollectorThread("A snapshot");
        var hold = new CollectionHold();
        lock (_lock)
        {
            ThrowIfUnusable();
            _work.Enqueue(hold);
            Monitor.PulseAll(_lock);
        }

        hold.WaitEntered();
        return hold;
    }

    /// <summary>
    /// Stops the thread after the cycle in progress (if any) completes; work still queued is
    /// cancelled. On the collector thread itself (a handler disposing the heap) it does not wait.
    /// </summary>
    public void Dispose()
    {
        List<QueuedWork> cancelled;
        lock (_lock)
        {
            _shutdown = true;
            cancelled = TakeQueuedWork();
            Monitor.PulseAll(_lock);
        }

        Cancel(cancelled, new GcHeapDisposedException("heap"));
        if (!IsCollectorThread)
        {
            _thread.Join();
        }

        DisposeCycleState();
    }

    private static long InitialTriggerPages(HeapOptions o)
    {
        long pages = o.CollectionTriggerBytes > 0 ? o.CollectionTriggerBytes / 4096 : Math.Max(1024, o.MaxHeapBytes / 4096 / 4);
        return Math.Max(16, pages);
    }

    /// <summary>Frees what a failed <c>InitCycleState</c> had created (its last step, the native plan, cannot have succeeded).</summary>
    private void ReleasePartialCycleState()
    {
        Satb.Dispose();
        _marker?.Dispose();
        _bitmap?.Dispose();
        _plan?.Dispose();
    }

    private static void Cancel(List<QueuedWork> work, Exception reason)
    {
        foreach (var w in work)
        {
            w.Cancel(reason);
        }
    }

    internal void ThrowIfCollectorThread(string what)
    {
        if (IsCollectorThread)
        {
            throw new GcThreadStateException(
                $"{what} cannot be requested on the heap's collector thread (from a CollectionCompleted handler): it would wait for this very thread. " +
                "Request it from another thread.");
        }
    }

    /// <summary>Empties the work queue; called under the lock.</summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    private List<QueuedWork> TakeQueuedWork()
    {
        var taken = new List<QueuedWork>(_work);
        _work.Clear();
        return taken;
    }

    private void ThrowIfUnusable()
    {
        if (_failure is not null)
        {
            throw new GcCollectionFailedException("A previous collection failed; the heap cannot be used: " + _failure.Message, _failure);
        }

        if (_shutdown)
        {
            throw new GcHeapDisposedException("heap");
        }
    }

    [MethodImpl(CollectorCode.OptimizeOnce)]
    private void Run()
    {
        CollectorWarmup.Run(_heap);
        while (true)
        {
            QueuedWork? work = null;
            CollectionReason reason;
            long attempt = 0;
            lock (_lock)
            {
                while (_requested <= _started && _work.Count == 0 && !_shutdown)
                {
                    Monitor.Wait(_lock);
                }

                if (_work.Count > 0)
                {
                    work = _work.Dequeue();
                }
                else if (_shutdown)
                {
                    Monitor.PulseAll(_lock);
                    break;
                }

                reason = _pendingReason;
                if (work is null)
                {
                    _started++;
                    attempt = ++_attempts;
                }
            }

            if (work is not null)
            {
                work.Run();
                continue;
            }

            CollectionStats? stats = null;
            try
            {
                Interlocked.Exchange(ref _pagesSinceCycle, 0);
                _heap.OnCollectionStarting(); // ends a chain of snapshot increments
                if (Heap.Events.IsEnabled())
                {
                    Heap.Events.CollectionStart(_started, _heap.Backend.ToString(), reason.ToString());
                }

                stats = RunCycle(_started, reason);
            }
            catch (GcSafepointTimeoutException e)
            {
                Abandon(e, attempt);
                continue;
            }
            catch (Exception e)
            {
                _heap.Fault(e);
                List<QueuedWork> cancelled;
                lock (_lock)
                {
                    _failure = e;
                    _failedCycle = _started;
                    cancelled = TakeQueuedWork();
                    Monitor.PulseAll(_lock);
                }

                Cancel(cancelled, new GcCollectionFailedException("A collection failed; the heap cannot be used any more: " + e.Message, e));
                return;
            }

            lock (_lock)
            {
                _last = stats;
                _history.Add(stats);
                if (_history.Count > Math.Max(1, _heap.Options.HistoryLength))
                {
                    _history.RemoveAt(0);
                }

                LastLiveBytes = stats.LiveBytes;
                Volatile.Write(ref _triggerPages, NextTriggerPages(stats));
                Interlocked.Exchange(ref _backgroundPending, 0);
            }

            // Listeners hear about a collection before Collect() returns for it.
            try
            {
                Completed?.Invoke(stats);
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                Trace.TraceError($"GcHeap: a CollectionCompleted handler threw: {e}");
            }

            lock (_lock)
            {
                _completed = _started;
                _completedAttempt = attempt;
                Monitor.PulseAll(_lock);
            }
        }
    }

    /// <summary>
    /// A stop of the cycle timed out (<see cref="HeapOptions.SafepointTimeout"/>) before anything
    /// moved (marks and plan were dropped already): the cycle is dropped (its number is reused),
    /// whoever waits for it hears why, a request for a later cycle moves down with the numbering
    /// (one cycle still runs for it), and the allocation trigger re-arms.
    /// </summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    private void Abandon(GcSafepointTimeoutException e, long attempt)
    {
        Trace.TraceWarning($"GcHeap: collection {_started} abandoned: {e.Message}");
        lock (_lock)
        {
            _abandonedAttempt = attempt;
            _abandonedCount++;
            _abandonReason = e;
            _requested--; // at least _started: this cycle ran because it was requested
            _started--;
            Interlocked.Exchange(ref _backgroundPending, 0);
            Monitor.PulseAll(_lock);
        }
    }

    /// <summary>Collections abandoned because a stop timed out.</summary>
    public long AbandonedCycles
    {
        get
        {
            lock (_lock)
            {
                return _abandonedCount;
            }
        }
    }

    [MethodImpl(CollectorCode.OptimizeOnce)]
    private long NextTriggerPages(CollectionStats s)
    {
        var o = _heap.Options;
        if (o.CollectionTriggerBytes > 0)
        {
            return Math.Max(16, o.CollectionTriggerBytes / 4096);
        }

        // Collect again after allocating as much as survived (at least 4 MiB), but early enough
        // that a concurrent cycle can finish before the space fills up.
        long capacity = o.MaxHeapBytes / 4096;
        long after = s.HeapBytesAfter / 4096;
        long pages = Math.Max(1024, after);
        long headroom = Math.Max(16, (capacity - after) / 2);
        return Math.Clamp(pages, 16, headroom);
    }
}
