using System.Collections.ObjectModel;

namespace GcHeap;

/// <summary>
/// A run-time type of heap objects: its kind, layout and fields. Types are defined through
/// <see cref="Heap.Types"/> and never change afterwards.
/// </summary>
public sealed class GcType
{
    private readonly Dictionary<string, GcFieldInfo> _byName = new(StringComparer.Ordinal);
    private GcFieldInfo[] _fields = [];

    internal GcType(string name, uint heapTag, uint id, GcTypeKind kind, int referenceFields, int dataBytes, int instanceSize, int elementSize, Type? elementType)
    {
        Name = name;
        Id = id;
        TokenKey = FieldKey(heapTag, id);
        Kind = kind;
        ReferenceFieldCount = referenceFields;
        DataBytes = dataBytes;
        InstanceSize = instanceSize;
        ElementSize = elementSize;
        ElementType = elementType;
    }

    /// <summary>Bytes an array of this type with <paramref name="length"/> elements occupies in the heap (header included, 8-byte aligned); for <see cref="GcContext.Reserve"/>.</summary>
    /// <exception cref="InvalidOperationException">This is an object type (use <see cref="InstanceSize"/>).</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is negative.</exception>
    public long ArraySize(int length)
    {
        if (Kind == GcTypeKind.Object)
        {
            throw new InvalidOperationException($"'{Name}' is an object type: its size is InstanceSize.");
        }

        ArgumentOutOfRangeException.ThrowIfNegative(length);
        return ObjectModel.ObjectLayout.AlignUp(ObjectModel.ObjectLayout.HeaderSize + ((long)ElementSize * length));
    }

    /// <summary>The type's unique name.</summary>
    public string Name { get; }

    /// <summary>The id stored in every instance's header.</summary>
    public uint Id { get; }

    /// <summary>Object, reference array or data array.</summary>
    public GcTypeKind Kind { get; }

    /// <summary>Reference fields of an <see cref="GcTypeKind.Object"/> type.</summary>
    public int ReferenceFieldCount { get; }

    /// <summary>Bytes of data fields of an <see cref="GcTypeKind.Object"/> type (unpadded).</summary>
    public int DataBytes { get; }

    /// <summary>Size in bytes of an instance of an <see cref="GcTypeKind.Object"/> type, header included.</summary>
    public int InstanceSize { get; }

    /// <summary>Bytes per element of an array type (8 for reference arrays).</summary>
    public int ElementSize { get; }

    /// <summary>The element type of a <see cref="GcTypeKind.DataArray"/>; null otherwise.</summary>
    public Type? ElementType { get; }

    /// <summary>The fields in declaration order.</summary>
    public ReadOnlyCollection<GcFieldInfo> Fields => Array.AsReadOnly(_fields);

    /// <summary>The field with the given name.</summary>
    /// <exception cref="GcFieldAccessException">No such field.</exception>
    public GcFieldInfo GetField(string name) =>
        _byName.TryGetValue(name, out var f) ? f : throw new GcFieldAccessException($"Type '{Name}' has no field '{name}'. Fields: {string.Join(", ", _fields.Select(x => x.Name))}.");

    /// <summary>The field at <paramref name="index"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside [0, field count).</exception>
    public GcFieldInfo GetField(int index) =>
        (uint)index < (uint)_fields.Length ? _fields[index] : throw new ArgumentOutOfRangeException(nameof(index), index, $"Type '{Name}' has {_fields.Length} fields.");

    /// <summary>The token for reference field <paramref name="name"/>.</summary>
    /// <exception cref="GcFieldAccessException">No such field, or it is not a reference field.</exception>
    public GcRefField RefField(string name) => RefField(GetField(name));

    /// <summary>The token for the reference field at <paramref name="index"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Bad index.</exception>
    /// <exception cref="GcFieldAccessException">The field is not a reference field.</exception>
    public GcRefField RefField(int index) => RefField(GetField(index));

    /// <summary>The token for value field <paramref name="name"/> of type <typeparamref name="T"/>.</summary>
    /// <exception cref="GcFieldAccessException">No such field, or it does not hold a <typeparamref name="T"/>.</exception>
    public GcField<T> Field<T>(string name)
        where T : unmanaged => Field<T>(GetField(name));

    /// <summary>The token for the value field at <paramref name="index"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">Bad index.</exception>
    /// <exception cref="GcFieldAccessException">The field does not hold a <typeparamref name="T"/>.</exception>
    public GcField<T> Field<T>(int index)
        where T : unmanaged => Field<T>(GetField(index));

    /// <summary>The token for bytes field <paramref name="name"/>.</summary>
    /// <exception cref="GcFieldAccessException">No such field, or it is not a bytes field.</exception>
    public GcBytesField BytesField(string name)
    {
        var f = GetField(name);
        return f.Kind == GcFieldKind.Bytes
            ? new GcBytesField(TokenKey, f.Offset, f.Size)
            : throw new GcFieldAccessException($"{f} is not a bytes field.");
    }

    /// <inheritdoc />
    public override string ToString() => $"{Name} (#{Id}, {Kind})";

    /// <summary>What this type's field tokens carry: its heap's tag and its id (see <see cref="FieldKey"/>).</summary>
    internal ulong TokenKey { get; }

    /// <summary>The key of field tokens of type <paramref name="typeId"/> of the heap tagged <paramref name="heapTag"/>.</summary>
    internal static ulong FieldKey(uint heapTag, uint typeId) => ((ulong)heapTag << 32) | typeId;

    internal void SetFields(GcFieldInfo[] fields)
    {
        _fields = fields;
        foreach (var f in fields)
        {
            _byName.Add(f.Name, f);
        }
    }

    private GcRefField RefField(GcFieldInfo f) =>
        f.Kind == GcFieldKind.Reference ? new GcRefField(TokenKey, f.Offset) : throw new GcFieldAccessException($"{f} is not a reference field.");

    private GcField<T> Field<T>(GcFieldInfo f)
        where T : unmanaged =>
        f.Kind == GcFieldKind.Value && f.ValueType == typeof(T)
            ? new GcField<T>(TokenKey, f.Offset)
            : throw new GcFieldAccessException($"{f} does not hold a {typeof(T).Name}.");
}
