using System.Diagnostics.Tracing;

namespace GcHeap.Experiments.Harness;

/// <summary>
/// Records, in this process, every suspension of the .NET runtime (GCSuspendEEBegin to
/// GCRestartEEEnd, any reason: a .NET GC, or the runtime stopping its threads for its own work such
/// as tiered compilation's call-counting cleanup) and the tiered-compilation worker's busy
/// intervals, next to GcHeap's pauses (the "GcHeap" event source), all in one clock. Afterwards
/// <see cref="Overlaps"/> says, for each GcHeap pause, how much of it the runtime spent suspended or
/// the JIT worker spent compiling: what part of a long time to safepoint was .NET's own stop.
/// </summary>
internal sealed class RuntimeSuspensionTrace : EventListener
{
    // Microsoft-Windows-DotNETRuntime keywords and event ids (ClrEtwAll.man).
    private const long GcKeyword = 0x1;
    private const long CompilationKeyword = 0x1000000000;
    private const int RestartEEEnd = 3;
    private const int SuspendEEBegin = 9;

    private readonly object _lock = new();
    private readonly List<Interval> _suspensions = [];
    private readonly List<Interval> _jit = [];
    private readonly List<(DateTime End, string Kind, double Ms)> _pauses = [];
    private DateTime? _suspendStart;
    private string _suspendReason = "";
    private DateTime? _jitStart;
    private bool _ready;

    public RuntimeSuspensionTrace()
    {
        lock (_lock)
        {
            _ready = true;
        }

        foreach (var source in EventSource.GetSources())
        {
            OnEventSourceCreated(source);
        }
    }

    /// <summary>A time interval and why.</summary>
    public readonly record struct Interval(DateTime Start, DateTime End, string Reason)
    {
        public double Ms => (End - Start).TotalMilliseconds;
    }

    /// <summary>One GcHeap pause and what of the runtime's own activity fell inside it.</summary>
    public sealed record PauseOverlap(string Kind, double Ms, double SuspendedMs, string SuspendReasons, double JitMs);

    protected override void OnEventSourceCreated(EventSource source)
    {
        lock (_lock)
        {
            if (!_ready)
            {
                return; // the base constructor calls this before the fields exist; the constructor replays
            }
        }

        if (source.Name == "Microsoft-Windows-DotNETRuntime")
        {
            EnableEvents(source, EventLevel.Verbose, (EventKeywords)(GcKeyword | CompilationKeyword));
        }
        else if (source.Name == "GcHeap")
        {
            EnableEvents(source, EventLevel.Informational);
        }
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        lock (_lock)
        {
            if (e.EventSource.Name == "GcHeap")
            {
                if (e.EventName == "PauseEvent" && e.Payload is { Count: 2 } p)
                {
                    _pauses.Add((e.TimeStamp, (string)p[0]!, Convert.ToDouble(p[1])));
                }

                return;
            }

            if (e.EventName == "TieredCompilationBackgroundJitStart")
            {
                _jitStart = e.TimeStamp;
                return;
            }

            if (e.EventName == "TieredCompilationBackgroundJitStop" && _jitStart is DateTime j)
            {
                _jit.Add(new Interval(j, e.TimeStamp, "tier-1 JIT"));
                _jitStart = null;
                return;
            }

            switch (e.EventId)
            {
                case SuspendEEBegin:
                    _suspendStart = e.TimeStamp;
                    _suspendReason = e.Payload is { Count: > 0 } sp ? ReasonName(Convert.ToInt32(sp[0])) : "?";
                    break;
                case RestartEEEnd when _suspendStart is DateTime s:
                    _suspensions.Add(new Interval(s, e.TimeStamp, _suspendReason));
                    _suspendStart = null;
                    break;
            }
        }
    }

    /// <summary>Every runtime suspension seen so far.</summary>
    public IReadOnlyList<Interval> Suspensions
    {
        get
        {
            lock (_lock)
            {
                return [.. _suspensions];
            }
        }
    }

    /// <summary>For each GcHeap pause seen, the runtime suspensions and background JIT inside it.</summary>
    public IReadOnlyList<PauseOverlap> Overlaps()
    {
        lock (_lock)
        {
            var result = new List<PauseOverlap>(_pauses.Count);
            foreach (var (end, kind, ms) in _pauses)
            {
                var start = end - TimeSpan.FromMilliseconds(ms);
                double suspended = 0;
                var reasons = new SortedSet<string>(StringComparer.Ordinal);
                foreach (var s in _suspensions)
                {
                    double o = Overlap(start, end, s);
                    if (o > 0)
                    {
                        suspended += o;
                        reasons.Add(s.Reason);
                    }
                }

                double jit = _jit.Sum(j => Overlap(start, end, j));
                result.Add(new PauseOverlap(kind, ms, suspended, string.Join(",", reasons), jit));
            }

            return result;
        }
    }

    private static double Overlap(DateTime start, DateTime end, Interval i)
    {
        var a = start > i.Start ? start : i.Start;
        var b = end < i.End ? end : i.End;
        return b > a ? (b - a).TotalMilliseconds : 0;
    }

    // SUSPEND_REASON in the runtime's threadsuspend.h.
    private static string ReasonName(int reason) => reason switch
    {
        0 => "other",
        1 => "gc",
        2 => "appdomain-shutdown",
        3 => "code-pitching",
        4 => "shutdown",
        5 => "debugger",
        6 => "gc-prep",
        7 => "debugger-sweep",
        8 => "profiler",
        9 => "rejit",
        _ => reason.ToString(System.Globalization.CultureInfo.InvariantCulture),
    };
}
