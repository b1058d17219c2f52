namespace GcHeap.Experiments.Workloads.GcBench;

/// <summary>
/// GCBench's constants (Ellis, Kovac, Boehm): stretch tree depth 18, long-lived tree depth 16, a
/// long-lived array of 500,000 doubles, and short-lived trees of depth 4, 6, ..., 16.
/// <see cref="Scaled"/> takes <c>scale</c> levels off every depth (not below the minimum depth)
/// and divides the array by 2^scale, so that scale 4 does about 1/16 of the work.
/// </summary>
internal sealed record GcBenchParameters(int StretchTreeDepth, int LongLivedTreeDepth, int ArraySize, int MinTreeDepth, int MaxTreeDepth)
{
    public static GcBenchParameters Classic { get; } = new(18, 16, 500_000, 4, 16);

    public static GcBenchParameters Scaled(int scale)
    {
        var c = Classic;
        int max = Math.Max(c.MinTreeDepth, c.MaxTreeDepth - scale);
        return new GcBenchParameters(
            Math.Max(c.MinTreeDepth + 2, c.StretchTreeDepth - scale),
            Math.Max(c.MinTreeDepth, c.LongLivedTreeDepth - scale),
            Math.Max(1_024, c.ArraySize >> scale),
            c.MinTreeDepth,
            max);
    }

    /// <summary>Nodes in a complete tree of depth <paramref name="depth"/>.</summary>
    public static long TreeSize(int depth) => (1L << (depth + 1)) - 1;

    /// <summary>Trees of depth <paramref name="depth"/> built per construction order.</summary>
    public int Iterations(int depth) => (int)(2 * TreeSize(StretchTreeDepth) / TreeSize(depth));

    public IEnumerable<int> Depths()
    {
        for (int d = MinTreeDepth; d <= MaxTreeDepth; d += 2)
        {
            yield return d;
        }
    }
}
