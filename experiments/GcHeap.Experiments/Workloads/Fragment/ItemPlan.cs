namespace GcHeap.Experiments.Workloads.Fragment;

/// <summary>What one directory entry of the fragment graph holds.</summary>
internal enum ItemKind
{
    /// <summary>A chain of 1-8 small nodes with references.</summary>
    Nodes,

    /// <summary>A byte array of 16-1024 bytes.</summary>
    SmallArray,

    /// <summary>A byte array of 4-64 KiB (a large object in GcHeap: pages of its own).</summary>
    LargeArray,
}

/// <summary>One item to create: its kind and its node count or array length.</summary>
internal readonly record struct ItemSpec(ItemKind Kind, int Size)
{
    /// <summary>Bytes the item takes in GcHeap (header included); used to size the graph the same way on every backend.</summary>
    public long GcHeapBytes => Kind == ItemKind.Nodes ? Size * FragmentShape.NodeBytes : (8 + Size + 7) & ~7L;
}

/// <summary>
/// The mix of the fragment graph, by bytes: half small nodes with references, a third small
/// byte arrays, the rest large arrays. The same random sequence gives the same items on every backend.
/// </summary>
internal static class FragmentShape
{
    /// <summary>GcHeap size of a node: header, two references, three longs.</summary>
    public const long NodeBytes = 48;

    /// <summary>Entries per bucket: a bucket (8 + 255 x 8 = 2,048 bytes) is still a small object.</summary>
    public const int BucketSize = 255;

    private const double NodeShare = 0.50, SmallShare = 0.35, LargeShare = 0.15;
    private const double AvgNodeItem = 4.5 * NodeBytes, AvgSmallItem = 8 + 520, AvgLargeItem = 8 + 34_816;

    private static readonly double s_pNodes, s_pSmall;

    static FragmentShape()
    {
        double wn = NodeShare / AvgNodeItem, ws = SmallShare / AvgSmallItem, wl = LargeShare / AvgLargeItem;
        s_pNodes = wn / (wn + ws + wl);
        s_pSmall = ws / (wn + ws + wl);
    }

    /// <summary>Average GcHeap bytes per item, to size the directory.</summary>
    public static double AverageItemBytes => (s_pNodes * AvgNodeItem) + (s_pSmall * AvgSmallItem) + ((1 - s_pNodes - s_pSmall) * AvgLargeItem);

    public static ItemSpec Next(Random rnd)
    {
        double u = rnd.NextDouble();
        if (u < s_pNodes)
        {
            return new ItemSpec(ItemKind.Nodes, rnd.Next(1, 9));
        }

        return u < s_pNodes + s_pSmall
            ? new ItemSpec(ItemKind.SmallArray, rnd.Next(16, 1025))
            : new ItemSpec(ItemKind.LargeArray, rnd.Next(4096, 65537));
    }

    /// <summary>splitmix64: the check value stored beside each node id and array length.</summary>
    public static long Mix(long x)
    {
        ulong z = (ulong)x + 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return (long)(z ^ (z >> 31));
    }
}

/// <summary>Figures one fragment mutator thread counted.</summary>
internal sealed class MutatorCounters
{
    public long Reads;
    public long Writes;
    public long Moves;
    public long Allocations;
    public long AllocatedBytes;
    public long DataErrors;

    public long Operations => Reads + Writes + Moves + Allocations;

    public static MutatorCounters Sum(IEnumerable<MutatorCounters> all)
    {
        var s = new MutatorCounters();
        foreach (var c in all)
        {
            s.Reads += c.Reads;
            s.Writes += c.Writes;
            s.Moves += c.Moves;
            s.Allocations += c.Allocations;
            s.AllocatedBytes += c.AllocatedBytes;
            s.DataErrors += c.DataErrors;
        }

        return s;
    }
}
