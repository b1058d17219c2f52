namespace GcHeap.Experiments.Workloads;

/// <summary>Where a workload's objects live.</summary>
internal enum RunBackend
{
    /// <summary>GcHeap, concurrent compaction with UFFDIO_MOVE.</summary>
    Move,

    /// <summary>GcHeap, concurrent compaction with UFFDIO_COPY.</summary>
    Copy,

    /// <summary>GcHeap, stop-the-world compaction.</summary>
    Stw,

    /// <summary>Ordinary .NET objects and .NET's own GC.</summary>
    Dotnet,

    /// <summary>GcHeap, concurrent compaction on shared memory: pages built in place, installed with UFFDIO_CONTINUE.</summary>
    Continue,
}

/// <summary>How a workload reaches GcHeap objects.</summary>
internal enum RunApi
{
    /// <summary>The fast path: <see cref="GcContext"/> and <see cref="GcView"/>, handles only for what outlives a safepoint.</summary>
    Views,

    /// <summary>Every access through a <see cref="GcRef"/> handle.</summary>
    Handles,
}

/// <summary>The options every workload command takes.</summary>
internal sealed record RunSettings
{
    public RunBackend Backend { get; init; } = RunBackend.Move;

    public int Threads { get; init; } = 1;

    public int LiveMb { get; init; } = 64;

    public double Seconds { get; init; } = 10;

    public int Seed { get; init; } = 42;

    public string? JsonPath { get; init; }

    public int? HeapMb { get; init; }

    public bool Verify { get; init; }

    public RunApi Api { get; init; } = RunApi.Views;

    public bool Quiet { get; init; }

    /// <summary>Record the .NET runtime's own suspensions next to GcHeap's pauses (--trace-suspensions).</summary>
    public bool TraceSuspensions { get; init; }

    /// <summary>Log .NET's own collections and sampled large allocations during a GcHeap run (--log-dotnet-gcs).</summary>
    public bool LogDotnetGcs { get; init; }

    /// <summary>HeapOptions properties set with --option Name=Value.</summary>
    public IReadOnlyList<(string Name, string Value)> HeapOverrides { get; init; } = [];

    /// <summary>Set in the child process the dotnet backend launches (hidden --child).</summary>
    public bool Child { get; init; }

    /// <summary>Where the child writes its part of the result (hidden --child-result).</summary>
    public string? ChildResultPath { get; init; }

    /// <summary>The GcHeap limit: --heap-mb, or max(256, 3 x live) MiB.</summary>
    public long HeapLimitBytes => (long)(HeapMb ?? Math.Max(256, 3 * LiveMb)) << 20;

    public long LiveBytesRequested => (long)LiveMb << 20;

    public GcBackend GcBackend => Backend switch
    {
        RunBackend.Move => GcBackend.Move,
        RunBackend.Copy => GcBackend.Copy,
        RunBackend.Continue => GcBackend.Continue,
        RunBackend.Stw => GcBackend.StopTheWorld,
        _ => throw new InvalidOperationException("The dotnet backend does not use a GcHeap."),
    };

    public static string Name(RunBackend b) => b.ToString().ToLowerInvariant();
}
