using System.Diagnostics.Tracing;
using System.Globalization;

namespace GcHeap.Experiments.Harness;

/// <summary>
/// Every .NET collection of this process as it starts (GCStart: generation, reason and the kernel
/// id of the thread that raised it, i.e. the allocating thread for an allocation-triggered one),
/// with how long the runtime held its threads for it, and what the run was doing (a label read
/// when the event is dispatched, which lags the event by at most the listener's dispatch delay).
/// Answers "whose allocation started the .NET GC that landed inside a GcHeap pause".
/// </summary>
internal sealed class DotnetGcLog : EventListener
{
    // Microsoft-Windows-DotNETRuntime: GC keyword; GCStart_V2, GCRestartEEEnd, GCSuspendEEBegin.
    private const long GcKeyword = 0x1;
    private const int GcStart = 1;
    private const int RestartEEEnd = 3;
    private const int SuspendEEBegin = 9;
    private const int AllocationTick = 10;

    private readonly object _lock = new();
    private readonly List<Entry> _entries = [];
    private readonly List<LargeAllocation> _large = [];
    private readonly Dictionary<int, string> _names = [];
    private readonly Dictionary<(string Thread, string Type), long> _smallTicks = [];
    private Func<string>? _label;
    private DateTime? _suspendStart;
    private readonly DateTime _utc0 = DateTime.UtcNow;
    private readonly long _ts0 = System.Diagnostics.Stopwatch.GetTimestamp();

    public DotnetGcLog(Func<string> label)
    {
        lock (_lock)
        {
            _label = label;
        }

        foreach (var source in EventSource.GetSources())
        {
            OnEventSourceCreated(source);
        }
    }

    /// <summary>One .NET collection: when it started, its number and generation, why, on which thread, for how long the runtime was suspended around it, and the run's label then.</summary>
    public sealed record Entry(DateTime Start, long StartTimestamp, long Count, int Generation, string Reason, int OsThreadId, string ThreadName, string Label)
    {
        // StartTimestamp: Start on the Stopwatch clock (CLOCK_MONOTONIC ns on Linux), to compare with PauseStartTimestamp.

        /// <summary>From the runtime's suspension for it to its restart, ms (0 until seen).</summary>
        public double SuspendedMs { get; set; }
    }

    /// <summary>A large-object allocation sampled by the runtime (AllocationTick, one per ~100 KB allocated on the large-object heap): its type, size, thread and the run's label.</summary>
    public sealed record LargeAllocation(long StartTimestamp, string TypeName, long ObjectSize, int OsThreadId, string ThreadName, string Label);

    /// <summary>Every large-object allocation tick seen so far.</summary>
    public IReadOnlyList<LargeAllocation> LargeAllocations
    {
        get
        {
            lock (_lock)
            {
                return [.. _large];
            }
        }
    }

    /// <summary>
    /// Small-object allocation ticks (one per ~100 KB allocated on the small-object heap) by
    /// thread name and the type of the allocation that crossed the tick, most first: what keeps
    /// gen0 filling.
    /// </summary>
    public IReadOnlyList<(string Thread, string Type, long Ticks)> SmallAllocationTicks
    {
        get
        {
            lock (_lock)
            {
                return [.. _smallTicks.OrderByDescending(kv => kv.Value).Select(kv => (kv.Key.Thread, kv.Key.Type, kv.Value))];
            }
        }
    }

    /// <summary>Every collection seen so far.</summary>
    public IReadOnlyList<Entry> Entries
    {
        get
        {
            lock (_lock)
            {
                return [.. _entries];
            }
        }
    }

    protected override void OnEventSourceCreated(EventSource source)
    {
        lock (_lock)
        {
            if (_label is null)
            {
                return; // the base constructor calls this before the fields exist; the constructor replays
            }
        }

        if (source.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(source, EventLevel.Verbose, (EventKeywords)GcKeyword); // Verbose: AllocationTick
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        lock (_lock)
        {
            switch (e.EventId)
            {
                case SuspendEEBegin:
                    _suspendStart = e.TimeStamp;
                    break;
                case GcStart when e.Payload is { Count: >= 3 } p:
                    int tid = (int)e.OSThreadId;
                    _entries.Add(new Entry(e.TimeStamp, Timestamp(e.TimeStamp), Convert.ToInt64(p[0], CultureInfo.InvariantCulture), Convert.ToInt32(p[1], CultureInfo.InvariantCulture),
                        ReasonName(Convert.ToInt32(p[2], CultureInfo.InvariantCulture)), tid, ThreadName(tid), _label!()));
                    break;
                case AllocationTick when e.Payload is { } sp && e.PayloadNames is { } sn && Convert.ToInt32(sp[sn.IndexOf("AllocationKind")], CultureInfo.InvariantCulture) == 0:
                    var key = (ThreadName((int)e.OSThreadId), (string)sp[sn.IndexOf("TypeName")]!);
                    _smallTicks[key] = _smallTicks.GetValueOrDefault(key) + 1;
                    break;
                case AllocationTick when e.Payload is { } p && e.PayloadNames is { } names && Convert.ToInt32(p[names.IndexOf("AllocationKind")], CultureInfo.InvariantCulture) == 1:
                    int at = (int)e.OSThreadId;
                    int size = names.IndexOf("ObjectSize");
                    _large.Add(new LargeAllocation(Timestamp(e.TimeStamp), (string)p[names.IndexOf("TypeName")]!, size >= 0 ? Convert.ToInt64(p[size], CultureInfo.InvariantCulture) : -1,
                        at, ThreadName(at), _label!()));
                    break;
                case RestartEEEnd when _suspendStart is DateTime s:
                    if (_entries.Count > 0 && _entries[^1].SuspendedMs == 0 && _entries[^1].Start >= s)
                    {
                        _entries[^1].SuspendedMs = (e.TimeStamp - s).TotalMilliseconds;
                    }

                    _suspendStart = null;
                    break;
            }
        }
    }

    private long Timestamp(DateTime utc) => _ts0 + (long)((utc - _utc0).Ticks * (System.Diagnostics.Stopwatch.Frequency / (double)TimeSpan.TicksPerSecond));

    /// <summary>The thread's name (its comm), read once per thread: allocation ticks come often, and a file read per event would weigh on the run it observes (a thread renamed after its first event keeps its first name).</summary>
    private string ThreadName(int tid)
    {
        if (_names.TryGetValue(tid, out var name))
        {
            return name;
        }

        try
        {
            name = File.ReadAllText($"/proc/self/task/{tid}/comm").Trim();
        }
        catch (IOException)
        {
            name = "?";
        }

        _names[tid] = name;
        return name;
    }

    // gc_reason in the runtime's gc.h.
    private static string ReasonName(int reason) => reason switch
    {
        0 => "alloc-soh",
        1 => "induced",
        2 => "low-memory",
        3 => "empty",
        4 => "alloc-loh",
        5 => "oos-soh",
        6 => "oos-loh",
        7 => "induced-not-forced",
        8 => "internal",
        9 => "induced-low-memory",
        _ => reason.ToString(CultureInfo.InvariantCulture),
    };
}
