using GcHeap.Experiments.Terminal;

namespace GcHeap.Experiments.Workloads.BinaryTrees;

/// <summary>binary-trees on GcHeap objects or on .NET objects; see <see cref="BinaryTreesPlan"/>.</summary>
internal sealed class BinaryTreesWorkload(int depth) : IWorkload
{
    public string Name => "binary-trees";

    public IReadOnlyDictionary<string, object?> Parameters => new Dictionary<string, object?>
    {
        ["depth"] = depth,
        ["max_depth"] = new BinaryTreesPlan(depth).MaxDepth,
    };

    public bool UsesLiveSizeAndDuration => false;

    public void RunGcHeap(Heap heap, WorkloadContext context)
    {
        var trees = new GcTrees(heap);
        if (context.Settings.Api == RunApi.Views)
        {
            Run(context, () => new GcViewTreeBuilder(heap, trees));
        }
        else
        {
            Run(context, () => new GcTreeBuilder(heap, trees));
        }
    }

    public void RunDotnet(WorkloadContext context) => Run(context, () => new DotnetTreeBuilder());

    private void Run(WorkloadContext context, Func<ITreeBuilder> newBuilder)
    {
        var plan = new BinaryTreesPlan(depth);
        var output = context.Output;
        using var main = newBuilder();
        output.WriteLine(plan.StretchLine(main.BuildAndCheck(plan.StretchDepth)));
        main.BuildLongLived(plan.MaxDepth);

        var work = new TreeWork(plan, context.Settings.Threads);
        context.Progress.Phase($"binary-trees depth {plan.MaxDepth} on {context.Settings.Threads} thread(s)", plan.TotalTrees);
        var workers = new WorkerThreads(context.Settings.Threads, "binary-trees worker", _ => Worker(work, newBuilder, context.Progress));
        workers.Start();
        main.WhileBlocked(workers.Join);
        workers.ThrowIfFailed();

        for (int i = 0; i < plan.Depths.Count; i++)
        {
            output.WriteLine(plan.DepthLine(plan.Depths[i], work.Check(i)));
        }

        output.WriteLine(plan.LongLivedLine(main.CheckLongLived()));
        output.Flush();
        context.Metric("trees_built", plan.TotalTrees + 2);
        context.EndOfWork();
    }

    private static void Worker(TreeWork work, Func<ITreeBuilder> newBuilder, IRunProgress progress)
    {
        using var builder = newBuilder();
        while (work.TryTake(out int d, out int index, out int count))
        {
            long check = 0;
            for (int i = 0; i < count; i++)
            {
                check += builder.BuildAndCheck(d);
            }

            work.AddCheck(index, check);
            progress.Advance(count);
        }
    }
}

/// <summary>Builds and checks trees on one thread.</summary>
internal interface ITreeBuilder : IDisposable
{
    /// <summary>Builds a tree bottom-up, returns its node count, lets it die.</summary>
    long BuildAndCheck(int depth);

    void BuildLongLived(int depth);

    long CheckLongLived();

    /// <summary>Runs a blocking wait (GcHeap: inside a safe region).</summary>
    void WhileBlocked(Action wait);
}
