namespace GcHeap;

/// <summary>
/// A resolved reference field: the fast way to read and write it through a <see cref="Mutator"/>.
/// Obtain it once with <see cref="GcType.RefField(string)"/>; using it on an object of another type throws
/// <see cref="GcFieldAccessException"/>.
/// </summary>
public readonly struct GcRefField : IEquatable<GcRefField>
{
    internal readonly uint TypeId;
    internal readonly int Offset;

    internal GcRefField(uint typeId, int offset)
    {
        TypeId = typeId;
        Offset = offset;
    }

    /// <inheritdoc />
    public bool Equals(GcRefField other) => TypeId == other.TypeId && Offset == other.Offset;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is GcRefField f && Equals(f);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(TypeId, Offset);

    /// <summary>Token equality.</summary>
    public static bool operator ==(GcRefField left, GcRefField right) => left.Equals(right);

    /// <summary>Token inequality.</summary>
    public static bool operator !=(GcRefField left, GcRefField right) => !left.Equals(right);
}

/// <summary>
/// A resolved value field of type <typeparamref name="T"/>. Obtain it once with
/// <see cref="GcType.Field{T}(string)"/>; using it on an object of another type throws
/// <see cref="GcFieldAccessException"/>.
/// </summary>
/// <typeparam name="T">The field's value type.</typeparam>
public readonly struct GcField<T> : IEquatable<GcField<T>>
    where T : unmanaged
{
    internal readonly uint TypeId;
    internal readonly int Offset;

    internal GcField(uint typeId, int offset)
    {
        TypeId = typeId;
        Offset = offset;
    }

    /// <inheritdoc />
    public bool Equals(GcField<T> other) => TypeId == other.TypeId && Offset == other.Offset;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is GcField<T> f && Equals(f);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(TypeId, Offset);

    /// <summary>Token equality.</summary>
    public static bool operator ==(GcField<T> left, GcField<T> right) => left.Equals(right);

    /// <summary>Token inequality.</summary>
    public static bool operator !=(GcField<T> left, GcField<T> right) => !left.Equals(right);
}

/// <summary>A resolved fixed-size bytes field. Obtain it with <see cref="GcType.BytesField(string)"/>.</summary>
public readonly struct GcBytesField : IEquatable<GcBytesField>
{
    internal readonly uint TypeId;
    internal readonly int Offset;
    internal readonly int Length;

    internal GcBytesField(uint typeId, int offset, int length)
    {
        TypeId = typeId;
        Offset = offset;
        Length = length;
    }

    /// <summary>The field's size in bytes.</summary>
    public int Size => Length;

    /// <inheritdoc />
    public bool Equals(GcBytesField other) => TypeId == other.TypeId && Offset == other.Offset && Length == other.Length;

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is GcBytesField f && Equals(f);

    /// <inheritdoc />
    public override int GetHashCode() => HashCode.Combine(TypeId, Offset, Length);

    /// <summary>Token equality.</summary>
    public static bool operator ==(GcBytesField left, GcBytesField right) => left.Equals(right);

    /// <summary>Token inequality.</summary>
    public static bool operator !=(GcBytesField left, GcBytesField right) => !left.Equals(right);
}
