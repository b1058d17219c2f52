namespace GcHeap.Marking;

/// <summary>
/// Addresses queued for the marker by code holding its owner's lock (weak loads, global-root
/// writes while marking runs); the collector takes them all in one swap under the same lock.
/// </summary>
internal sealed class GreyQueue
{
    private List<nint> _items = [];
    private List<nint> _spare = [];

    /// <summary>Under the owner's lock.</summary>
    public void Add(nint address) => _items.Add(address);

    /// <summary>Under the owner's lock: drops what is queued.</summary>
    public void Clear() => _items.Clear();

    /// <summary>Under the owner's lock: what was queued since the last call (the list is reused by the next call).</summary>
    public List<nint> Take()
    {
        (_items, _spare) = (_spare, _items);
        _items.Clear();
        return _spare;
    }
}
