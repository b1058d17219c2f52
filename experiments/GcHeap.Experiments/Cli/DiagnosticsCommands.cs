using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using GcHeap.Experiments.Reporting;
using Microsoft.Diagnostics.Tracing;

namespace GcHeap.Experiments.Cli;

/// <summary>
/// Reading what the standard .NET diagnostics tools recorded from a GcHeap process:
/// <c>trace-summary</c> (a dotnet-trace .nettrace, read with TraceEvent) and
/// <c>counters-summary</c> (a <c>dotnet-counters collect --format json</c> file).
/// </summary>
internal static class DiagnosticsCommands
{
    private const string Provider = "GcHeap";

    public static Command TraceSummary()
    {
        var command = new Command("trace-summary", "List GcHeap's collection, pause and fault events in a .nettrace file (dotnet-trace collect --providers GcHeap); exit 1 when it has none");
        var file = new Argument<FileInfo>("file") { Description = "The .nettrace file" };
        command.Arguments.Add(file);
        command.SetAction(p => RunTraceSummary(p.GetValue(file)!));
        return command;
    }

    public static Command CountersSummary()
    {
        var command = new Command("counters-summary", "First and last value of every GcHeap counter in a dotnet-counters JSON export; exit 1 unless the collections counter grew");
        var file = new Argument<FileInfo>("file") { Description = "The file written by dotnet-counters collect --format json" };
        command.Arguments.Add(file);
        command.SetAction(p => RunCountersSummary(p.GetValue(file)!));
        return command;
    }

    private static int RunTraceSummary(FileInfo file)
    {
        if (!file.Exists)
        {
            Console.Error.WriteLine($"no file {file.FullName}");
            return 2;
        }

        var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        var collections = new List<string>();
        var pauses = new SortedDictionary<string, List<double>>(StringComparer.Ordinal);
        long faults = 0;
        int otherProviders = 0;
        using (var source = new EventPipeEventSource(file.FullName))
        {
            source.Dynamic.All += e =>
            {
                if (e.ProviderName != Provider)
                {
                    otherProviders++;
                    return;
                }

                // EventSource names an event pair ending in Start/Stop as an activity: "Collection/Start".
                string name = e.EventName ?? $"event {(int)e.ID}";
                counts[name] = counts.GetValueOrDefault(name) + 1;
                switch (name)
                {
                    case "Collection/Stop" or "CollectionStop":
                        collections.Add(string.Create(CultureInfo.InvariantCulture,
                            $"  cycle {e.PayloadByName("cycle")}: {e.PayloadByName("backend")}, {Convert.ToDouble(e.PayloadByName("cycleMs"), CultureInfo.InvariantCulture):F1} ms, " +
                            $"longest pause {Convert.ToDouble(e.PayloadByName("maxPauseMs"), CultureInfo.InvariantCulture):F3} ms, " +
                            $"live {Convert.ToInt64(e.PayloadByName("liveBytes"), CultureInfo.InvariantCulture) / 1048576.0:F1} MiB, " +
                            $"whole pages moved in place {e.PayloadByName("pagesZeroCopy")}, copied {e.PayloadByName("pagesCopied")}"));
                        break;
                    case "PauseEvent":
                        string kind = e.PayloadByName("kind")?.ToString() ?? "?";
                        if (!pauses.TryGetValue(kind, out var list))
                        {
                            pauses[kind] = list = [];
                        }

                        list.Add(Convert.ToDouble(e.PayloadByName("milliseconds"), CultureInfo.InvariantCulture));
                        break;
                    case "FaultsServed":
                        faults += Convert.ToInt64(e.PayloadByName("faults"), CultureInfo.InvariantCulture);
                        break;
                }
            };
            source.Process();
        }

        Console.WriteLine($"{file.Name}: GcHeap events by name (events of other providers: {otherProviders})");
        foreach (var (name, n) in counts)
        {
            Console.WriteLine($"  {name,-16} {n,6}");
        }

        Console.WriteLine("pauses by kind (from PauseEvent):");
        foreach (var (kind, ms) in pauses)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {kind,-10} {ms.Count,5} pauses, longest {ms.Max():F3} ms, total {ms.Sum():F3} ms"));
        }

        Console.WriteLine($"faults served (from FaultsServed): {Format.Num(faults)}");
        Console.WriteLine($"collections (from CollectionStop): {collections.Count}");
        foreach (string c in collections)
        {
            Console.WriteLine(c);
        }

        bool ok = collections.Count > 0 && counts.Keys.Any(k => k is "Collection/Start" or "CollectionStart") && pauses.Count > 0;
        Console.WriteLine(ok ? "check: collection and pause events present" : "check FAILED: no GcHeap collection or pause events in the trace");
        return ok ? 0 : 1;
    }

    private static int RunCountersSummary(FileInfo file)
    {
        if (!file.Exists)
        {
            Console.Error.WriteLine($"no file {file.FullName}");
            return 2;
        }

        // dotnet-counters writes {"TargetProcess": ..., "StartTime": ..., "Events": [{"timestamp", "provider", "name", "counterType", "value"}, ...]}
        // and may leave the array unterminated when the target exits first.
        string text = File.ReadAllText(file.FullName).TrimEnd();
        if (!text.EndsWith('}'))
        {
            text = text.TrimEnd(',') + "]}";
        }
        else if (!text.EndsWith("]}", StringComparison.Ordinal) && !text.EndsWith("] }", StringComparison.Ordinal))
        {
            text += "]}";
        }

        using var doc = JsonDocument.Parse(text, new JsonDocumentOptions { AllowTrailingCommas = true });
        var series = new Dictionary<string, List<(string Time, double Value)>>(StringComparer.Ordinal);
        var order = new List<string>();
        foreach (var e in doc.RootElement.GetProperty("Events").EnumerateArray())
        {
            if (e.GetProperty("provider").GetString() != Provider)
            {
                continue;
            }

            string name = e.GetProperty("name").GetString() ?? "?";
            if (!series.TryGetValue(name, out var list))
            {
                series[name] = list = [];
                order.Add(name);
            }

            list.Add((e.GetProperty("timestamp").GetString() ?? "", e.GetProperty("value").GetDouble()));
        }

        Console.WriteLine($"{file.Name}: {series.Values.Sum(l => l.Count)} readings of {series.Count} GcHeap counters");
        Console.WriteLine($"  {"counter",-66} {"readings",8} {"first",12} {"last",12} {"min",12} {"max",12}");
        foreach (string name in order)
        {
            var l = series[name];
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"  {name,-66} {l.Count,8} {l[0].Value,12:G6} {l[^1].Value,12:G6} {l.Min(x => x.Value),12:G6} {l.Max(x => x.Value),12:G6}"));
        }

        var collections = series.FirstOrDefault(kv => kv.Key.StartsWith("Collections", StringComparison.Ordinal) && !kv.Key.Contains('/', StringComparison.Ordinal)).Value;
        bool ok = collections is { Count: > 1 } && collections[^1].Value > collections[0].Value;
        Console.WriteLine(ok
            ? string.Create(CultureInfo.InvariantCulture, $"check: the Collections counter grew from {collections![0].Value} to {collections[^1].Value}")
            : "check FAILED: no growing Collections counter");
        return ok ? 0 : 1;
    }
}
