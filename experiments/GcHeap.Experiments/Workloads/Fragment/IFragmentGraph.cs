using GcHeap.Experiments.Terminal;

namespace GcHeap.Experiments.Workloads.Fragment;

/// <summary>What building the fragment graph did.</summary>
internal sealed record BuildReport(long Items, long BuiltBytes, long EntriesDropped, int Buckets);

/// <summary>
/// The fragment workload's live graph: a rooted directory of buckets (reference arrays of 255
/// entries), each entry a chain of small nodes, a small byte array or a large byte array.
/// Built on the calling (main) thread; <see cref="Mutate"/> runs on worker threads.
/// </summary>
internal interface IFragmentGraph : IDisposable
{
    /// <summary>Creates items until <paramref name="targetBytes"/> (GcHeap sizes) exist, then empties a random <paramref name="drop"/> fraction of entries.</summary>
    BuildReport Build(long targetBytes, double drop, int seed, IRunProgress progress);

    /// <summary>Reads (checking stored values), writes, moves references between entries and fields, and replaces entries until <paramref name="stop"/>.</summary>
    void Mutate(int threadIndex, int seed, MutatorCounters counters, CancellationToken stop);

    /// <summary>One full collection: Heap.Collect(), or a forced blocking compacting gen2 GC on .NET.</summary>
    void Collect();

    /// <summary>Runs a blocking wait on the main thread (GcHeap: inside a safe region).</summary>
    void WhileBlocked(Action wait);
}
