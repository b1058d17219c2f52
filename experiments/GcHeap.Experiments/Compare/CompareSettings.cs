using GcHeap.Experiments.Workloads;

namespace GcHeap.Experiments.Compare;

/// <summary>How the comparison runs each case.</summary>
internal sealed record CompareSettings
{
    public IReadOnlyList<int> SizesMb { get; init; } = [64, 256, 1024];

    public IReadOnlyList<RunBackend> Backends { get; init; } = [RunBackend.Move, RunBackend.Copy, RunBackend.Stw];

    public int Threads { get; init; } = 1;

    public int Collections { get; init; } = 3;

    public double Drop { get; init; } = 0.5;

    public int Seed { get; init; } = 42;

    /// <summary>Heap limit as a multiple of the live size (at least 256 MiB).</summary>
    public double HeapFactor { get; init; } = 3;

    public bool Verify { get; init; }

    public bool Quiet { get; init; }

    /// <summary>HeapOptions properties set with --option Name=Value.</summary>
    public IReadOnlyList<(string Name, string Value)> HeapOverrides { get; init; } = [];

    public long HeapLimitBytes(int liveMb) => (long)Math.Max(256, Math.Ceiling(HeapFactor * liveMb)) << 20;
}
