namespace GcHeap;

/// <summary>
/// A heap rebuilt from a snapshot by <see cref="Heap.LoadSnapshot(Stream, HeapOptions?)"/>: the same
/// graph, its types re-registered under the same names and ids, and one new global root per saved
/// root, in the order they were saved (global slot order). Disposing it disposes the heap.
/// </summary>
public sealed class LoadedSnapshot : IDisposable
{
    private readonly Dictionary<string, GcRoot> _byName;

    internal LoadedSnapshot(Heap heap, GcRoot[] roots, Dictionary<string, GcRoot> byName, SnapshotInfo info)
    {
        Heap = heap;
        Roots = roots;
        _byName = byName;
        Info = info;
    }

    /// <summary>The new heap.</summary>
    public Heap Heap { get; }

    /// <summary>The saved roots, by index (the order of the original heap's global slots).</summary>
    public IReadOnlyList<GcRoot> Roots { get; }

    /// <summary>The names given with <see cref="SnapshotOptions.RootNames"/>.</summary>
    public IReadOnlyCollection<string> RootNames => _byName.Keys;

    /// <summary>What the file said about itself.</summary>
    public SnapshotInfo Info { get; }

    /// <summary>The root saved under <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No root was saved under that name.</exception>
    public GcRoot Root(string name) =>
        _byName.TryGetValue(name, out var r) ? r : throw new KeyNotFoundException($"The snapshot has no root named '{name}'.");

    /// <summary>Disposes the heap.</summary>
    public void Dispose() => Heap.Dispose();
}

/// <summary>What a loaded snapshot (the last file of its chain) said about itself.</summary>
/// <param name="Version">Format version.</param>
/// <param name="Pages">Heap pages saved.</param>
/// <param name="Types">Types saved (including the two built-in array types, as <see cref="SnapshotStats.Types"/> counts them).</param>
/// <param name="Roots">Roots saved.</param>
/// <param name="CapacityBytes">The saving heap's <see cref="HeapOptions.MaxHeapBytes"/>.</param>
public sealed record SnapshotInfo(int Version, long Pages, int Types, int Roots, long CapacityBytes)
{
    /// <summary>Files loaded: the full snapshot and its increments.</summary>
    public int Files { get; init; } = 1;
}
