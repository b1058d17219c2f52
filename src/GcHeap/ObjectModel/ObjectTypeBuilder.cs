using System.Runtime.CompilerServices;
using GcHeap.ObjectModel;

namespace GcHeap;

/// <summary>Declares the fields of an object type; see <see cref="TypeRegistry.DefineObject"/>.</summary>
public sealed class ObjectTypeBuilder
{
    /// <summary>The largest instance an object type may have, header included: 1 GiB less one byte (so 1 GiB - 8 once aligned).</summary>
    internal const int MaxInstanceBytes = int.MaxValue / 2;

    private readonly List<(string Name, GcFieldKind Kind, Type? ValueType, int Size)> _fields = [];
    private readonly HashSet<string> _names = new(StringComparer.Ordinal);

    internal ObjectTypeBuilder()
    {
    }

    /// <summary>Adds a reference field.</summary>
    public ObjectTypeBuilder Reference(string name) => Add(name, GcFieldKind.Reference, null, 8);

    /// <summary>Adds a field holding one <typeparamref name="T"/> (byte, sbyte, short, ushort, int, uint, long, ulong, float, double, bool or char).</summary>
    public ObjectTypeBuilder Value<T>(string name)
        where T : unmanaged
    {
        if (ValueCode<T>.Code == ValueCodes.None)
        {
            throw new ArgumentException($"Field type {typeof(T).Name} is not supported; use one of {ValueCodes.AllowedList}.", nameof(name));
        }

        return Add(name, GcFieldKind.Value, typeof(T), Unsafe.SizeOf<T>());
    }

    /// <summary>Adds a value field by value code (a snapshot being loaded re-declares its types).</summary>
    internal ObjectTypeBuilder ValueByCode(string name, byte code) =>
        Add(name, GcFieldKind.Value, ValueCodes.TypeOf(code) ?? throw new ArgumentException($"Unknown value code {code}.", nameof(code)), ValueCodes.SizeOf(code));

    /// <summary>Adds a field of <paramref name="length"/> raw bytes.</summary>
    public ObjectTypeBuilder Bytes(string name, int length)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(length);
        return Add(name, GcFieldKind.Bytes, null, length);
    }

    internal GcType Build(string name, uint heapTag, uint id)
    {
        // Layout: header, every reference (declaration order), then data fields by decreasing
        // size so that each is naturally aligned, bytes fields last.
        // Sums in 64 bits: a few bytes fields near int.MaxValue must be refused, not wrap around.
        int refs = _fields.Count(f => f.Kind == GcFieldKind.Reference);
        long offset = ObjectLayout.HeaderSize + (8L * refs);
        var offsets = new long[_fields.Count];
        long refOffset = ObjectLayout.HeaderSize;
        for (int i = 0; i < _fields.Count; i++)
        {
            if (_fields[i].Kind == GcFieldKind.Reference)
            {
                offsets[i] = refOffset;
                refOffset += 8;
            }
        }

        foreach (int size in new[] { 8, 4, 2, 1 })
        {
            for (int i = 0; i < _fields.Count; i++)
            {
                if (_fields[i].Kind == GcFieldKind.Value && _fields[i].Size == size)
                {
                    offsets[i] = offset;
                    offset += size;
                }
            }
        }

        for (int i = 0; i < _fields.Count; i++)
        {
            if (_fields[i].Kind == GcFieldKind.Bytes)
            {
                offsets[i] = offset;
                offset += _fields[i].Size;
            }
        }

        long instance = ObjectLayout.AlignUp(offset);
        if (instance > MaxInstanceBytes)
        {
            throw new ArgumentException($"Type '{name}' is too large ({instance} bytes; at most {MaxInstanceBytes}).");
        }

        int dataBytes = (int)(offset - ObjectLayout.HeaderSize - (8L * refs));
        var type = new GcType(name, heapTag, id, GcTypeKind.Object, refs, dataBytes, (int)instance, 0, null);
        var infos = new GcFieldInfo[_fields.Count];
        for (int i = 0; i < _fields.Count; i++)
        {
            infos[i] = new GcFieldInfo(type, _fields[i].Name, i, _fields[i].Kind, _fields[i].ValueType, (int)offsets[i], _fields[i].Size);
        }

        type.SetFields(infos);
        return type;
    }

    private ObjectTypeBuilder Add(string name, GcFieldKind kind, Type? valueType, int size)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (!_names.Add(name))
        {
            throw new ArgumentException($"Field '{name}' is declared twice.", nameof(name));
        }

        _fields.Add((name, kind, valueType, size));
        return this;
    }
}
