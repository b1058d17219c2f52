namespace GcHeap.Experiments.Workloads.GcBench;

/// <summary>GCBench's operations on one thread, on GcHeap or .NET objects.</summary>
internal interface IGcBenchHeap : IDisposable
{
    /// <summary>Builds a tree of the depth top-down (allocate a node, then populate its children) and drops it.</summary>
    void TopDownTree(int depth);

    /// <summary>Builds a tree bottom-up and drops it.</summary>
    void BottomUpTree(int depth);

    /// <summary>Builds the long-lived tree (top-down) and array (a[i] = 1/i for the first half) and keeps them.</summary>
    void BuildLongLived(int treeDepth, int arraySize);

    /// <summary>GCBench's final check: the long-lived tree exists and a[1000] == 1/1000.</summary>
    bool LongLivedIntact();

    void WhileBlocked(Action wait);
}
