using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using GcHeap.Experiments.Harness;
using GcHeap.Experiments.Terminal;
using GcHeap.Experiments.Workloads.Fragment;

namespace GcHeap.Experiments.Cli;

/// <summary>
/// snapshot: live snapshots of a fragment graph while mutator threads read, write, move
/// references and allocate. Measures, in one run: the snapshot pause, the time to write-protect
/// the whole heap in one UFFDIO_WRITEPROTECT (a snapshot with one protect slice: what protecting
/// inside a pause would cost), the mutators' operation rate while a snapshot runs against the
/// rate just before it, and the bytes written per second; then loads the last file back.
/// </summary>
internal static class SnapshotCommand
{
    private static readonly JsonSerializerOptions Indented = new() { WriteIndented = true };

    public static Command Create()
    {
        var command = new Command("snapshot", "Save live snapshots of a fragment graph while mutators write; pause vs whole-heap write-protect time, mutator slowdown, bytes/s; load the last one back");
        var liveMb = new Option<int>("--live-mb") { Description = "Live graph to build, MiB", DefaultValueFactory = _ => 256 };
        var heapMb = new Option<int>("--heap-mb") { Description = "Heap limit, MiB (0: 3 x live)", DefaultValueFactory = _ => 0 };
        var threads = new Option<int>("--threads") { Description = "Mutator threads", DefaultValueFactory = _ => 2 };
        var snapshots = new Option<int>("--snapshots") { Description = "Live snapshots to take", DefaultValueFactory = _ => 5 };
        var baseline = new Option<double>("--baseline-seconds") { Description = "Mutator rate measured over this long before each snapshot", DefaultValueFactory = _ => 2 };
        var seed = new Option<int>("--seed") { Description = "Random seed", DefaultValueFactory = _ => 7 };
        var outFile = new Option<string?>("--out") { Description = "Write snapshots to this file (default: a temporary file, deleted at the end)" };
        var json = new Option<string?>("--json") { Description = "Write every measurement as JSON to this file" };
        var logGcs = new Option<bool>("--log-dotnet-gcs") { Description = "Log every .NET collection of the process (generation, reason, the thread that started it, the run phase) to stderr and the JSON" };
        RunOptions.Positive(liveMb, 1);
        RunOptions.Positive(threads, 1);
        RunOptions.Positive(snapshots, 1);
        foreach (var o in new Option[] { liveMb, heapMb, threads, snapshots, baseline, seed, outFile, json, logGcs })
        {
            command.Options.Add(o);
        }

        command.SetAction(p => Run(p.GetValue(liveMb), p.GetValue(heapMb), p.GetValue(threads), p.GetValue(snapshots), p.GetValue(baseline),
            p.GetValue(seed), p.GetValue(outFile), p.GetValue(json), p.GetValue(logGcs)));
        return command;
    }

    private static double Median(IEnumerable<double> values)
    {
        var v = values.Order().ToArray();
        return v.Length == 0 ? 0 : v.Length % 2 == 1 ? v[v.Length / 2] : (v[(v.Length / 2) - 1] + v[v.Length / 2]) / 2;
    }

    /// <summary>A collection that ran during the command: when, in which phase of the run, its pauses and what its longest stop waited for.</summary>
    internal sealed record CollectionRow(long Cycle, string Reason, string Phase, double EndedAtSeconds, double PauseMs, double TimeToSafepointMs, string? AwaitedThread,
        double DotnetGcPauseMs, PauseRow[] Pauses);

    /// <summary>One pause of a collection.</summary>
    internal sealed record PauseRow(string Kind, double Milliseconds, double TimeToSafepointMs);

    internal sealed record Row(string Kind, SnapshotStats Stats, double OpsPerSecBefore, double OpsPerSecDuring, double Slowdown)
    {
        /// <summary>.NET collections of the process while the snapshot was saved: gen0, gen1, gen2 counts (a gen2 counts in all three).</summary>
        public int[] DotnetGcsDuring { get; init; } = [];

        /// <summary>Bytes the saving thread allocated on .NET's heap during the call.</summary>
        public long SaverAllocatedBytes { get; init; }
    }

    private static int Run(int liveMb, int heapMb, int threads, int count, double baselineSeconds, int seed, string? outFile, string? json, bool logGcs)
    {
        var collectionPauses = new List<CollectionRow>();
        var runStart = Stopwatch.GetTimestamp();
        string phase = "baseline"; // the run phase a collection ended in (read by the handler below)
        using var gcLog = logGcs ? new DotnetGcLog(() => Volatile.Read(ref phase)) : null;
        string path = outFile ?? Path.Combine(Path.GetTempPath(), $"gcheap-snapshot-{Environment.ProcessId}.snap");
        var options = new HeapOptions { MaxHeapBytes = (long)(heapMb > 0 ? heapMb : 3 * liveMb) << 20 };
        using var heap = new Heap(options);
        Console.Error.WriteLine($"backend {heap.Backend}; live snapshots: {(heap.Capabilities.LiveSnapshots ? "yes" : "no (" + heap.Capabilities.LiveSnapshotUnavailableReason + ")")}");
        using var graph = new GcFragmentGraph(heap, views: false);
        var built = RunProgress.Run(quiet: true, p => graph.Build((long)liveMb << 20, 0.2, seed, p));
        heap.Collect();
        // As BenchmarkDotNet does before it measures: .NET's own heap collected once after the
        // build. The build's allocations left the process's first .NET collection due at the first
        // live snapshot, where a .NET collection suspends every thread, mutators included, for
        // 4-7 ms on these two busy vCPUs; it landed inside that snapshot's stop in two of four runs
        // (docs/results/2026-12-07/snapshot-first-gc/). A .NET collection that still lands in a
        // pause is counted in the snapshot's figures (NetGcsDuringPause, NetGcPauseMsDuringPause).
        var settleFrom = GC.GetTotalPauseDuration();
        int gcsBefore = GC.CollectionCount(0);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $".NET heap settled after the build: {gcsBefore} .NET collections before it; a full collection paused {(GC.GetTotalPauseDuration() - settleFrom).TotalMilliseconds:F3} ms, promoted {GC.GetGCMemoryInfo(GCKind.Any).PromotedBytes >> 10:N0} KiB"));
        Console.Error.WriteLine($"built {built.Items:N0} items ({built.BuiltBytes >> 20} MiB), heap {heap.BytesInUse >> 20} MiB in use after a collection");

        heap.CollectionCompleted += cs =>
        {
            var row = new CollectionRow(cs.Cycle, cs.Reason.ToString(), Volatile.Read(ref phase), Stopwatch.GetElapsedTime(runStart).TotalSeconds, cs.MaxPauseMs, cs.MaxTimeToSafepointMs,
                cs.SafepointAwaitedThread, cs.DotnetGcPauseDuringStopsMs, [.. cs.Pauses.Select(p => new PauseRow(p.Kind.ToString(), p.Milliseconds, p.TimeToSafepointMs))]);
            lock (collectionPauses)
            {
                collectionPauses.Add(row);
            }
        };
        var counters = Enumerable.Range(0, threads).Select(_ => new MutatorCounters()).ToArray();
        using var stop = new CancellationTokenSource();
        var workers = Enumerable.Range(0, threads).Select(i => new Thread(() => graph.Mutate(i, seed, counters[i], stop.Token)) { Name = $"mutator {i}", IsBackground = true }).ToList();
        workers.ForEach(t => t.Start());
        long Ops() => counters.Sum(c => Interlocked.Read(ref c.Reads) + Interlocked.Read(ref c.Writes) + Interlocked.Read(ref c.Moves) + Interlocked.Read(ref c.Allocations));

        var rows = new List<Row>();
        Row Measure(string kind, SnapshotOptions o, bool incremental = false)
        {
            long o0 = Ops();
            Volatile.Write(ref phase, $"baseline before {kind} #{rows.Count}");
            var t0 = Stopwatch.GetTimestamp();
            graph.WhileBlocked(() => Thread.Sleep(TimeSpan.FromSeconds(baselineSeconds)));
            double before = (Ops() - o0) / Stopwatch.GetElapsedTime(t0).TotalSeconds;
            long o1 = Ops();
            var t1 = Stopwatch.GetTimestamp();
            SnapshotStats st;
            Volatile.Write(ref phase, $"{kind} #{rows.Count}");
            long allocated0 = GC.GetAllocatedBytesForCurrentThread();
            int g0 = GC.CollectionCount(0), g1 = GC.CollectionCount(1), g2 = GC.CollectionCount(2);
            // The path overloads open (replacing the last image: an ftruncate of 1-2 GiB took ~0.6 s
            // here) and close the file inside the safe region; opened on this attached thread
            // outside it, a collection's stop waited for the truncate
            // (docs/results/2026-12-07/collection-tts/).
            st = incremental ? heap.SaveIncrementalSnapshot(path, o) : heap.SaveSnapshot(path, o);

            double during = (Ops() - o1) / Stopwatch.GetElapsedTime(t1).TotalSeconds;
            // .NET collections of the process while the snapshot ran (by generation, each counted in
            // its own and the younger ones) and what the saving thread allocated on .NET's heap.
            var gcs = new[] { GC.CollectionCount(0) - g0, GC.CollectionCount(1) - g1, GC.CollectionCount(2) - g2 };
            long allocated = GC.GetAllocatedBytesForCurrentThread() - allocated0;
            var row = new Row(kind, st, before, during, before > 0 ? during / before : 0) { DotnetGcsDuring = gcs, SaverAllocatedBytes = allocated };
            Console.Error.WriteLine($"{kind}: {st}; mutator ops/s {before:N0} before, {during:N0} during ({row.Slowdown:P0}); .NET GCs while saving gen0/1/2 {gcs[0]}/{gcs[1]}/{gcs[2]}, saving thread allocated {allocated:N0} bytes");
            rows.Add(row);
            return row;
        }

        // The time to write-protect the whole heap, inside a pause (what a snapshot without pre-copy pauses for).
        var whole = Measure("protect in pause", new SnapshotOptions { ProtectInPause = true });
        for (int i = 0; i < count; i++)
        {
            Measure("live", new SnapshotOptions());
        }

        // Two collections with the same mutators: the same stop-the-world handshake, for comparison
        // (their pauses are printed at the end).
        Volatile.Write(ref phase, "explicit collections");
        heap.Collect();
        heap.Collect();

        // A chain: a tracked snapshot, then increments (the rate "before" an increment is the
        // mutators' rate while their first writes to each page are tracked).
        Measure("tracked", new SnapshotOptions { TrackChanges = true });
        for (int i = 0; i < 2; i++)
        {
            Measure("increment", new SnapshotOptions(), incremental: true);
        }

        Measure("copy in pause", new SnapshotOptions { CopyInPause = true });
        stop.Cancel();
        graph.WhileBlocked(() => workers.ForEach(t => t.Join()));

        // The last live file back into a new heap (verified by LoadSnapshot).
        Measure("live (kept)", new SnapshotOptions());
        var tl = Stopwatch.GetTimestamp();
        long loadedPages = 0;
        graph.WhileBlocked(() =>
        {
            using var loaded = Heap.LoadSnapshot(path);
            loadedPages = loaded.Info.Pages;
        });

        double loadMs = Stopwatch.GetElapsedTime(tl).TotalMilliseconds;
        if (outFile is null)
        {
            File.Delete(path);
        }

        var live = rows.Where(r => r.Kind == "live").ToList();
        double maxPause = live.Max(r => r.Stats.PauseMs);
        double wholeProtect = whole.Stats.FreezeMs;
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"live {liveMb} MiB, {threads} mutators: pages {live[0].Stats.Pages:N0}; live snapshot pause max {maxPause:F3} ms (median {Median(live.Select(r => r.Stats.PauseMs)):F3}; stop max {live.Max(r => r.Stats.TimeToSafepointMs):F3}, freeze+capture max {live.Max(r => r.Stats.FreezeAndCaptureMs):F3}); " +
            $"whole-heap write-protect in a pause {wholeProtect:F2} ms (that pause {whole.Stats.PauseMs:F2} ms; live pause max / whole-heap protect = {maxPause / wholeProtect:F3}, median {Median(live.Select(r => r.Stats.PauseMs)) / wholeProtect:F3}); copy-in-pause pause {rows.First(r => r.Kind == "copy in pause").Stats.PauseMs:F1} ms; " +
            $"mutator rate during a live snapshot {live.Average(r => r.Slowdown):P0} of before; written {live.Average(r => r.Stats.BytesPerSecond) / (1 << 20):F0} MiB/s; " +
            $"pages saved by fault {live.Sum(r => r.Stats.PagesSavedByFault):N0} of {live.Sum(r => r.Stats.Pages):N0}; loaded {loadedPages:N0} pages in {loadMs:F0} ms (verified)"));
        // The same handshake stops the world for the collections of this run: their pauses, for comparison.
        CollectionRow[] cp;
        lock (collectionPauses)
        {
            cp = [.. collectionPauses];
        }

        if (cp.Length > 0)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"collections during the run: {cp.Length}, longest pause {cp.Max(c => c.PauseMs):F3} ms (median of their longest {Median(cp.Select(c => c.PauseMs)):F3}), longest time to safepoint {cp.Max(c => c.TimeToSafepointMs):F3} ms"));
            foreach (var c in cp)
            {
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                    $"  cycle {c.Cycle} ({c.Reason}) ended at {c.EndedAtSeconds:F1} s during {c.Phase}: pauses {string.Join(", ", c.Pauses.Select(p => $"{p.Kind} {p.Milliseconds:F3} ms (to safepoint {p.TimeToSafepointMs:F3})"))}" +
                    $"{(c.AwaitedThread is null ? "" : $"; longest stop waited last for {c.AwaitedThread}")}{(c.DotnetGcPauseMs > 0 ? $"; .NET GC pauses during its stops {c.DotnetGcPauseMs:F3} ms" : "")}"));
            }
        }

        foreach (var inc in rows.Where(r => r.Kind == "increment"))
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"increment: {(inc.Stats.Incremental ? $"{inc.Stats.PagesInImage:N0} of {inc.Stats.Pages:N0} pages ({inc.Stats.BytesWritten >> 20} MiB)" : "full: " + inc.Stats.IncrementalFallbackReason)}, pause {inc.Stats.PauseMs:F3} ms, " +
                $"{inc.Stats.PagesWrittenSincePrevious:N0} pages written since the previous one, mutator rate while tracking {inc.OpsPerSecBefore:N0} ops/s, during {inc.Slowdown:P0} of that"));
        }

        foreach (var g in gcLog?.Entries ?? [])
        {
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $".NET GC #{g.Count} gen{g.Generation} ({g.Reason}) started by {g.ThreadName} ({g.OsThreadId}) during {g.Label}: runtime suspended {g.SuspendedMs:F3} ms"));
        }

        foreach (var a in gcLog?.LargeAllocations ?? [])
        {
            Console.Error.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"large allocation {a.TypeName} {a.ObjectSize:N0} bytes by {a.ThreadName} ({a.OsThreadId}) during {a.Label}"));
        }

        if (json is not null)
        {
            var doc = new
            {
                liveMb,
                heapMb = options.MaxHeapBytes >> 20,
                threads,
                seed,
                arguments = CommandLine.Arguments,
                kernel = heap.Capabilities.KernelRelease,
                // The snapshots are saved on this (main) thread, whose kernel id is the process id:
                // the stopper of every snapshot pause, for a scheduler trace (pause_attribution.py).
                saverTid = Environment.ProcessId,
                wholeHeapProtectMs = wholeProtect,
                maxLivePauseMs = maxPause,
                medianLivePauseMs = Median(live.Select(r => r.Stats.PauseMs)),
                pauseOverProtect = maxPause / wholeProtect,
                loadMs,
                collections = cp,
                dotnetGcs = gcLog?.Entries,
                largeAllocations = gcLog?.LargeAllocations,
                rows,
            };
            File.WriteAllText(json, JsonSerializer.Serialize(doc, Indented));
        }

        return 0;
    }
}
