namespace GcHeap.Experiments.Workloads.BinaryTrees;

/// <summary>
/// The iterations of every depth, cut into chunks that worker threads take in order (like the
/// multi-threaded Benchmarks Game programs, which build each depth's trees in parallel). Check
/// sums are added per depth, so the printed totals do not depend on the thread count.
/// </summary>
internal sealed class TreeWork
{
    private readonly (int DepthIndex, int Count)[] _chunks;
    private readonly long[] _checks;
    private int _next = -1;

    public TreeWork(BinaryTreesPlan plan, int threads)
    {
        Plan = plan;
        _checks = new long[plan.Depths.Count];
        var chunks = new List<(int, int)>();
        for (int i = 0; i < plan.Depths.Count; i++)
        {
            int iterations = plan.Iterations(plan.Depths[i]);
            int size = Math.Max(1, iterations / (threads * 8));
            for (int done = 0; done < iterations; done += size)
            {
                chunks.Add((i, Math.Min(size, iterations - done)));
            }
        }

        _chunks = [.. chunks];
    }

    public BinaryTreesPlan Plan { get; }

    public bool TryTake(out int depth, out int depthIndex, out int count)
    {
        int i = Interlocked.Increment(ref _next);
        if (i >= _chunks.Length)
        {
            depth = depthIndex = count = 0;
            return false;
        }

        (depthIndex, count) = _chunks[i];
        depth = Plan.Depths[depthIndex];
        return true;
    }

    public void AddCheck(int depthIndex, long check) => Interlocked.Add(ref _checks[depthIndex], check);

    public long Check(int depthIndex) => Interlocked.Read(ref _checks[depthIndex]);
}
