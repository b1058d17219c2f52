namespace GcHeap.Roots;

/// <summary>
/// Issues heap tags: the identity that every handle (<see cref="GcRef"/>) and field token
/// (<see cref="GcRefField"/>, <see cref="GcField{T}"/>, <see cref="GcBytesField"/>) carries, so
/// that a heap refuses what another heap issued (slot numbers and type ids restart in every
/// heap). Tags are 32 bits and never repeat within a process: once 2^32 - 1 heaps have been
/// created, creating another throws instead of reusing a tag.
/// </summary>
internal sealed class HeapTagSource
{
    private long _last;

    /// <summary>Creates a source whose next tag is <paramref name="last"/> + 1 (tests start near the end).</summary>
    public HeapTagSource(uint last = 0) => _last = last;

    /// <summary>The tags of this process's heaps.</summary>
    public static HeapTagSource Process { get; } = new();

    /// <summary>A tag no heap of this source has had; never 0 (0 marks null handles and default tokens).</summary>
    /// <exception cref="GcHeapException">Every tag has been issued.</exception>
    public uint Next()
    {
        long tag = Interlocked.Increment(ref _last);
        if (tag > uint.MaxValue)
        {
            throw new GcHeapException(
                $"This process has created {uint.MaxValue} heaps: every heap tag has been used, and reusing one would let handles " +
                "of an old heap reach a new heap's objects. Reuse heaps instead of creating one per task.");
        }

        return (uint)tag;
    }
}
