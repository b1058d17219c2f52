namespace GcHeap.Experiments.Workloads.GcPerfSim;

/// <summary>
/// GCPerfSim-style allocation: each thread allocates items of min..max payload bytes; every
/// Nth allocation survives into the thread's bounded survivor set, replacing a random slot
/// (and linking to another survivor), so the live size stays near --live-mb. With
/// <paramref name="AllocateGb"/> the run ends after that much allocation (GCPerfSim's -tagb),
/// otherwise after --seconds.
/// </summary>
internal sealed record GcPerfSimParameters(int SurviveInterval, int MinSize, int MaxSize, double? AllocateGb = null)
{
    /// <summary>The allocation volume that ends the run, or null (the run ends after --seconds).</summary>
    public long? AllocationBudgetBytes => AllocateGb is double gb ? (long)(gb * (1L << 30)) : null;

    /// <summary>GcHeap bytes of an item: a node (header, two references, a long) plus its payload array.</summary>
    public static long ItemBytes(int payload) => 32 + ((8 + payload + 7) & ~7L);

    public double AverageItemBytes => ItemBytes((MinSize + MaxSize) / 2);

    /// <summary>Survivor slots per thread so that all threads together hold about <paramref name="liveBytes"/>.</summary>
    public int SlotsPerThread(long liveBytes, int threads) => (int)Math.Clamp(liveBytes / AverageItemBytes / threads, 1, 50_000_000);
}

/// <summary>What one GCPerfSim thread did.</summary>
internal sealed class GcPerfSimCounters
{
    public long Allocations;
    public long AllocatedBytes;
    public long Survived;
    public long DataErrors;
}
