using System.Runtime.CompilerServices;
using GcHeap.Interop;
using GcHeap.ObjectModel;

namespace GcHeap;

/// <summary>
/// The heap's run-time types. Every definition is published to a native type table that the
/// collector's native page builder reads (it must scan objects without managed code). The heap
/// owns the table and frees it when it is disposed; from then on every member of the registry
/// throws <see cref="GcHeapDisposedException"/> (the <see cref="GcType"/> objects themselves stay
/// readable).
/// </summary>
[System.Diagnostics.CodeAnalysis.SuppressMessage("Design", "CA1001:Types that own disposable fields should be disposable",
    Justification = "The heap frees the table (Release) once its collector has stopped; a public Dispose would let callers free it under a running collector.")]
public sealed unsafe class TypeRegistry
{
    /// <summary>Most types one heap can hold (type ids are 32-bit, the table is sized for this).</summary>
    public const int MaxTypes = 1 << 16;

    private readonly object _lock = new();
    private readonly Dictionary<string, GcType> _byName = new(StringComparer.Ordinal);
    private readonly GcType?[] _byId = new GcType?[MaxTypes];
    // Pinned: mutators index them through raw pointers on the fast path (no bounds check; ids are masked to the table).
    private readonly byte[] _elementCodes = GC.AllocateArray<byte>(MaxTypes, pinned: true);
    private readonly byte[] _kinds = GC.AllocateArray<byte>(MaxTypes, pinned: true);
    private readonly NativeRegion _table;
    private readonly uint _heapTag;
    private readonly GcType _byteArray;
    private readonly GcType _referenceArray;
    private int _count;
    private volatile bool _released;

    internal TypeRegistry(uint heapTag)
    {
        _heapTag = heapTag;
        _table = new NativeRegion((ulong)(MaxTypes * sizeof(NativeTypeInfo)), dontFork: false, noHugePages: false, "the type table");
        Table[ObjectLayout.TypeFiller] = new NativeTypeInfo { Kind = ObjectLayout.KindFiller };
        _count = 2; // 0 = end of page, 1 = filler
        _byteArray = DefineDataArray<byte>("byte[]");
        _referenceArray = DefineReferenceArray("object[]");
    }

    /// <summary>The built-in byte array type.</summary>
    /// <exception cref="GcHeapDisposedException">The heap is disposed.</exception>
    public GcType ByteArray => Live(_byteArray);

    /// <summary>The built-in array-of-references type.</summary>
    /// <exception cref="GcHeapDisposedException">The heap is disposed.</exception>
    public GcType ReferenceArray => Live(_referenceArray);

    /// <summary>Number of type ids in use (including the two reserved ones).</summary>
    /// <exception cref="GcHeapDisposedException">The heap is disposed.</exception>
    public int Count => Live(Volatile.Read(ref _count));

    internal NativeTypeInfo* Table => (NativeTypeInfo*)_table.Pointer;

    /// <summary>The type named <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No such type.</exception>
    /// <exception cref="GcHeapDisposedException">The heap is disposed.</exception>
    public GcType this[string name]
    {
        get
        {
            lock (_lock)
            {
                ThrowIfReleased();
                return _byName.TryGetValue(name, out var t) ? t : throw new KeyNotFoundException($"No type named '{name}'.");
            }
        }
    }

    /// <summary>Looks a type up by name.</summary>
    /// <exception cref="GcHeapDisposedException">The heap is disposed.</exception>
    public bool TryGet(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out GcType? type)
    {
        lock (_lock)
        {
            ThrowIfReleased();
            return _byName.TryGetValue(name, out type);
        }
    }

    /// <summary>Defines an object type with the fields declared by <paramref name="fields"/>.</summary>
    /// <exception cref="ArgumentException">The name is taken, a field declaration is invalid, or the instance would be 1 GiB or more.</exception>
    /// <exception cref="InvalidOperationException">The heap holds <see cref="MaxTypes"/> types already.</exception>
    /// <exception cref="GcHeapDisposedException">The heap is disposed.</exception>
    public GcType DefineObject(string name, Action<ObjectTypeBuilder> fields)
    {
        ArgumentNullException.ThrowIfNull(fields);
        ThrowIfReleased();
        var b = new ObjectTypeBuilder();
        fields(b);
        return Publish(name, id => b.Build(name, _heapTag, id));
    }

    /// <summary>Defines an array-of-references type.</summary>
    /// <exception cref="ArgumentException">The name is taken.</exception>
    /// <exception cref="InvalidOperationException">The heap holds <see cref="MaxTypes"/> types already.</exception>
    /// <exception cref="GcHeapDisposedException">The heap is disposed.</exception>
    public GcType DefineReferenceArray(string name) =>
        Publish(name, id => new GcType(name, _heapTag, id, GcTypeKind.ReferenceArray, 0, 0, 0, 8, null));

    /// <summary>Defines an array type of <typeparamref name="T"/> values (no references).</summary>
    /// <exception cref="ArgumentException">The name is taken, or <typeparamref name="T"/> is not a supported element type.</exception>
    /// <exception cref="InvalidOperationException">The heap holds <see cref="MaxTypes"/> types already.</exception>
    /// <exception cref="GcHeapDisposedException">The heap is disposed.</exception>
    public GcType DefineDataArray<T>(string name)
        where T : unmanaged
    {
        if (ValueCode<T>.Code == ValueCodes.None)
        {
            throw new ArgumentException($"Element type {typeof(T).Name} is not supported; use one of {ValueCodes.AllowedList}.", nameof(name));
        }

        return Publish(name, id => new GcType(name, _heapTag, id, GcTypeKind.DataArray, 0, 0, 0, Unsafe.SizeOf<T>(), typeof(T)));
    }

    /// <summary>Defines a data array type by element value code (a snapshot being loaded re-declares its types).</summary>
    internal GcType DefineDataArrayByCode(string name, byte code)
    {
        var t = ValueCodes.TypeOf(code) ?? throw new ArgumentException($"Unknown element code {code}.", nameof(code));
        int size = ValueCodes.SizeOf(code);
        return Publish(name, id => new GcType(name, _heapTag, id, GcTypeKind.DataArray, 0, 0, 0, size, t));
    }

    /// <summary>Every type in id order (ids 2 and up: 0 and 1 are reserved).</summary>
    internal List<GcType> AllTypes()
    {
        lock (_lock)
        {
            var list = new List<GcType>(_count);
            for (uint id = 2; id < (uint)_count; id++)
            {
                list.Add(_byId[id]!);
            }

            return list;
        }
    }

    /// <summary>Frees the native type table (the heap, once its collector has stopped); every public member throws afterwards.</summary>
    internal void Release()
    {
        lock (_lock)
        {
            _released = true;
            _table.Dispose();
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal GcType? ById(uint id) => id < (uint)MaxTypes ? _byId[id] : null;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal byte ElementCode(uint id) => _elementCodes[id];

    /// <summary>The element codes by type id, for <c>[id &amp; (MaxTypes - 1)]</c> indexing (pinned for the registry's lifetime).</summary>
    internal byte* ElementCodeTable => (byte*)Unsafe.AsPointer(ref _elementCodes[0]);

    /// <summary>The kinds by type id, for <c>[id &amp; (MaxTypes - 1)]</c> indexing (pinned for the registry's lifetime).</summary>
    internal byte* KindTable => (byte*)Unsafe.AsPointer(ref _kinds[0]);

    /// <summary>The <see cref="GcTypeKind"/> of type id <paramref name="id"/> as a byte (0 for reserved ids).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal byte KindCode(uint id) => _kinds[id];

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal bool Owns(GcType type) => type.Id < (uint)MaxTypes && ReferenceEquals(_byId[type.Id], type);

    private GcType Publish(string name, Func<uint, GcType> make)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        lock (_lock)
        {
            ThrowIfReleased(); // the table is gone: writing an entry would fault
            if (_byName.ContainsKey(name))
            {
                throw new ArgumentException($"A type named '{name}' already exists.", nameof(name));
            }

            if (_count >= MaxTypes)
            {
                throw new InvalidOperationException($"A heap holds at most {MaxTypes} types.");
            }

            uint id = (uint)_count;
            var type = make(id);
            Table[id] = type.Kind switch
            {
                GcTypeKind.Object => new NativeTypeInfo { Kind = ObjectLayout.KindObject, RefCount = (uint)type.ReferenceFieldCount, BaseSize = (uint)type.InstanceSize },
                GcTypeKind.ReferenceArray => new NativeTypeInfo { Kind = ObjectLayout.KindRefArray, BaseSize = ObjectLayout.HeaderSize, ElemSize = 8 },
                _ => new NativeTypeInfo { Kind = ObjectLayout.KindDataArray, BaseSize = ObjectLayout.HeaderSize, ElemSize = (uint)type.ElementSize },
            };
            _byId[id] = type;
            _kinds[id] = (byte)type.Kind;
            _elementCodes[id] = type.ElementType is null ? ValueCodes.None : ValueCodes.Of(type.ElementType);
            _byName.Add(name, type);
            Volatile.Write(ref _count, _count + 1); // publish after the table entry is written
            return type;
        }
    }

    private T Live<T>(T value)
    {
        ThrowIfReleased();
        return value;
    }

    private void ThrowIfReleased()
    {
        if (_released)
        {
            throw new GcHeapDisposedException("heap");
        }
    }
}
