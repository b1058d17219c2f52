using System.Diagnostics.Tracing;
using Microsoft.Diagnostics.NETCore.Client;
using Microsoft.Diagnostics.Tracing;

namespace GcHeap.Experiments.Monitor;

/// <summary>
/// An EventPipe session on another process that enables an EventSource's counters
/// (EventCounterIntervalSec) and reports each reading, until the session is stopped or the
/// process exits.
/// </summary>
internal sealed class CounterSession(int pid, string provider, double intervalSeconds) : IDisposable
{
    private EventPipeSession? _session;

    /// <summary>Reads counters until the target exits or <see cref="Stop"/> is called; calls <paramref name="onValue"/> for each.</summary>
    public void Run(Action<CounterValue> onValue)
    {
        var client = new DiagnosticsClient(pid);
        var args = new Dictionary<string, string> { ["EventCounterIntervalSec"] = intervalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture) };
        _session = client.StartEventPipeSession([new EventPipeProvider(provider, EventLevel.Informational, 0, args)], requestRundown: false);
        using var source = new EventPipeEventSource(_session.EventStream);
        source.Dynamic.All += e =>
        {
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
