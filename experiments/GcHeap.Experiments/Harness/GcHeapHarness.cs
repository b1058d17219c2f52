using System.Diagnostics;
using GcHeap.Experiments.Results;
using GcHeap.Experiments.Terminal;
using GcHeap.Experiments.Workloads;

namespace GcHeap.Experiments.Harness;

/// <summary>Runs a workload on a GcHeap and measures it.</summary>
internal static class GcHeapHarness
{
    public static RunResult Run(IWorkload workload, RunSettings s)
    {
        WarmUp(s);
        var options = new HeapOptions
        {
            RecordFaultStallSamples = true,
            Backend = s.GcBackend,
            MaxHeapBytes = s.HeapLimitBytes,
            VerifyHeap = s.Verify,
        };
        Cli.HeapOptionOverrides.Apply(options, s.HeapOverrides);
        using var trace = s.TraceSuspensions ? new RuntimeSuspensionTrace() : null;
        string phase = "warm-up and setup";
        using var gcLog = s.LogDotnetGcs ? new DotnetGcLog(() => Volatile.Read(ref phase)) : null;
        using var heap = new Heap(options);
        using var recorder = new CollectionRecorder(heap);
        var result = NewResult(workload, s);
        result.GcheapBackend = heap.Backend.ToString();
        result.BackendReason = heap.BackendReason;
        result.UffdOpenMethod = heap.UffdOpenMethod.ToString();
        result.HeapLimitBytes = heap.Configuration.MaxHeapBytes;

        Volatile.Write(ref phase, "work");
        long start = Stopwatch.GetTimestamp();
        var jitBefore = (Methods: System.Runtime.JitInfo.GetCompiledMethodCount(), Time: System.Runtime.JitInfo.GetCompilationTime());
        int[] dotnetGcsBefore = [GC.CollectionCount(0), GC.CollectionCount(1), GC.CollectionCount(2)];
        var dotnetPausedBefore = GC.GetTotalPauseDuration();
        WorkloadContext? context = null;
        void EndOfWork()
        {
            result.ElapsedMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            result.JitMethods = System.Runtime.JitInfo.GetCompiledMethodCount() - jitBefore.Methods;
            result.JitMs = (System.Runtime.JitInfo.GetCompilationTime() - jitBefore.Time).TotalMilliseconds;
            result.DotnetGcsDuringWork = [GC.CollectionCount(0) - dotnetGcsBefore[0], GC.CollectionCount(1) - dotnetGcsBefore[1], GC.CollectionCount(2) - dotnetGcsBefore[2]];
            result.DotnetGcPauseMsDuringWork = (GC.GetTotalPauseDuration() - dotnetPausedBefore).TotalMilliseconds;
            result.RssAfterBytes = ProcStatus.RssBytes();
            result.RssPeakBytes = ProcStatus.PeakRssBytes();
            result.HeapResidentBytes = heap.ResidentBytes;
            if (heap.AllocationPrefault is { } pf)
            {
                result.PrefaultPages = pf.PagesPopulated;
                result.PrefaultBusyMs = pf.BusyMs;
            }

            var report = heap.Verify();
            result.Verified = report.IsValid;
            result.VerifierReport = report.ToString();
            result.LiveBytes = report.ReachableBytes;
            ResultFiller.FillFromCollections(result, recorder.Freeze(), heap.Backend);
            if (gcLog is not null)
            {
                Volatile.Write(ref phase, "after the work");
                result.DotnetGcLog = gcLog.Entries;
                result.DotnetLargeAllocations = gcLog.LargeAllocations;
                foreach (var g in gcLog.Entries)
                {
                    Console.Error.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                        $".NET GC #{g.Count} gen{g.Generation} ({g.Reason}) started by {g.ThreadName} ({g.OsThreadId}) during {g.Label}: runtime suspended {g.SuspendedMs:F3} ms"));
                }

                foreach (var (thread, type, ticks) in gcLog.SmallAllocationTicks.Take(12))
                {
                    Console.Error.WriteLine($"small-object allocation ticks (~100 KB each): {ticks} by {thread}, crossing at {type}");
                }

                foreach (var a in gcLog.LargeAllocations)
                {
                    Console.Error.WriteLine(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                        $"large allocation {a.TypeName} {a.ObjectSize:N0} bytes by {a.ThreadName} ({a.OsThreadId}) during {a.Label}"));
                }
            }
            if (trace is not null)
            {
                result.RuntimeSuspensions = Summarize(trace);
            }
            foreach (var (k, v) in context!.Metrics)
            {
                result.WorkloadMetrics[k] = v;
            }
        }

        RunProgress.Run(s.Quiet, progress =>
        {
            context = new WorkloadContext(s, progress, Console.Out, EndOfWork);
            workload.RunGcHeap(heap, context);
            return 0;
        });

        if (!context!.Ended)
        {
            throw new InvalidOperationException($"The {workload.Name} workload returned without calling EndOfWork.");
        }

        result.Notes.Add("Before the measured heap, a small throwaway heap of the same backend collected twice warms the process up (JIT, first-touch); it is not reported.");
        result.Notes.Add("live_bytes is Heap.Verify().ReachableBytes at the end of the work (objects reachable from the roots, GcHeap object sizes).");
        result.Notes.Add("pauses_ms lists every pause of every collection (mark-start, mark-end, flip, full, verify); the final Heap.Verify() of the harness is not a collection and is not included.");
        result.Notes.Add("rss_peak_bytes is VmHWM and rss_after_bytes VmRSS of this process when the work ended; heap_resident_bytes is Heap.ResidentBytes (mincore of both spaces).");
        return result;
    }

    private static RuntimeSuspensionSummary Summarize(RuntimeSuspensionTrace trace)
    {
        var suspensions = trace.Suspensions;
        var summary = new RuntimeSuspensionSummary
        {
            Count = suspensions.Count,
            TotalMs = suspensions.Sum(x => x.Ms),
            MaxMs = suspensions.Count == 0 ? 0 : suspensions.Max(x => x.Ms),
        };
        foreach (var g in suspensions.GroupBy(x => x.Reason))
        {
            summary.ByReason[g.Key] = g.Count();
        }

        foreach (var o in trace.Overlaps().Where(o => o.Ms >= 0.5))
        {
            summary.Pauses.Add(new PauseOverlapRecord(o.Kind, o.Ms, o.SuspendedMs, o.SuspendReasons, o.JitMs));
        }

        return summary;
    }

    /// <summary>One small heap of the same backend, collected twice and dropped, so the first measured pauses do not pay the process's start-up costs.</summary>
    private static void WarmUp(RunSettings s)
    {
        using var heap = new Heap(new HeapOptions { Backend = s.GcBackend, MaxHeapBytes = 64 << 20, BackgroundCollection = false });
        var node = heap.Types.DefineObject("warm-up node", b => b.Reference("next").Value<long>("value"));
        using var m = heap.AttachCurrentThread("warm-up");
        using (m.OpenScope())
        {
            var list = m.AllocateArray(heap.Types.ReferenceArray, 4096);
            using var root = m.CreateRoot(list);
            for (int i = 0; i < 20_000; i++)
            {
                using var scope = m.OpenScope();
                var n = m.Allocate(node);
                m.SetElement(list, i % 4096, n);
            }

            heap.Collect();
            heap.Collect();
        }
    }

    public static RunResult NewResult(IWorkload workload, RunSettings s)
    {
        var r = new RunResult
        {
            Workload = workload.Name,
            Backend = RunSettings.Name(s.Backend),
            Threads = s.Threads,
            Seed = s.Seed,
            SecondsRequested = workload.UsesLiveSizeAndDuration ? s.Seconds : null,
            LiveBytesRequested = workload.UsesLiveSizeAndDuration ? s.LiveBytesRequested : null,
            VerifyEachCollection = s.Verify,
            Machine = MachineInfo.Collect(),
        };
        foreach (var (k, v) in workload.Parameters)
        {
            r.Parameters[k] = v;
        }

        if (s.Backend != RunBackend.Dotnet)
        {
            r.Parameters["api"] = s.Api == RunApi.Views ? "views" : "handles";
        }

        if (s.HeapOverrides.Count > 0)
        {
            r.Parameters["heap_options"] = s.HeapOverrides.Select(o => $"{o.Name}={o.Value}").ToList();
        }

        return r;
    }
}
