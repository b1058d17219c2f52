namespace GcHeap;

/// <summary>Where the heap's collector is in its cycle (see <see cref="Heap.Phase"/>).</summary>
public enum CollectionPhase
{
    /// <summary>No collection running.</summary>
    Idle,

    /// <summary>Marking (concurrently, or inside a pause).</summary>
    Marking,

    /// <summary>Computing where objects go.</summary>
    Planning,

    /// <summary>After the flip: the native collector builds and installs to-space pages while mutators run.</summary>
    Compacting,

    /// <summary>Releasing from-space and verifying.</summary>
    Finishing,
}
