namespace GcHeap;

/// <summary>
/// A stable identity for a heap object: the same value for the same object for as long as it
/// lives, across every collection (objects move, their id does not), and never given to another
/// object of the heap. Use it as a dictionary key for managed data attached to heap objects (an
/// eq-hashtable, per-closure data); compare with <c>==</c>. Get one with
/// <see cref="Mutator.GetObjectId"/>. <see cref="None"/> stands for the null reference.
/// <para>An id is an entry in a side table, created when first asked for: the object itself
/// carries nothing. Entries of dead objects are dropped by the collection that finds them dead,
/// so an id held in a managed dictionary after its object died simply never matches again.</para>
/// </summary>
/// <param name="Value">The id: positive, increasing with the order of first request within a heap (threads racing may skip numbers); 0 for <see cref="None"/>.</param>
public readonly record struct GcObjectId(long Value)
{
    /// <summary>The id of the null reference.</summary>
    public static GcObjectId None => default;

    /// <summary>True for <see cref="None"/>.</summary>
    public bool IsNone => Value == 0;

    /// <summary>A well-mixed 32-bit identity hash of the object (the same object, the same hash, for its life).</summary>
    public override int GetHashCode()
    {
        ulong x = (ulong)Value * 0x9E3779B97F4A7C15UL;
        return (int)(x >> 32) ^ (int)x;
    }

    /// <inheritdoc/>
    public override string ToString() => IsNone ? "GcObjectId.None" : $"GcObjectId({Value})";
}
