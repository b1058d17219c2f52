using System.Diagnostics;
using System.Text.Json;

using GcHeap.Tests.Support;

namespace GcHeap.Tests;

/// <summary>
/// The experiment runner, run for real as a separate process: its output and its JSON must be
/// exact and honest on every backend (it is what the README's numbers come from).
/// </summary>
public class RunnerTests
{
    private const string BinaryTreesDepth10 =
        "stretch tree of depth 11\t check: 4095\n" +
        "1024\t trees of depth 4\t check: 31744\n" +
        "256\t trees of depth 6\t check: 32512\n" +
        "64\t trees of depth 8\t check: 32704\n" +
        "16\t trees of depth 10\t check: 32752\n" +
        "long lived tree of depth 10\t check: 2047\n";

    [Theory]
    [InlineData("move", "views")]
    [InlineData("copy", "views")]
    [InlineData("stw", "views")]
    [InlineData("move", "handles")]
    [InlineData("stw", "handles")]
    [InlineData("dotnet", "views")]
    public void BinaryTreesPrintsTheBenchmarksGameOutputOnEveryBackend(string backend, string api)
    {
        // A 2 MiB heap, so that GcHeap collects (and verifies) during the run; StrictViews, so a
        // view kept across an allocation would throw rather than pass by luck.
        using var json = new TempFile();
        var (code, stdout, stderr) = Run($"binary-trees --depth 10 --backend {backend} --api {api} --option StrictViews=true --heap-mb 2 --verify -q --json {json.Path}");
        Assert.True(code == 0, stderr);
        Assert.Equal(BinaryTreesDepth10, stdout);

        using var doc = JsonDocument.Parse(File.ReadAllText(json.Path));
        var r = doc.RootElement;
        Assert.Equal("binary-trees", r.GetProperty("workload").GetString());
        Assert.Equal(backend, r.GetProperty("backend").GetString());
        Assert.True(r.GetProperty("elapsed_ms").GetDouble() > 0);
        Assert.True(r.GetProperty("rss_peak_bytes").GetInt64() > 0);
        if (backend == "dotnet")
        {
            Assert.Equal(JsonValueKind.Null, r.GetProperty("verified").ValueKind); // not a GcHeap run: not claimed
            // Both measurements saw the same GCs. Whether their pause totals agree within 5% (the
            // JSON's dotnet.agree) is a duration and depends on the machine's load: reported, not asserted.
            var dotnet = r.GetProperty("dotnet");
            Assert.True(dotnet.GetProperty("external").ValueKind == JsonValueKind.Object,
                "no external measurement; the run's notes: " + string.Join(" | ", r.GetProperty("notes").EnumerateArray().Select(n => n.GetString())) + "; stderr: " + stderr);
            int external = dotnet.GetProperty("external").GetProperty("gc_count").GetInt32();
            Assert.Equal(external, dotnet.GetProperty("in_process").GetProperty("gc_count").GetInt32());
            Assert.Contains(dotnet.GetProperty("agree").ValueKind, new[] { JsonValueKind.True, JsonValueKind.False }); // computed
        }
        else
        {
            Assert.True(r.GetProperty("gc_count").GetInt32() > 0);
            Assert.True(r.GetProperty("verified").GetBoolean());
            Assert.Equal(api, r.GetProperty("parameters").GetProperty("api").GetString());
            Assert.Equal(r.GetProperty("pauses_ms").GetArrayLength(), r.GetProperty("pause_kinds").GetArrayLength());
        }
    }

    [Fact]
    public void BinaryTreesRunsFromTheBenchmarksGameCommandLine()
    {
        var (code, stdout, stderr) = Run("binary-trees 10 --backend stw --heap-mb 2");
        Assert.True(code == 0, stderr);
        Assert.Equal(BinaryTreesDepth10, stdout);
        Assert.Contains("read as: binary-trees --depth 10 --backend stw --heap-mb 2", stderr, StringComparison.Ordinal);
    }

    [Fact]
    public void FragmentRecordsEveryFigureOfAConcurrentRun()
    {
        using var json = new TempFile();
        var (code, _, stderr) = Run($"fragment --backend move --live-mb 16 --seconds 1 --threads 2 --collections 2 --verify -q --json {json.Path}");
        Assert.True(code == 0, stderr);
        using var doc = JsonDocument.Parse(File.ReadAllText(json.Path));
        var r = doc.RootElement;
        Assert.True(r.GetProperty("verified").GetBoolean());
        Assert.True(r.GetProperty("gc_count").GetInt32() >= 2);
        foreach (var field in new[] { "pages_moved", "pages_zero_copy", "pages_copied", "ebusy_fallbacks", "ioctls", "faults_served", "collector_ms", "max_pause_ms", "p99_pause_ms", "live_bytes", "rss_after_bytes" })
        {
            Assert.NotEqual(JsonValueKind.Null, r.GetProperty(field).ValueKind);
        }

        Assert.True(r.GetProperty("pages_zero_copy").GetInt64() > 0);
        Assert.Equal(0, r.GetProperty("workload_metrics").GetProperty("data_errors").GetInt64());

        // Time to safepoint is reported per pause and never exceeds the pause it belongs to.
        var pauses = r.GetProperty("pauses_ms").EnumerateArray().Select(e => e.GetDouble()).ToList();
        var ttsp = r.GetProperty("pause_time_to_safepoint_ms").EnumerateArray().Select(e => e.GetDouble()).ToList();
        Assert.Equal(pauses.Count, ttsp.Count);
        Assert.All(pauses.Zip(ttsp), p => Assert.InRange(p.Second, 0, p.First));
        Assert.Equal(ttsp.Max(), r.GetProperty("max_time_to_safepoint_ms").GetDouble());
        Assert.True(r.GetProperty("max_pause_inside_ms").GetDouble() <= r.GetProperty("max_pause_ms").GetDouble());

        // Each pause says when it began (monotonic, in order), and the run how much the JIT did.
        var starts = r.GetProperty("collections").EnumerateArray()
            .SelectMany(c => c.GetProperty("pauses").EnumerateArray())
            .Select(p => p.GetProperty("start_ns").GetInt64()).ToList();
        Assert.Equal(pauses.Count, starts.Count);
        Assert.All(starts, t => Assert.True(t > 0));
        Assert.Equal(starts.Order().ToList(), starts);
        Assert.True(r.GetProperty("jit_methods").GetInt64() > 0); // a run compiles something: the field measures, it is not a constant
        var dotnetGcs = r.GetProperty("dotnet_gcs_during_work").EnumerateArray().Select(e => e.GetInt32()).ToArray();
        Assert.Equal(3, dotnetGcs.Length); // gen0, gen1, gen2: each generation's count includes the older ones'
        Assert.True(dotnetGcs[0] >= dotnetGcs[1] && dotnetGcs[1] >= dotnetGcs[2] && dotnetGcs[2] >= 0, string.Join("/", dotnetGcs));
        Assert.True(r.GetProperty("dotnet_gc_pause_ms_during_work").GetDouble() >= 0);
    }

    [Fact]
    public void SnapshotCommandMeasuresLiveSnapshotsAgainstProtectingInThePause()
    {
        using var json = new TempFile();
        var (code, stdout, stderr) = Run($"snapshot --live-mb 8 --threads 1 --snapshots 2 --baseline-seconds 0.2 --json {json.Path}");
        Assert.True(code == 0, stderr);
        Assert.Contains("(verified)", stdout, StringComparison.Ordinal);
        using var doc = JsonDocument.Parse(File.ReadAllText(json.Path));
        var r = doc.RootElement;
        Assert.True(r.GetProperty("wholeHeapProtectMs").GetDouble() > 0);
        var kinds = r.GetProperty("rows").EnumerateArray().Select(x => x.GetProperty("Kind").GetString()).ToList();
        Assert.Equal(["protect in pause", "live", "live", "tracked", "increment", "increment", "copy in pause", "live (kept)"], kinds);
        foreach (var row in r.GetProperty("rows").EnumerateArray())
        {
            var st = row.GetProperty("Stats");
            bool live = row.GetProperty("Kind").GetString() != "copy in pause";
            Assert.Equal(live, st.GetProperty("Live").GetBoolean());
            Assert.True(st.GetProperty("BytesWritten").GetInt64() > 0);
        }
    }

    [Fact]
    public void TraceSummaryReadsGcHeapEventsFromADotnetTraceCapture()
    {
        // Recorded by experiments/diagnostics/check-tools.sh (dotnet-trace collect --providers GcHeap).
        string trace = Path.Combine(RepoPaths.Root(), "docs", "results", "2026-11-29", "diagnostics", "trace.nettrace");
        var (code, stdout, stderr) = Run($"trace-summary \"{trace}\"");
        Assert.True(code == 0, stdout + stderr);
        var collections = System.Text.RegularExpressions.Regex.Match(stdout, @"collections \(from CollectionStop\): (\d+)");
        Assert.True(collections.Success && int.Parse(collections.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) > 0, stdout);
        Assert.Matches(@"Flip +\d+ pauses", stdout);
        Assert.Contains("check: collection and pause events present", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void CountersSummaryPassesOnGrowingCollectionsAndFailsOtherwise()
    {
        string counters = Path.Combine(RepoPaths.Root(), "docs", "results", "2026-11-29", "diagnostics", "counters.json");
        var (code, stdout, stderr) = Run($"counters-summary \"{counters}\"");
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("Zero-copy share of the last collection", stdout, StringComparison.Ordinal);

        // A capture in which the heap never collected (and whose array dotnet-counters left open).
        using var flat = new TempFile();
        File.WriteAllText(flat.Path, """
            {"TargetProcess": "x", "StartTime": "1/1/2026 0:00:00 AM", "Events": [
            {"timestamp": "2026-01-01 00:00:01Z", "provider": "GcHeap", "name": "Collections", "tags": "", "counterType": "Metric", "value": 3 },
            {"timestamp": "2026-01-01 00:00:02Z", "provider": "GcHeap", "name": "Collections", "tags": "", "counterType": "Metric", "value": 3 },
            """);
        (code, stdout, _) = Run($"counters-summary \"{flat.Path}\"");
        Assert.Equal(1, code);
        Assert.Contains("check FAILED", stdout, StringComparison.Ordinal);
    }

    [Fact]
    public void PlotDrawsTheThreeChartsFromResultJson()
    {
        string dir = Path.Combine(Path.GetTempPath(), $"gcheap-plot-{Guid.NewGuid():N}");
        try
        {
            string examples = Path.Combine(RepoPaths.Root(), "experiments", "results");
            var (code, stdout, stderr) = Run($"plot \"{dir}\" \"{Path.Combine(examples, "example-gcbench-move.json")}\" \"{Path.Combine(examples, "example-binary-trees-dotnet.json")}\"");
            Assert.True(code == 0, stdout + stderr);
            foreach (string chart in new[] { "pauses.png", "stalls.png", "occupancy.png" })
            {
                byte[] png = File.ReadAllBytes(Path.Combine(dir, chart));
                Assert.Equal(new byte[] { 0x89, (byte)'P', (byte)'N', (byte)'G' }, png[..4]);
                // IHDR: width and height, big-endian, at bytes 16-23.
                Assert.Equal(1100, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(16, 4)));
                Assert.Equal(650, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(png.AsSpan(20, 4)));
                Assert.True(png.Length > 10_000, $"{chart} is only {png.Length} bytes");
            }
        }
        finally
        {
            if (Directory.Exists(dir))
            {
                Directory.Delete(dir, recursive: true);
            }
        }
    }

    /// <summary>
    /// The short stress run CI does (the long one is in docs/results): every backend collects,
    /// every kind of phase runs, the fork phase on Move really gets EBUSY, and nothing differs
    /// from the model, throws an undocumented exception or hangs.
    /// </summary>
    [Fact]
    public void ShortStressRunPassesOnEveryBackend()
    {
        using var json = new TempFile();
        var (code, stdout, stderr) = Run($"stress --seconds 20 --phase-seconds 1.2 --threads 2 --seed 7 --hang-seconds 60 --json {json.Path}");
        Assert.True(code == 0, stdout + stderr);
        Assert.Contains("PASSED", stdout, StringComparison.Ordinal);

        using var doc = JsonDocument.Parse(File.ReadAllText(json.Path));
        var r = doc.RootElement;
        Assert.True(r.GetProperty("passed").GetBoolean());
        Assert.Equal(0, r.GetProperty("mismatches").GetArrayLength());
        Assert.Equal(0, r.GetProperty("undocumented_exceptions").GetArrayLength());
        Assert.Equal(JsonValueKind.Null, r.GetProperty("hang").ValueKind);
        var byBackend = r.GetProperty("cycles_by_backend");
        foreach (var backend in new[] { "Move", "Copy", "StopTheWorld" })
        {
            Assert.True(byBackend.TryGetProperty(backend, out var n) && n.GetInt64() > 0, $"no collection on {backend}: {byBackend}");
        }

        Assert.Equal(r.GetProperty("cycles").GetInt64(), r.GetProperty("verified_cycles").GetInt64());
        Assert.Equal(5, r.GetProperty("phases_by_kind").EnumerateObject().Count());
        Assert.True(r.GetProperty("ebusy_fallbacks").GetInt64() > 0, "the fork phase never made UFFDIO_MOVE answer EBUSY");
        Assert.True(r.GetProperty("model_checks").GetInt64() > 0);
        Assert.True(r.GetProperty("weak_references_checked").GetInt64() > 0);
        Assert.True(r.GetProperty("weak_clears_checked").GetInt64() > 0);
        Assert.True(r.GetProperty("exhaustions").GetInt64() > 0);
        Assert.True(r.GetProperty("dotnet_gcs").GetInt64() > 0);
        Assert.True(r.GetProperty("bad_inputs").EnumerateObject().Count() > 20, "few kinds of bad input were tried");
    }

    private static (int Code, string Stdout, string Stderr) Run(string arguments)
    {
        string dll = Path.Combine(RepoPaths.Root(), "experiments", "GcHeap.Experiments", "bin", RepoPaths.Configuration, "net10.0", "GcHeap.Experiments.dll");
        Assert.True(File.Exists(dll), $"the runner was not built: {dll}");
        var psi = new ProcessStartInfo("dotnet", $"\"{dll}\" {arguments}")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        Assert.True(p.WaitForExit(TimeSpan.FromMinutes(3)), "the runner did not finish");
        return (p.ExitCode, stdout, stderr.Result);
    }

    private sealed class TempFile : IDisposable
    {
        public string Path { get; } = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"gcheap-runner-{Guid.NewGuid():N}.json");

        public void Dispose() => File.Delete(Path);
    }
}
