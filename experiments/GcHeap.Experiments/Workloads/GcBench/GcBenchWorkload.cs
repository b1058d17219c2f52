using System.Diagnostics;
using System.Globalization;

namespace GcHeap.Experiments.Workloads.GcBench;

/// <summary>
/// GCBench: a stretch tree, a long-lived tree and array, then for each depth the same number of
/// short-lived trees built top-down and bottom-up, timed and printed like the original. With
/// --threads N the trees of each step are shared out among N threads.
/// </summary>
internal sealed class GcBenchWorkload(GcBenchParameters p, int scale) : IWorkload
{
    public string Name => "gcbench";

    public IReadOnlyDictionary<string, object?> Parameters => new Dictionary<string, object?>
    {
        ["scale"] = scale,
        ["stretch_tree_depth"] = p.StretchTreeDepth,
        ["long_lived_tree_depth"] = p.LongLivedTreeDepth,
        ["array_size"] = p.ArraySize,
        ["min_tree_depth"] = p.MinTreeDepth,
        ["max_tree_depth"] = p.MaxTreeDepth,
    };

    public bool UsesLiveSizeAndDuration => false;

    public void RunGcHeap(Heap heap, WorkloadContext context)
    {
        var types = new GcBenchTypes(heap);
        if (context.Settings.Api == RunApi.Views)
        {
            Run(context, () => new GcViewGcBenchHeap(heap, types));
        }
        else
        {
            Run(context, () => new GcHeapGcBenchHeap(heap, types));
        }
    }

    public void RunDotnet(WorkloadContext context) => Run(context, () => new DotnetGcBenchHeap());

    private void Run(WorkloadContext context, Func<IGcBenchHeap> newHeap)
    {
        var o = context.Output;
        var total = Stopwatch.StartNew();
        using var main = newHeap();
        o.WriteLine("Garbage Collector Test");
        o.WriteLine(Inv($" Stretching memory with a binary tree of depth {p.StretchTreeDepth}"));
        main.BottomUpTree(p.StretchTreeDepth);
        o.WriteLine(Inv($" Creating a long-lived binary tree of depth {p.LongLivedTreeDepth}"));
        o.WriteLine(Inv($" Creating a long-lived array of {p.ArraySize} doubles"));
        main.BuildLongLived(p.LongLivedTreeDepth, p.ArraySize);

        long trees = 0;
        context.Progress.Phase($"gcbench depths {p.MinTreeDepth}..{p.MaxTreeDepth}", p.Depths().Sum(d => 2.0 * p.Iterations(d)));
        foreach (int depth in p.Depths())
        {
            int iterations = p.Iterations(depth);
            o.WriteLine(Inv($"Creating {iterations} trees of depth {depth}"));
            double topDown = TimeParallel(context, main, newHeap, iterations, h => h.TopDownTree(depth));
            o.WriteLine(Inv($"\tTop down construction took {topDown:F0} msec"));
            double bottomUp = TimeParallel(context, main, newHeap, iterations, h => h.BottomUpTree(depth));
            o.WriteLine(Inv($"\tBottom up construction took {bottomUp:F0} msec"));
            context.Metric($"top_down_ms_depth_{depth}", topDown);
            context.Metric($"bottom_up_ms_depth_{depth}", bottomUp);
            trees += 2L * iterations;
        }

        bool intact = main.LongLivedIntact();
        if (!intact)
        {
            o.WriteLine("Failed");
        }

        o.WriteLine(Inv($"Completed in {total.ElapsedMilliseconds} msec"));
        o.Flush();
        context.Metric("trees_built", trees + 2);
        context.Metric("long_lived_intact", intact);
        context.EndOfWork();
    }

    private static double TimeParallel(WorkloadContext context, IGcBenchHeap main, Func<IGcBenchHeap> newHeap, int iterations, Action<IGcBenchHeap> build)
    {
        var sw = Stopwatch.StartNew();
        int threads = Math.Min(context.Settings.Threads, iterations);
        int next = -1;
        var workers = new WorkerThreads(threads, "gcbench worker", _ =>
        {
            using var h = newHeap();
            while (Interlocked.Increment(ref next) < iterations)
            {
                build(h);
                context.Progress.Advance(1);
            }
        });
        workers.Start();
        main.WhileBlocked(workers.Join);
        workers.ThrowIfFailed();
        return sw.Elapsed.TotalMilliseconds;
    }

    private static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
