namespace GcHeap;

/// <summary>
/// A handle to a heap object: stays valid while objects move. Local handles come from a
/// <see cref="Mutator"/> (allocation, field reads) and live until their <see cref="HandleScope"/>
/// closes; global handles come from <see cref="GcRoot"/>. A handle is a slot index, the slot's
/// version (a 64-bit count of its reuses) and the tag of the heap that issued it, so a released
/// or foreign handle is detected on use and throws <see cref="GcInvalidHandleException"/>.
/// </summary>
/// <remarks>
/// Equality compares handles, not objects: two handles to one object are different handles.
/// Use <see cref="Mutator.IsSameObject"/> for object identity.
/// </remarks>
public readonly struct GcRef : IEquatable<GcRef>
{
    internal readonly ulong Version;
    internal readonly int Slot;
    internal readonly uint HeapTag;

    internal GcRef(int slot, uint heapTag, ulong version)
    {
        Version = version;
        Slot = slot;
        HeapTag = heapTag;
    }

    /// <summary>The null reference (also <c>default(GcRef)</c>).</summary>
    public static GcRef Null => default;

    /// <summary>True for <see cref="Null"/>.</summary>
    public bool IsNull => Version == 0;

    /// <inheritdoc />
    public bool Equals(GcRef other) => Slot == other.Slot && Version == other.Version && HeapTag == other.HeapTag;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is GcRef r && Equals(r);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Slot, Version, HeapTag);

    /// <inheritdoc />
    public override string ToString() => IsNull ? "GcRef(null)" : $"GcRef(heap #{HeapTag}, slot {Slot}, v{Version})";

    /// <summary>Handle equality (not object identity).</summary>
    public static bool operator ==(GcRef left, GcRef right) => left.Equals(right);

    /// <summary>Handle inequality (not object identity).</summary>
    public static bool operator !=(GcRef left, GcRef right) => !left.Equals(right);
}
