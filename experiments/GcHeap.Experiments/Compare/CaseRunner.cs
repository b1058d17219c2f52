using System.Diagnostics;
using GcHeap.Experiments.Harness;
using GcHeap.Experiments.Results;
using GcHeap.Experiments.Terminal;
using GcHeap.Experiments.Workloads;
using GcHeap.Experiments.Workloads.Fragment;

namespace GcHeap.Experiments.Compare;

/// <summary>
/// One case of the comparison: a fresh heap (or .NET), the fragment graph built and thinned out,
/// then a few full collections while mutator threads run. Only collections after the build
/// are reported. A failure is recorded in the case, not thrown.
/// </summary>
internal static class CaseRunner
{
    public static CompareCase Run(CompareSettings s, int liveMb, RunBackend backend, IRunProgress progress)
    {
        var result = new CompareCase { LiveMb = liveMb, Backend = RunSettings.Name(backend) };

        // Cases run one after another in this process: read where memory stands before this one
        // (earlier cases' .NET garbage collected first), so the table can show what it added.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        result.RssBeforeBytes = ProcStatus.RssBytes();
        result.RssShmemBeforeBytes = ProcStatus.RssShmemBytes();
        result.PssBeforeBytes = ProcStatus.PssBytes();
        bool peakReset = ProcStatus.TryResetPeak();
        try
        {
            if (backend == RunBackend.Dotnet)
            {
                RunDotnet(s, liveMb, result, progress);
            }
            else
            {
                RunGcHeap(s, liveMb, backend, result, progress);
            }
        }
        catch (Exception e) when (e is GcHeapException or ObjectDisposedException)
        {
            result.Error = $"{e.GetType().Name}: {e.Message}";
        }

        if (!peakReset)
        {
            result.RssPeakBytes = null; // VmHWM would include earlier cases
        }

        return result;
    }

    private static void RunGcHeap(CompareSettings s, int liveMb, RunBackend backend, CompareCase result, IRunProgress progress)
    {
        var settings = new RunSettings { Backend = backend };
        var options = new HeapOptions
        {
            RecordFaultStallSamples = true,
            Backend = settings.GcBackend,
            MaxHeapBytes = s.HeapLimitBytes(liveMb),
            BackgroundCollection = false,
            VerifyHeap = s.Verify,
        };
        Cli.HeapOptionOverrides.Apply(options, s.HeapOverrides);
        using var heap = new Heap(options);
        result.GcheapBackend = heap.Backend.ToString();
        result.BackendReason = heap.BackendReason;
        using var graph = new GcFragmentGraph(heap, views: false); // compare and demo keep the handle API: their figures (docs/results) measure compaction across releases
        using var recorder = new CollectionRecorder(heap);
        var (counters, seconds) = BuildAndCollect(s, liveMb, graph, result, progress, () => recorder.Snapshot().Count);
        ReadMemoryAfter(result);
        result.RssPeakBytes = ProcStatus.PeakRssBytes();
        result.HeapResidentBytes = heap.ResidentBytes;

        // Verify runs on the collector thread after it has raised CollectionCompleted for every
        // finished collection, so the recorder is complete only after it.
        var report = heap.Verify();
        var records = recorder.Freeze();
        result.Verified = report.IsValid;
        result.LiveBytes = report.ReachableBytes;
        Summarise(result, records, heap.Backend, counters, seconds);
    }

    private static void RunDotnet(CompareSettings s, int liveMb, CompareCase result, IRunProgress progress)
    {
        result.BackendReason = ".NET objects, .NET's GC; each collection is GC.Collect(2, Forced, blocking, compacting), its pause from GC.GetGCMemoryInfo(GCKind.FullBlocking).PauseDurations";
        using var graph = new DotnetFragmentGraph();
        TimeSpan pausesBefore = default;
        int gcsBefore = 0;
        var forced = new List<double>();
        var (counters, seconds) = BuildAndCollect(s, liveMb, graph, result, progress, () =>
        {
            var info = GC.GetGCMemoryInfo(GCKind.FullBlocking);
            forced.Add(info.PauseDurations.ToArray().Sum(d => d.TotalMilliseconds));
            return forced.Count;
        }, onMeasureStart: () =>
        {
            pausesBefore = GC.GetTotalPauseDuration();
            gcsBefore = GC.CollectionCount(0);
        });
        result.DotnetTotalPauseMs = (GC.GetTotalPauseDuration() - pausesBefore).TotalMilliseconds;
        result.DotnetGcCount = GC.CollectionCount(0) - gcsBefore;
        ReadMemoryAfter(result);
        result.RssPeakBytes = ProcStatus.PeakRssBytes();
        result.Collections = forced.Count;
        result.PausesMs = forced;
        result.PauseKinds = [.. forced.Select(_ => "dotnet forced gen2")];
        result.MaxPauseMs = forced.Count == 0 ? null : forced.Max();
        result.LiveBytes = GC.GetGCMemoryInfo(GCKind.FullBlocking).PromotedBytes;
        result.MutatorOperations = counters.Operations;
        result.MutatorSeconds = seconds;
        result.DataErrors = counters.DataErrors;
    }

    /// <summary>The process's memory right after the last collection: RSS, its shmem and anonymous parts, PSS.</summary>
    private static void ReadMemoryAfter(CompareCase result)
    {
        result.RssAfterBytes = ProcStatus.RssBytes();
        result.RssShmemAfterBytes = ProcStatus.RssShmemBytes();
        result.RssAnonAfterBytes = ProcStatus.RssAnonBytes();
        result.HugetlbAfterBytes = ProcStatus.HugetlbBytes();
        result.PssAfterBytes = ProcStatus.PssBytes();
    }

    /// <summary>Builds the graph, starts the mutators, collects <see cref="CompareSettings.Collections"/> times, stops them.</summary>
    private static (MutatorCounters Counters, double Seconds) BuildAndCollect(
        CompareSettings s, int liveMb, IFragmentGraph graph, CompareCase result, IRunProgress progress, Func<int> afterCollect, Action? onMeasureStart = null)
    {
        long target = (long)(((long)liveMb << 20) / Math.Max(0.01, 1 - s.Drop));
        var sw = Stopwatch.StartNew();
        var build = graph.Build(target, s.Drop, s.Seed, progress);
        result.BuildMs = sw.Elapsed.TotalMilliseconds;
        result.BytesBuilt = build.BuiltBytes;
        var counters = Enumerable.Range(0, s.Threads).Select(_ => new MutatorCounters()).ToArray();
        using var stop = new CancellationTokenSource();
        var threads = new WorkerThreads(s.Threads, "compare mutator", i => graph.Mutate(i, s.Seed, counters[i], stop.Token));
        onMeasureStart?.Invoke();
        progress.Phase($"{liveMb} MiB on {result.Backend}: {s.Collections} collections, {s.Threads} mutator thread(s)", s.Collections);
        var run = Stopwatch.StartNew();
        threads.Start();
        try
        {
            for (int i = 0; i < s.Collections && threads.Failure is null; i++)
            {
                graph.Collect();
                afterCollect();
                progress.Set(i + 1);
            }
        }
        finally
        {
            stop.Cancel();
            graph.WhileBlocked(threads.Join);
        }

        threads.ThrowIfFailed();
        return (MutatorCounters.Sum(counters), run.Elapsed.TotalSeconds);
    }

    private static void Summarise(CompareCase r, List<CollectionRecord> cs, GcBackend backend, MutatorCounters counters, double seconds)
    {
        r.CollectionRecords = cs;
        r.Collections = cs.Count;
        r.MutatorOperations = counters.Operations;
        r.MutatorSeconds = seconds;
        r.DataErrors = counters.DataErrors;
        if (cs.Count == 0)
        {
            return;
        }

        var pauses = cs.SelectMany(c => c.Pauses).ToList();
        r.PausesMs = [.. pauses.Select(p => p.Ms)];
        r.PauseKinds = [.. pauses.Select(p => p.Kind)];
        r.MaxPauseMs = pauses.Count == 0 ? null : pauses.Max(p => p.Ms);
        r.FlipPauseMsMax = cs.Max(c => c.FlipPauseMs);
        r.FlipPauseMsMean = cs.Average(c => c.FlipPauseMs);
        r.HeapBytesBefore = cs[0].HeapBytesBefore;
        r.HeapBytesAfter = cs[0].HeapBytesAfter;
        r.CompactMsTotal = cs.Sum(c => c.CompactMs);
        r.CompactMsMean = cs.Average(c => c.CompactMs);
        r.CollectorCpuMsTotal = cs.Sum(c => c.CollectorCpuMs);
        r.CollectorCpuMsMean = cs.Average(c => c.CollectorCpuMs);
        r.BytesMoved = cs.Sum(c => c.BytesMoved);
        r.CollectorThroughputGbS = r.CompactMsTotal > 0 ? r.BytesMoved / (r.CompactMsTotal * 1e6) : null;
        r.PagesCompacted = cs.Sum(c => c.PagesCompacted);
        if (backend != GcBackend.StopTheWorld)
        {
            var t = UffdTotals.Of(cs);
            r.FaultStallUsP50 = t.StallP50Us;
            r.FaultStallUsP99 = t.StallP99Us;
            r.FaultStallUsMax = t.StallMaxUs;
            r.FaultsServed = t.FaultsServed;
            r.PagesZeroCopy = t.PagesZeroCopy;
            r.ZeroCopyShare = t.ZeroCopyShare;
            r.PagesCopied = t.PagesCopied;
            r.PagesMoved = t.PagesMoved;
            r.PagesContinued = t.PagesContinued;
            r.PagesWholeCopied = t.PagesWholeCopied;
            r.EbusyFallbacks = t.EbusyFallbacks;
            r.Ioctls = t.Ioctls;
        }
    }
}
