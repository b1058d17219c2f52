using System.Diagnostics;
using System.Runtime;
using GcHeap.Experiments.Results;
using GcHeap.Experiments.Terminal;
using GcHeap.Experiments.Workloads;

namespace GcHeap.Experiments.Harness;

/// <summary>
/// Runs a workload on .NET objects in this process and measures .NET's pauses from inside
/// (GC.GetTotalPauseDuration, GC.CollectionCount, GC.GetGCMemoryInfo). The external
/// (EventPipe) measurement is added by <see cref="DotnetParentHarness"/>.
/// </summary>
internal static class DotnetHarness
{
    public static RunResult Run(IWorkload workload, RunSettings s)
    {
        var result = GcHeapHarness.NewResult(workload, s);
        result.BackendReason = $".NET objects and .NET's own GC ({(GCSettings.IsServerGC ? "server" : "workstation")}, latency mode {GCSettings.LatencyMode})";
        long start = Stopwatch.GetTimestamp();
        WorkloadContext? context = null;
        void EndOfWork()
        {
            result.ElapsedMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            result.RssAfterBytes = ProcStatus.RssBytes();
            result.RssPeakBytes = ProcStatus.PeakRssBytes();
            var last = GC.GetGCMemoryInfo(GCKind.Any);
            var inProcess = new InProcessGcPauses
            {
                Method = "GC.GetTotalPauseDuration() and GC.CollectionCount(n) since process start, read when the work ended; " +
                         "last_gc_pause_ms and pause_time_percentage from GC.GetGCMemoryInfo(GCKind.Any)",
                TotalPauseMs = GC.GetTotalPauseDuration().TotalMilliseconds,
                GcCount = GC.CollectionCount(0),
                GcIndexAtEnd = GC.CollectionCount(0),
                Gen0Count = GC.CollectionCount(0) - GC.CollectionCount(1),
                Gen1Count = GC.CollectionCount(1) - GC.CollectionCount(2),
                Gen2Count = GC.CollectionCount(2),
                LastGcPauseMs = last.Index == 0 ? null : last.PauseDurations.ToArray().Sum(d => d.TotalMilliseconds),
                PauseTimePercentage = last.Index == 0 ? null : last.PauseTimePercentage,
                TotalAllocatedBytes = GC.GetTotalAllocatedBytes(precise: true),
            };
            result.Dotnet = new DotnetGcMeasurements { InProcess = inProcess };
            result.GcCount = inProcess.GcCount;

            // Live bytes: one more full, blocking, compacting GC; what it promoted is what is reachable.
            // Its index is above gc_index_at_end, so it is excluded from the run's pauses.
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            var full = GC.GetGCMemoryInfo(GCKind.FullBlocking);
            result.LiveBytes = full.Index > inProcess.GcIndexAtEnd ? full.PromotedBytes : null;
            foreach (var (k, v) in context!.Metrics)
            {
                result.WorkloadMetrics[k] = v;
            }
        }

        RunProgress.Run(s.Quiet, progress =>
        {
            context = new WorkloadContext(s, progress, Console.Out, EndOfWork);
            workload.RunDotnet(context);
            return 0;
        });

        if (!context!.Ended)
        {
            throw new InvalidOperationException($"The {workload.Name} workload returned without calling EndOfWork.");
        }

        result.Notes.Add("live_bytes is PromotedBytes of one extra full blocking compacting GC run after the work ended (excluded from pauses_ms and gc_count).");
        result.Notes.Add("rss_peak_bytes is VmHWM and rss_after_bytes VmRSS of the process that ran the work, read when the work ended.");
        return result;
    }
}
