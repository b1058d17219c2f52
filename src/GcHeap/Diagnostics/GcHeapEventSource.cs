using System.Diagnostics.Tracing;
using System.Runtime.CompilerServices;
using GcHeap.ObjectModel;

namespace GcHeap.Diagnostics;

/// <summary>
/// GcHeap's EventSource ("GcHeap"): collection start/stop, every pause, and counters that
/// dotnet-counters, EventPipe sessions (Microsoft.Diagnostics.NETCore.Client) and in-process
/// listeners can read. Counters cover every heap in the process:
/// <list type="table">
/// <item><term>heap-size, live-bytes</term><description>pages handed out in the allocation space of every heap not disposed, live bytes after the last collection (MiB)</description></item>
/// <item><term>collections, collection-rate</term><description>collections completed (total, per second)</description></item>
/// <item><term>pauses, pause-time, last-pause, max-pause</term><description>mutator pauses (total count; ms paused per second; the last and the longest, ms)</description></item>
/// <item><term>faults-served, fault-rate</term><description>missing faults the collector served (total, per second)</description></item>
/// <item><term>zero-copy-share, pages-installed, pages-moved, pages-zero-copy, pages-copied, ebusy-fallbacks</term><description>
/// the last collection's share of installed pages that went in by UFFDIO_MOVE (%), and page totals by how they went in</description></item>
/// </list>
/// A session that passes the argument <c>CensusIntervalSec=N</c> (and optionally
/// <c>CensusTop=K</c>, default 10) also gets a <see cref="TypeCensus"/> event per heap and type
/// for the K types with the most live bytes, every N seconds: each takes one census pause
/// (<see cref="Heap.TakeCensus"/>, proportional to the live data). The runner's <c>monitor</c>
/// shows them.
/// </summary>
[EventSource(Name = "GcHeap")]
public sealed class GcHeapEventSource : EventSource
{
    /// <summary>The process-wide instance.</summary>
    public static readonly GcHeapEventSource Log = new();

    private long _collections;
    private long _faults;
    private long _ebusy;
    private readonly ConditionalWeakTable<Heap, object?> _heaps = new();
    private long _liveBytes;
    private long _pauses;
    private long _lastPauseMicros;
    private long _maxPauseMicros;
    private long _pagesZeroCopy;
    private long _pagesCopied;
    private long _pagesMoved;
    private long _pagesInstalled;
    private long _pauseMicrosTotal;
    private long _lastZeroCopyShareBasisPoints;
    private PollingCounter? _heapSizeCounter;
    private readonly object _censusLock = new();
    private Timer? _censusTimer;
    private int _censusTop = 10;
    private int _censusRunning;
    private PollingCounter? _liveCounter;
    private PollingCounter? _collectionsCounter;
    private PollingCounter? _faultsCounter;
    private PollingCounter? _ebusyCounter;
    private PollingCounter? _lastPauseCounter;
    private PollingCounter? _maxPauseCounter;
    private IncrementingPollingCounter? _collectionRate;
    private IncrementingPollingCounter? _faultRate;
    private PollingCounter? _zeroCopyCounter;
    private PollingCounter? _copiedCounter;
    private PollingCounter? _pausesCounter;
    private IncrementingPollingCounter? _pauseTime;
    private PollingCounter? _zeroCopyShareCounter;
    private PollingCounter? _movedCounter;
    private PollingCounter? _installedCounter;

    private GcHeapEventSource()
    {
    }

    /// <summary>Event ids.</summary>
    public static class EventIds
    {
        /// <summary>A collection started.</summary>
        public const int CollectionStart = 1;

        /// <summary>A collection ended.</summary>
        public const int CollectionStop = 2;

        /// <summary>Mutators were stopped for a pause.</summary>
        public const int Pause = 3;

        /// <summary>Summary of the faults the collector served in a collection.</summary>
        public const int FaultsServed = 4;

        /// <summary>A stop is waiting for threads that do not reach a safepoint.</summary>
        public const int SlowSafepoint = 5;

        /// <summary>One type's live objects in a periodic census (sessions asking for CensusIntervalSec).</summary>
        public const int TypeCensus = 6;

        /// <summary>A handshake ended: every thread did a per-thread operation without a global stop.</summary>
        public const int Handshake = 7;
    }

    /// <summary>A collection started.</summary>
    [Event(EventIds.CollectionStart, Level = EventLevel.Informational)]
    public void CollectionStart(long cycle, string backend, string reason) => WriteEvent(EventIds.CollectionStart, cycle, backend, reason);

    /// <summary>A collection ended.</summary>
    [Event(EventIds.CollectionStop, Level = EventLevel.Informational)]
    public void CollectionStop(long cycle, string backend, double cycleMs, double maxPauseMs, long liveBytes, long heapBytesAfter, long pagesZeroCopy, long pagesCopied, long ebusyFallbacks) =>
        WriteEvent(EventIds.CollectionStop, cycle, backend, cycleMs, maxPauseMs, liveBytes, heapBytesAfter, pagesZeroCopy, pagesCopied, ebusyFallbacks);

    /// <summary>Mutators were stopped for <paramref name="milliseconds"/>.</summary>
    [Event(EventIds.Pause, Level = EventLevel.Informational)]
    public void PauseEvent(string kind, double milliseconds) => WriteEvent(EventIds.Pause, kind, milliseconds);

    /// <summary>Faults served by the collector in one collection, with stall percentiles.</summary>
    [Event(EventIds.FaultsServed, Level = EventLevel.Informational)]
    public void FaultsServed(long cycle, long faults, double stallP50Us, double stallP99Us, double stallMaxUs) =>
        WriteEvent(EventIds.FaultsServed, cycle, faults, stallP50Us, stallP99Us, stallMaxUs);

    /// <summary>
    /// A handshake of kind <paramref name="kind"/> ended: <paramref name="threads"/> threads asked,
    /// <paramref name="doneByCollector"/> answered for by the collector; the collector waited
    /// <paramref name="milliseconds"/>, and no thread was held longer than <paramref name="maxHeldMs"/>.
    /// </summary>
    [Event(EventIds.Handshake, Level = EventLevel.Informational)]
    public void HandshakeEvent(string kind, double milliseconds, int threads, int doneByCollector, double maxHeldMs) =>
        WriteEvent(EventIds.Handshake, kind, milliseconds, threads, doneByCollector, maxHeldMs);

    /// <summary>A stop has waited long for the named threads.</summary>
    [Event(EventIds.SlowSafepoint, Level = EventLevel.Warning)]
    public void SlowSafepoint(string threads) => WriteEvent(EventIds.SlowSafepoint, threads);

    /// <summary>
    /// Rank <paramref name="rank"/> (1 = most bytes) of a census of heap <paramref name="heap"/>:
    /// <paramref name="count"/> live objects of <paramref name="type"/> in <paramref name="bytes"/>
    /// bytes; the census stopped mutators for <paramref name="pauseMs"/>.
    /// </summary>
    [Event(EventIds.TypeCensus, Level = EventLevel.Informational)]
    public void TypeCensus(string heap, int rank, string type, long count, long bytes, double pauseMs) =>
        WriteEvent(EventIds.TypeCensus, heap, rank, type, count, bytes, pauseMs);

    [NonEvent]
    private void CensusTick()
    {
        if (Interlocked.Exchange(ref _censusRunning, 1) != 0)
        {
            return; // the previous census is still running
        }

        try
        {
            foreach (var (heap, _) in _heaps)
            {
                HeapCensus census;
                try
                {
                    census = heap.TakeCensus();
                }
                catch (Exception e) when (e is GcHeapException or ObjectDisposedException)
                {
                    continue; // disposed, failed, or busy past its safepoint timeout: nothing to report
                }

                string name = $"heap {heap.Tag}";
                int rank = 0;
                foreach (var t in census.Top(Volatile.Read(ref _censusTop)))
                {
                    TypeCensus(name, ++rank, t.Type.Name, t.Count, t.Bytes, census.PauseMs);
                }
            }
        }
        finally
        {
            Volatile.Write(ref _censusRunning, 0);
        }
    }

    [NonEvent]
    private void ConfigureCensus(EventCommandEventArgs command)
    {
        lock (_censusLock)
        {
            if (command.Command == EventCommand.Disable)
            {
                _censusTimer?.Dispose();
                _censusTimer = null;
                return;
            }

            var args = command.Arguments;
            if (args is null || !args.TryGetValue("CensusIntervalSec", out string? interval) ||
                !double.TryParse(interval, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out double seconds) || !(seconds > 0))
            {
                return;
            }

            if (args.TryGetValue("CensusTop", out string? top) && int.TryParse(top, out int k) && k > 0)
            {
                Volatile.Write(ref _censusTop, Math.Min(k, 1000));
            }

            var period = TimeSpan.FromSeconds(Math.Max(0.05, seconds));
            _censusTimer?.Dispose();
            _censusTimer = new Timer(static s => ((GcHeapEventSource)s!).CensusTick(), this, period, period); // static: a lambda on this type would be taken for an event
        }
    }

    [NonEvent]
    internal void Pause(PauseRecord p)
    {
        long us = (long)(p.Milliseconds * 1000);
        Interlocked.Increment(ref _pauses);
        Interlocked.Add(ref _pauseMicrosTotal, us);
        Interlocked.Exchange(ref _lastPauseMicros, us);
        long max;
        while (us > (max = Interlocked.Read(ref _maxPauseMicros)) && Interlocked.CompareExchange(ref _maxPauseMicros, us, max) != max)
        {
        }

        if (IsEnabled())
        {
            PauseEvent(p.Kind.ToString(), p.Milliseconds);
        }
    }

    [NonEvent]
    internal void Handshake(HandshakeRecord h)
    {
        if (IsEnabled())
        {
            HandshakeEvent(h.Kind.ToString(), h.Milliseconds, h.Threads, h.DoneByCollector, h.MaxHeldMs);
        }
    }

    [NonEvent]
    internal void Collected(CollectionStats s)
    {
        Interlocked.Increment(ref _collections);
        Interlocked.Add(ref _faults, s.FaultsServed);
        Interlocked.Add(ref _ebusy, s.EbusyFallbacks);
        Interlocked.Add(ref _pagesZeroCopy, s.PagesZeroCopy);
        Interlocked.Add(ref _pagesCopied, s.PagesCopied);
        Interlocked.Add(ref _pagesMoved, s.PagesMoved);
        Interlocked.Add(ref _pagesInstalled, s.PagesInstalled);
        Interlocked.Exchange(ref _lastZeroCopyShareBasisPoints, (long)Math.Round(s.ZeroCopyShare * 10_000));
        Interlocked.Exchange(ref _liveBytes, s.LiveBytes);
        if (IsEnabled())
        {
            CollectionStop(s.Cycle, s.Backend.ToString(), s.CycleMs, s.MaxPauseMs, s.LiveBytes, s.HeapBytesAfter, s.PagesZeroCopy, s.PagesCopied, s.EbusyFallbacks);
            if (s.FaultsServed > 0)
            {
                FaultsServed(s.Cycle, s.FaultsServed, s.FaultStallP50Us, s.FaultStallP99Us, s.FaultStallMaxUs);
            }
        }
    }

    /// <summary>Collections completed by every heap of the process (the "collections" counter).</summary>
    internal long CollectionsTotal => Interlocked.Read(ref _collections);

    [NonEvent]
    internal void HeapCreated(Heap heap) => _heaps.AddOrUpdate(heap, null);

    [NonEvent]
    internal void HeapDisposed(Heap heap) => _heaps.Remove(heap);

    /// <summary>Pages handed out in the allocation space of every heap not disposed, in bytes.</summary>
    [NonEvent]
    private long HeapBytes()
    {
        long pages = 0;
        foreach (var (heap, _) in _heaps)
        {
            pages += heap.AllocationSpace.PagesInUse;
        }

        return pages << ObjectLayout.PageShift;
    }

    /// <inheritdoc />
    protected override void OnEventCommand(EventCommandEventArgs command)
    {
        ConfigureCensus(command);
        if (command.Command != EventCommand.Enable)
        {
            return;
        }

        _heapSizeCounter ??= new PollingCounter("heap-size", this, () => HeapBytes() / 1048576.0) { DisplayName = "Heap pages in use", DisplayUnits = "MiB" };
        _liveCounter ??= new PollingCounter("live-bytes", this, () => Interlocked.Read(ref _liveBytes) / 1048576.0) { DisplayName = "Live after last collection", DisplayUnits = "MiB" };
        _collectionsCounter ??= new PollingCounter("collections", this, () => Interlocked.Read(ref _collections)) { DisplayName = "Collections" };
        _collectionRate ??= new IncrementingPollingCounter("collection-rate", this, () => Interlocked.Read(ref _collections)) { DisplayName = "Collections", DisplayRateTimeScale = TimeSpan.FromSeconds(1) };
        _lastPauseCounter ??= new PollingCounter("last-pause", this, () => Interlocked.Read(ref _lastPauseMicros) / 1000.0) { DisplayName = "Last pause", DisplayUnits = "ms" };
        _maxPauseCounter ??= new PollingCounter("max-pause", this, () => Interlocked.Read(ref _maxPauseMicros) / 1000.0) { DisplayName = "Longest pause", DisplayUnits = "ms" };
        _faultsCounter ??= new PollingCounter("faults-served", this, () => Interlocked.Read(ref _faults)) { DisplayName = "Faults served by the collector" };
        _faultRate ??= new IncrementingPollingCounter("fault-rate", this, () => Interlocked.Read(ref _faults)) { DisplayName = "Faults served", DisplayRateTimeScale = TimeSpan.FromSeconds(1) };
        _ebusyCounter ??= new PollingCounter("ebusy-fallbacks", this, () => Interlocked.Read(ref _ebusy)) { DisplayName = "EBUSY fallbacks (COPY + DONTNEED)" };
        _zeroCopyCounter ??= new PollingCounter("pages-zero-copy", this, () => Interlocked.Read(ref _pagesZeroCopy)) { DisplayName = "Whole pages moved in place (not a byte copied)" };
        _copiedCounter ??= new PollingCounter("pages-copied", this, () => Interlocked.Read(ref _pagesCopied)) { DisplayName = "Pages installed by COPY" };
        _pausesCounter ??= new PollingCounter("pauses", this, () => Interlocked.Read(ref _pauses)) { DisplayName = "Pauses" };
        _pauseTime ??= new IncrementingPollingCounter("pause-time", this, () => Interlocked.Read(ref _pauseMicrosTotal) / 1000.0) { DisplayName = "Time paused", DisplayUnits = "ms", DisplayRateTimeScale = TimeSpan.FromSeconds(1) };
        _zeroCopyShareCounter ??= new PollingCounter("zero-copy-share", this, () => Interlocked.Read(ref _lastZeroCopyShareBasisPoints) / 100.0) { DisplayName = "Zero-copy share of the last collection (pages installed by MOVE or CONTINUE)", DisplayUnits = "%" };
        _movedCounter ??= new PollingCounter("pages-moved", this, () => Interlocked.Read(ref _pagesMoved)) { DisplayName = "Pages installed by MOVE" };
        _installedCounter ??= new PollingCounter("pages-installed", this, () => Interlocked.Read(ref _pagesInstalled)) { DisplayName = "Pages installed" };
    }
}
