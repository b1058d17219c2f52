using GcHeap.Interop;

namespace GcHeap.Snapshots;

/// <summary>
/// The native saver of the last snapshot saved with tracking, kept alive between snapshots: its
/// thread records the pages written since that snapshot's pause, for the next increment. A
/// collection drops it (every object moves: the chain ends), and so does disposal.
/// </summary>
internal sealed class SnapshotTracker(SnapshotSafeHandle handle, ulong id)
{
    public SnapshotSafeHandle Handle { get; } = handle;

    /// <summary>The id of the snapshot the next increment applies to.</summary>
    public ulong Id { get; } = id;
}
