using System.Diagnostics;

namespace GcHeap.Experiments.Workloads.GcPerfSim;

/// <summary>gcperfsim: --threads threads allocate for --seconds; see <see cref="GcPerfSimParameters"/>.</summary>
internal sealed class GcPerfSimWorkload(GcPerfSimParameters p) : IWorkload
{
    public string Name => "gcperfsim";

    public IReadOnlyDictionary<string, object?> Parameters => new Dictionary<string, object?>
    {
        ["survive_interval"] = p.SurviveInterval,
        ["min_size"] = p.MinSize,
        ["max_size"] = p.MaxSize,
        ["allocate_gb"] = p.AllocateGb,
        ["item"] = "a node (payload, link, size) plus a byte array of min..max bytes; every survive_interval-th item replaces a random slot of its thread's survivor set and links to another survivor",
    };

    public bool UsesLiveSizeAndDuration => true;

    public void RunGcHeap(Heap heap, WorkloadContext context)
    {
        using var sim = new GcHeapGcPerfSim(heap, p, context.Settings.Api == RunApi.Views);
        Run(context, sim);
    }

    public void RunDotnet(WorkloadContext context)
    {
        using var sim = new DotnetGcPerfSim(p);
        Run(context, sim);
    }

    private void Run(WorkloadContext context, IGcPerfSimHeap sim)
    {
        var s = context.Settings;
        int slots = p.SlotsPerThread(s.LiveBytesRequested, s.Threads);
        var counters = Enumerable.Range(0, s.Threads).Select(_ => new GcPerfSimCounters()).ToArray();
        using var stop = new CancellationTokenSource();
        var threads = new WorkerThreads(s.Threads, "gcperfsim", i => sim.Run(i, s.Seed, slots, counters[i], stop.Token));
        var sw = Stopwatch.StartNew();
        long? budget = p.AllocationBudgetBytes;
        long Allocated() => counters.Sum(c => Volatile.Read(ref c.AllocatedBytes));
        if (budget is long b)
        {
            context.Progress.Phase($"allocating {b / 1048576.0:F0} MiB on {s.Threads} thread(s)", b / 1048576.0);
        }
        else
        {
            context.Progress.Phase($"allocating for {s.Seconds:F0} s on {s.Threads} thread(s)", s.Seconds);
        }

        threads.Start();
        sim.WhileBlocked(() =>
        {
            while ((budget is long limit ? Allocated() < limit : sw.Elapsed.TotalSeconds < s.Seconds) && threads.AnyAlive)
            {
                Thread.Sleep(budget is null ? 100 : 10);
                context.Progress.Set(budget is null ? sw.Elapsed.TotalSeconds : Allocated() / 1048576.0);
            }

            stop.Cancel();
            threads.Join();
        });
        threads.ThrowIfFailed();
        double seconds = sw.Elapsed.TotalSeconds;
        context.Metric("survivor_slots_per_thread", slots);
        context.Metric("allocations", counters.Sum(c => c.Allocations));
        context.Metric("allocated_bytes", counters.Sum(c => c.AllocatedBytes));
        context.Metric("allocation_rate_mb_s", counters.Sum(c => c.AllocatedBytes) / 1048576.0 / seconds);
        context.Metric("survived", counters.Sum(c => c.Survived));
        context.Metric("data_errors", counters.Sum(c => c.DataErrors));
        context.Metric("seconds", seconds);
        context.EndOfWork();
    }
}
