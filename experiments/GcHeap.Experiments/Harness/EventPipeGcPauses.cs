using Microsoft.Diagnostics.Tracing;
using Microsoft.Diagnostics.Tracing.Parsers.Clr;

namespace GcHeap.Experiments.Harness;

/// <summary>One .NET pause seen from outside: GCSuspendEEStart to GCRestartEEStop.</summary>
internal readonly record struct ObservedPause(double Ms, int GcIndex, int Generation, string SuspendReason);

/// <summary>
/// Reads an EventPipe stream of the runtime's GC events (Microsoft-Windows-DotNETRuntime, GC
/// keyword, Informational) with TraceEvent and turns it into pauses the way PerfView's GCStats
/// does: a pause runs from GCSuspendEEStart to the next GCRestartEEStop, and belongs to the GC
/// whose GCStart came last (a background GC's later pause belongs to it too).
/// </summary>
internal sealed class EventPipeGcPauses
{
    private readonly List<ObservedPause> _pauses = [];
    private readonly HashSet<int> _gcs = [];
    private double? _suspendStart;
    private string _suspendReason = "";
    private int _gcIndex;
    private int _generation = -1;

    public IReadOnlyList<ObservedPause> Pauses => _pauses;

    public IReadOnlyCollection<int> GcIndices => _gcs;

    public int EventsSeen { get; private set; }

    public int EventsLost { get; private set; }

    /// <summary>Processes the stream until it ends (the session stops or the process exits).</summary>
    public void Process(Stream stream)
    {
        using var source = new EventPipeEventSource(stream);
        source.Clr.GCSuspendEEStart += OnSuspend;
        source.Clr.GCStart += OnStart;
        source.Clr.GCRestartEEStop += OnRestartEnd;
        source.AllEvents += _ => EventsSeen++;
        source.Process();
        EventsLost = source.EventsLost;
    }

    private void OnSuspend(GCSuspendEETraceData e)
    {
        _suspendStart = e.TimeStampRelativeMSec;
        _suspendReason = e.Reason.ToString();
    }

    private void OnStart(GCStartTraceData e)
    {
        _gcIndex = e.Count;
        _generation = e.Depth;
        _gcs.Add(e.Count);
    }

    private void OnRestartEnd(GCNoUserDataTraceData e)
    {
        if (_suspendStart is double start)
        {
            _pauses.Add(new ObservedPause(e.TimeStampRelativeMSec - start, _gcIndex, _generation, _suspendReason));
            _suspendStart = null;
        }
    }
}
