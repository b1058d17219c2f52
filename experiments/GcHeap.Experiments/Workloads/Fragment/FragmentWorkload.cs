using System.Diagnostics;

namespace GcHeap.Experiments.Workloads.Fragment;

/// <summary>
/// fragment: build a live graph of --live-mb, empty a random --drop fraction of it, then
/// collect again and again for --seconds (and at least --collections times) while --threads
/// mutator threads read, write, move references and allocate: the workload that shows
/// concurrent compaction and its faults.
/// </summary>
internal sealed class FragmentWorkload(double drop, int minCollections) : IWorkload
{
    public string Name => "fragment";

    public IReadOnlyDictionary<string, object?> Parameters => new Dictionary<string, object?>
    {
        ["drop"] = drop,
        ["min_collections"] = minCollections,
        ["bucket_size"] = FragmentShape.BucketSize,
        ["mix"] = "by bytes: 50% chains of 1-8 nodes (48 B), 35% byte arrays of 16-1024 B, 15% byte arrays of 4-64 KiB; mutator ops: 45% read+check, 20% write, 15% swap entries and store a reference in a node field, 20% replace an entry",
    };

    public bool UsesLiveSizeAndDuration => true;

    public void RunGcHeap(Heap heap, WorkloadContext context)
    {
        using var graph = new GcFragmentGraph(heap, context.Settings.Api == RunApi.Views);
        Run(context, graph);
    }

    public void RunDotnet(WorkloadContext context)
    {
        using var graph = new DotnetFragmentGraph();
        Run(context, graph);
    }

    private void Run(WorkloadContext context, IFragmentGraph graph)
    {
        var s = context.Settings;
        long target = (long)(s.LiveBytesRequested / Math.Max(0.01, 1 - drop));
        var build = graph.Build(target, drop, s.Seed, context.Progress);
        context.Metric("items_built", build.Items);
        context.Metric("bytes_built", build.BuiltBytes);
        context.Metric("entries_dropped", build.EntriesDropped);
        context.Metric("buckets", build.Buckets);

        var counters = Enumerable.Range(0, s.Threads).Select(_ => new MutatorCounters()).ToArray();
        using var stop = new CancellationTokenSource();
        var threads = new WorkerThreads(s.Threads, "fragment mutator", i => graph.Mutate(i, s.Seed, counters[i], stop.Token));
        var run = Stopwatch.StartNew();
        threads.Start();
        context.Progress.Phase($"collecting for {s.Seconds:F0} s with {s.Threads} mutator thread(s)", s.Seconds);
        int collections = 0;
        while ((run.Elapsed.TotalSeconds < s.Seconds || collections < minCollections) && threads.Failure is null)
        {
            graph.Collect();
            collections++;
            context.Progress.Set(run.Elapsed.TotalSeconds);
        }

        stop.Cancel();
        graph.WhileBlocked(threads.Join);
        threads.ThrowIfFailed();
        double seconds = run.Elapsed.TotalSeconds;
        var sum = MutatorCounters.Sum(counters);
        context.Metric("requested_collections", collections);
        context.Metric("mutator_seconds", seconds);
        context.Metric("mutator_operations", sum.Operations);
        context.Metric("mutator_ops_per_second", sum.Operations / seconds);
        context.Metric("mutator_reads", sum.Reads);
        context.Metric("mutator_writes", sum.Writes);
        context.Metric("mutator_moves", sum.Moves);
        context.Metric("mutator_allocations", sum.Allocations);
        context.Metric("mutator_allocated_bytes", sum.AllocatedBytes);
        context.Metric("data_errors", sum.DataErrors);
        context.EndOfWork();
    }
}
