using System.Diagnostics.Tracing;

namespace GcHeap.Diagnostics;

/// <summary>
/// GcHeap's EventSource ("GcHeap"): collection start/stop, every pause, and counters that
/// dotnet-counters, EventPipe sessions (Microsoft.Diagnostics.NETCore.Client) and in-process
/// listeners can read. Counters cover every heap in the process.
/// </summary>
[EventSource(Name = "GcHeap")]
public sealed class GcHeapEventSource : EventSource
{
    /// <summary>The process-wide instance.</summary>
    public static readonly GcHeapEventSource Log = new();

    private long _collections;
    private long _faults;
    private long _ebusy;
    private long _heapBytes;
    private long _liveBytes;
    private long _pauses;
    private long _lastPauseMicros;
    private long _maxPauseMicros;
    private long _pagesZeroCopy;
    private long _pagesCopied;
    private PollingCounter? _heapSizeCounter;
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

    /// <summary>A stop has waited long for the named threads.</summary>
    [Event(EventIds.SlowSafepoint, Level = EventLevel.Warning)]
    public void SlowSafepoint(string threads) => WriteEvent(EventIds.SlowSafepoint, threads);

    [NonEvent]
    internal void Pause(PauseRecord p)
    {
        long us = (long)(p.Milliseconds * 1000);
        Interlocked.Increment(ref _pauses);
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
    internal void Collected(CollectionStats s)
    {
        Interlocked.Increment(ref _collections);
        Interlocked.Add(ref _faults, s.FaultsServed);
        Interlocked.Add(ref _ebusy, s.EbusyFallbacks);
        Interlocked.Add(ref _pagesZeroCopy, s.PagesZeroCopy);
        Interlocked.Add(ref _pagesCopied, s.PagesCopied);
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

    [NonEvent]
    internal void HeapBytesChanged(long delta) => Interlocked.Add(ref _heapBytes, delta);

    /// <inheritdoc />
    protected override void OnEventCommand(EventCommandEventArgs command)
    {
        if (command.Command != EventCommand.Enable)
        {
            return;
        }

        _heapSizeCounter ??= new PollingCounter("heap-size", this, () => Interlocked.Read(ref _heapBytes) / 1048576.0) { DisplayName = "Heap pages in use", DisplayUnits = "MiB" };
        _liveCounter ??= new PollingCounter("live-bytes", this, () => Interlocked.Read(ref _liveBytes) / 1048576.0) { DisplayName = "Live after last collection", DisplayUnits = "MiB" };
        _collectionsCounter ??= new PollingCounter("collections", this, () => Interlocked.Read(ref _collections)) { DisplayName = "Collections" };
        _collectionRate ??= new IncrementingPollingCounter("collection-rate", this, () => Interlocked.Read(ref _collections)) { DisplayName = "Collections", DisplayRateTimeScale = TimeSpan.FromSeconds(1) };
        _lastPauseCounter ??= new PollingCounter("last-pause", this, () => Interlocked.Read(ref _lastPauseMicros) / 1000.0) { DisplayName = "Last pause", DisplayUnits = "ms" };
        _maxPauseCounter ??= new PollingCounter("max-pause", this, () => Interlocked.Read(ref _maxPauseMicros) / 1000.0) { DisplayName = "Longest pause", DisplayUnits = "ms" };
        _faultsCounter ??= new PollingCounter("faults-served", this, () => Interlocked.Read(ref _faults)) { DisplayName = "Faults served by the collector" };
        _faultRate ??= new IncrementingPollingCounter("fault-rate", this, () => Interlocked.Read(ref _faults)) { DisplayName = "Faults served", DisplayRateTimeScale = TimeSpan.FromSeconds(1) };
        _ebusyCounter ??= new PollingCounter("ebusy-fallbacks", this, () => Interlocked.Read(ref _ebusy)) { DisplayName = "EBUSY fallbacks (COPY + DONTNEED)" };
        _zeroCopyCounter ??= new PollingCounter("pages-zero-copy", this, () => Interlocked.Read(ref _pagesZeroCopy)) { DisplayName = "Pages moved zero-copy" };
        _copiedCounter ??= new PollingCounter("pages-copied", this, () => Interlocked.Read(ref _pagesCopied)) { DisplayName = "Pages installed by COPY" };
    }
}
