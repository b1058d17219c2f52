using System.Diagnostics.Tracing;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing;

namespace GcHeap.Experiments.Monitor;

/// <summary>
/// An EventPipe session on another process that enables an EventSource's counters
/// (EventCounterIntervalSec) and reports each reading, until the session is stopped or the
/// process exits. With <paramref name="censusSeconds"/> &gt; 0 it also asks GcHeap for a census of
/// the top <paramref name="censusTop"/> types every so often (TypeCensus events).
/// </summary>
internal sealed class CounterSession(int pid, string provider, double intervalSeconds, double censusSeconds = 0, int censusTop = 10) : IDisposable
{
    private EventPipeSession? _session;

    /// <summary>Reads counters until the target exits or <see cref="Stop"/> is called; calls <paramref name="onValue"/> for each.</summary>
    public void Run(Action<CounterValue> onValue, Action<TypeCensusRow>? onCensus = null)
    {
        var client = new DiagnosticsClient(pid);
        var inv = System.Globalization.CultureInfo.InvariantCulture;
        var args = new Dictionary<string, string> { ["EventCounterIntervalSec"] = intervalSeconds.ToString(inv) };
        if (censusSeconds > 0)
        {
            args["CensusIntervalSec"] = censusSeconds.ToString(inv);
            args["CensusTop"] = censusTop.ToString(inv);
        }

        // Keywords 0 enable only the counters over EventPipe; the census events need all (-1).
        _session = client.StartEventPipeSession([new EventPipeProvider(provider, EventLevel.Informational, censusSeconds > 0 ? -1 : 0, args)], requestRundown: false);
        using var source = new EventPipeEventSource(_session.EventStream);
        source.Dynamic.All += e =>
        {
            if (e.EventName == "TypeCensus" && e.ProviderName == provider && onCensus is not null)
            {
                onCensus(new TypeCensusRow(
                    e.PayloadByName("heap")?.ToString() ?? "?",
                    Convert.ToInt32(e.PayloadByName("rank"), inv),
                    e.PayloadByName("type")?.ToString() ?? "?",
                    Convert.ToInt64(e.PayloadByName("count"), inv),
                    Convert.ToInt64(e.PayloadByName("bytes"), inv),
                    Convert.ToDouble(e.PayloadByName("pauseMs"), inv),
                    e.TimeStamp));
                return;
            }

            if (e.EventName != "EventCounters" || e.ProviderName != provider || e.PayloadValue(0) is not IDictionary<string, object> outer ||
                outer.TryGetValue("Payload", out object? inner) != true || inner is not IDictionary<string, object> p)
            {
                return;
            }

            bool rate = p.TryGetValue("CounterType", out object? type) && Equals(type, "Sum");
            double value = Convert.ToDouble(p[rate ? "Increment" : "Mean"], System.Globalization.CultureInfo.InvariantCulture);
            onValue(new CounterValue(
                p["Name"].ToString() ?? "?",
                p.TryGetValue("DisplayName", out object? d) ? d?.ToString() ?? "" : "",
                value,
                p.TryGetValue("DisplayUnits", out object? u) ? u?.ToString() ?? "" : "",
                rate,
                e.TimeStamp));
        };
        source.Process();
    }

    /// <summary>Ends the session (Run returns once the stream is drained).</summary>
    public void Stop()
    {
        try
        {
            _session?.Stop();
        }
        catch (Exception e) when (e is ServerNotAvailableException or IOException or ObjectDisposedException or EndOfStreamException)
        {
            // The target is gone: the stream ends on its own.
        }
    }

    public void Dispose() => _session?.Dispose();
}
