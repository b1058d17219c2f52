namespace GcHeap.Experiments.Workloads.GcPerfSim;

/// <summary>The GCPerfSim loop on one backend; <see cref="Run"/> runs on each worker thread.</summary>
internal interface IGcPerfSimHeap : IDisposable
{
    void Run(int threadIndex, int seed, int slots, GcPerfSimCounters counters, CancellationToken stop);

    void WhileBlocked(Action wait);
}
