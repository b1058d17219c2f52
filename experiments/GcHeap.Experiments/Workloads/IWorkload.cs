namespace GcHeap.Experiments.Workloads;

/// <summary>
/// A workload that can run on a GcHeap or on ordinary .NET objects, doing the same work for the
/// same seed. Each run must call <see cref="WorkloadContext.EndOfWork"/> on its main thread once,
/// after the work and while its data are still reachable, so the harness can stop the clock and
/// measure (verify the heap, count what is live) before anything is released.
/// </summary>
internal interface IWorkload
{
    string Name { get; }

    /// <summary>Workload parameters, recorded in the JSON result.</summary>
    IReadOnlyDictionary<string, object?> Parameters { get; }

    /// <summary>True when --live-mb and --seconds mean something to this workload.</summary>
    bool UsesLiveSizeAndDuration { get; }

    void RunGcHeap(Heap heap, WorkloadContext context);

    void RunDotnet(WorkloadContext context);
}
