namespace GcHeap;

/// <summary>Describes one field of an object type.</summary>
public sealed class GcFieldInfo
{
    internal GcFieldInfo(GcType owner, string name, int index, GcFieldKind kind, Type? valueType, int offset, int size)
    {
        Owner = owner;
        Name = name;
        Index = index;
        Kind = kind;
        ValueType = valueType;
        Offset = offset;
        Size = size;
    }

    /// <summary>The type that declares the field.</summary>
    public GcType Owner { get; }

    /// <summary>The field's name, unique within its type.</summary>
    public string Name { get; }

    /// <summary>Position in declaration order.</summary>
    public int Index { get; }

    /// <summary>Reference, value or bytes.</summary>
    public GcFieldKind Kind { get; }

    /// <summary>For <see cref="GcFieldKind.Value"/> fields, the CLR type of the value; otherwise null.</summary>
    public Type? ValueType { get; }

    /// <summary>Byte offset from the start of the object (the header is at 0).</summary>
    public int Offset { get; }

    /// <summary>Size in bytes.</summary>
    public int Size { get; }

    /// <inheritdoc />
    public override string ToString() => $"{Owner.Name}.{Name} ({Kind}{(ValueType is null ? string.Empty : " " + ValueType.Name)}, +{Offset})";
}
