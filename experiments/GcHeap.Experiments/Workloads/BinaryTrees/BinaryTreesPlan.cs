using System.Globalization;

namespace GcHeap.Experiments.Workloads.BinaryTrees;

/// <summary>
/// The Benchmarks Game binary-trees rules: min depth 4, max depth max(6, n), a stretch tree one
/// deeper than max, a long-lived tree of max depth, and 2^(max - d + min) trees of each depth d
/// = min, min+2, ..., max. A tree's check is its node count. Lines are tab separated exactly as
/// the benchmark prints them.
/// </summary>
internal sealed class BinaryTreesPlan
{
    public const int MinDepth = 4;

    public BinaryTreesPlan(int n)
    {
        MaxDepth = Math.Max(MinDepth + 2, n);
        StretchDepth = MaxDepth + 1;
        Depths = [.. Enumerable.Range(0, ((MaxDepth - MinDepth) / 2) + 1).Select(i => MinDepth + (2 * i))];
    }

    public int MaxDepth { get; }

    public int StretchDepth { get; }

    public IReadOnlyList<int> Depths { get; }

    public int Iterations(int depth) => 1 << (MaxDepth - depth + MinDepth);

    public string StretchLine(long check) => string.Create(CultureInfo.InvariantCulture, $"stretch tree of depth {StretchDepth}\t check: {check}");

    public string DepthLine(int depth, long check) => string.Create(CultureInfo.InvariantCulture, $"{Iterations(depth)}\t trees of depth {depth}\t check: {check}");

    public string LongLivedLine(long check) => string.Create(CultureInfo.InvariantCulture, $"long lived tree of depth {MaxDepth}\t check: {check}");

    /// <summary>Total trees built (for progress).</summary>
    public long TotalTrees => Depths.Sum(d => (long)Iterations(d));
}
