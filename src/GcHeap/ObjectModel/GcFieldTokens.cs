namespace GcHeap;

/// <summary>
/// A resolved reference field: the fast way to read and write it through a <see cref="Mutator"/>.
/// Obtain it once with <see cref="GcType.RefField(string)"/>. A token belongs to its type and to
/// that type's heap: using it on an object of another type, or with another heap's mutator (type
/// ids restart in every heap), throws <see cref="GcFieldAccessException"/>.
/// </summary>
public readonly struct GcRefField : IEquatable<GcRefField>
{
    /// <summary>The heap's tag (high 32 bits) and the type id (low 32 bits): one compare checks both.</summary>
    internal readonly ulong Key;
    internal readonly nint Offset; // nint, not int: added to an address on every access, without a sign extension there

    internal GcRefField(ulong key, int offset)
    {
        Key = key;
        Offset = offset;
    }

    /// <inheritdoc />
    public bool Equals(GcRefField other) => Key == other.Key && Offset == other.Offset;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is GcRefField f && Equals(f);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Key, Offset);

    /// <summary>Token equality.</summary>
    public static bool operator ==(GcRefField left, GcRefField right) => left.Equals(right);

    /// <summary>Token inequality.</summary>
    public static bool operator !=(GcRefField left, GcRefField right) => !left.Equals(right);
}

/// <summary>
/// A resolved value field of type <typeparamref name="T"/>. Obtain it once with
/// <see cref="GcType.Field{T}(string)"/>. A token belongs to its type and to that type's heap:
/// using it on an object of another type, or with another heap's mutator, throws
/// <see cref="GcFieldAccessException"/>.
/// </summary>
/// <typeparam name="T">The field's value type.</typeparam>
public readonly struct GcField<T> : IEquatable<GcField<T>>
    where T : unmanaged
{
    /// <summary>The heap's tag (high 32 bits) and the type id (low 32 bits): one compare checks both.</summary>
    internal readonly ulong Key;
    internal readonly nint Offset; // nint, not int: added to an address on every access, without a sign extension there

    internal GcField(ulong key, int offset)
    {
        Key = key;
        Offset = offset;
    }

    /// <inheritdoc />
    public bool Equals(GcField<T> other) => Key == other.Key && Offset == other.Offset;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is GcField<T> f && Equals(f);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Key, Offset);

    /// <summary>Token equality.</summary>
    public static bool operator ==(GcField<T> left, GcField<T> right) => left.Equals(right);

    /// <summary>Token inequality.</summary>
    public static bool operator !=(GcField<T> left, GcField<T> right) => !left.Equals(right);
}

/// <summary>
/// A resolved fixed-size bytes field. Obtain it with <see cref="GcType.BytesField(string)"/>. A
/// token belongs to its type and to that type's heap: using it on an object of another type, or
/// with another heap's mutator, throws <see cref="GcFieldAccessException"/>.
/// </summary>
public readonly struct GcBytesField : IEquatable<GcBytesField>
{
    /// <summary>The heap's tag (high 32 bits) and the type id (low 32 bits): one compare checks both.</summary>
    internal readonly ulong Key;
    internal readonly int Offset;
    internal readonly int Length;

    internal GcBytesField(ulong key, int offset, int length)
    {
        Key = key;
        Offset = offset;
        Length = length;
    }

    /// <summary>The field's size in bytes.</summary>
    public int Size => Length;

    /// <inheritdoc />
    public bool Equals(GcBytesField other) => Key == other.Key && Offset == other.Offset && Length == other.Length;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is GcBytesField f && Equals(f);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(Key, Offset, Length);

    /// <summary>Token equality.</summary>
    public static bool operator ==(GcBytesField left, GcBytesField right) => left.Equals(right);

    /// <summary>Token inequality.</summary>
    public static bool operator !=(GcBytesField left, GcBytesField right) => !left.Equals(right);
}
