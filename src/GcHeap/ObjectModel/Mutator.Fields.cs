using System.Runtime.CompilerServices;
using GcHeap.ObjectModel;

namespace GcHeap;

// Field and element access. Every reference store goes through WriteReference (the write
// barrier, Marking/Mutator.WriteBarrier.cs); every read resolves its handle after one poll.
public sealed unsafe partial class Mutator
{
    /// <summary>Reads a reference field; returns a new local handle, or <see cref="GcRef.Null"/>.</summary>
    /// <exception cref="GcInvalidHandleException"><paramref name="obj"/> is null, released, foreign or another thread's.</exception>
    /// <exception cref="GcFieldAccessException"><paramref name="field"/> belongs to another type or another heap.</exception>
    public GcRef GetRef(GcRef obj, GcRefField field)
    {
        Enter();
        nint a = ResolveObject(obj);
        CheckField(a, field.Key);
        nint v = *(nint*)(a + field.Offset);
        return v == 0 ? GcRef.Null : NewLocal(v);
    }

    /// <summary>True when the reference field is null (no handle is created).</summary>
    /// <exception cref="GcInvalidHandleException"><paramref name="obj"/> is invalid.</exception>
    /// <exception cref="GcFieldAccessException"><paramref name="field"/> belongs to another type or another heap.</exception>
    public bool IsNullRef(GcRef obj, GcRefField field)
    {
        Enter();
        nint a = ResolveObject(obj);
        CheckField(a, field.Key);
        return *(nint*)(a + field.Offset) == 0;
    }

    /// <summary>Writes a reference field (<see cref="GcRef.Null"/> clears it).</summary>
    /// <exception cref="GcInvalidHandleException">A handle is invalid.</exception>
    /// <exception cref="GcFieldAccessException"><paramref name="field"/> belongs to another type or another heap.</exception>
    public void SetRef(GcRef obj, GcRefField field, GcRef value)
    {
        Enter();
        nint a = ResolveObject(obj);
        CheckField(a, field.Key);
        nint v = value.IsNull ? 0 : ResolveNoPoll(value);
        WriteReference((nint*)(a + field.Offset), v);
    }

    /// <summary>Reads a value field.</summary>
    /// <exception cref="GcInvalidHandleException"><paramref name="obj"/> is invalid.</exception>
    /// <exception cref="GcFieldAccessException"><paramref name="field"/> belongs to another type or another heap.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T Get<T>(GcRef obj, GcField<T> field)
        where T : unmanaged
    {
        Enter();
        nint a = ResolveObject(obj);
        CheckField(a, field.Key);
        return *(T*)(a + field.Offset);
    }

    /// <summary>Writes a value field.</summary>
    /// <exception cref="GcInvalidHandleException"><paramref name="obj"/> is invalid.</exception>
    /// <exception cref="GcFieldAccessException"><paramref name="field"/> belongs to another type or another heap.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Set<T>(GcRef obj, GcField<T> field, T value)
        where T : unmanaged
    {
        Enter();
        nint a = ResolveObject(obj);
        CheckField(a, field.Key);
        *(T*)(a + field.Offset) = value;
    }

    /// <summary>Copies a bytes field into <paramref name="destination"/> (which must be at least the field's size).</summary>
    /// <exception cref="GcInvalidHandleException"><paramref name="obj"/> is invalid.</exception>
    /// <exception cref="GcFieldAccessException"><paramref name="field"/> belongs to another type or another heap.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="destination"/> is shorter than the field.</exception>
    public void ReadBytes(GcRef obj, GcBytesField field, Span<byte> destination)
    {
        Enter();
        nint a = ResolveObject(obj);
        CheckField(a, field.Key);
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, field.Length, nameof(destination));
        new ReadOnlySpan<byte>((void*)(a + field.Offset), field.Length).CopyTo(destination);
    }

    /// <summary>Writes <paramref name="source"/> (at most the field's size) into a bytes field.</summary>
    /// <exception cref="GcInvalidHandleException"><paramref name="obj"/> is invalid.</exception>
    /// <exception cref="GcFieldAccessException"><paramref name="field"/> belongs to another type or another heap.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="source"/> is longer than the field.</exception>
    public void WriteBytes(GcRef obj, GcBytesField field, ReadOnlySpan<byte> source)
    {
        Enter();
        nint a = ResolveObject(obj);
        CheckField(a, field.Key);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(source.Length, field.Length, nameof(source));
        source.CopyTo(new Span<byte>((void*)(a + field.Offset), field.Length));
    }

    /// <summary>Length of an array.</summary>
    /// <exception cref="GcFieldAccessException"><paramref name="array"/> is not an array.</exception>
    public int GetLength(GcRef array)
    {
        Enter();
        nint a = ResolveObject(array);
        uint t = ObjectLayout.TypeIdOf(a);
        byte k = _types.KindCode(t);
        if (k != (byte)GcTypeKind.ReferenceArray && k != (byte)GcTypeKind.DataArray)
        {
            throw NotArray(t);
        }

        return (int)ObjectLayout.LengthOf(a);
    }

    /// <summary>Reads element <paramref name="index"/> of a reference array.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside the array.</exception>
    /// <exception cref="GcFieldAccessException"><paramref name="array"/> is not a reference array.</exception>
    public GcRef GetElement(GcRef array, int index)
    {
        Enter();
        nint a = ResolveObject(array);
        CheckRefArray(a, index);
        nint v = *(nint*)(a + ObjectLayout.HeaderSize + ((nint)index * 8));
        return v == 0 ? GcRef.Null : NewLocal(v);
    }

    /// <summary>Writes element <paramref name="index"/> of a reference array.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside the array.</exception>
    /// <exception cref="GcFieldAccessException"><paramref name="array"/> is not a reference array.</exception>
    public void SetElement(GcRef array, int index, GcRef value)
    {
        Enter();
        nint a = ResolveObject(array);
        CheckRefArray(a, index);
        nint v = value.IsNull ? 0 : ResolveNoPoll(value);
        WriteReference((nint*)(a + ObjectLayout.HeaderSize + ((nint)index * 8)), v);
    }

    /// <summary>Reads element <paramref name="index"/> of a data array of <typeparamref name="T"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside the array.</exception>
    /// <exception cref="GcFieldAccessException"><paramref name="array"/> is not an array of <typeparamref name="T"/>.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public T GetItem<T>(GcRef array, int index)
        where T : unmanaged
    {
        Enter();
        nint a = ResolveObject(array);
        CheckDataArray<T>(a, index, 1);
        return *(T*)(a + ObjectLayout.HeaderSize + ((nint)index * sizeof(T)));
    }

    /// <summary>Writes element <paramref name="index"/> of a data array of <typeparamref name="T"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside the array.</exception>
    /// <exception cref="GcFieldAccessException"><paramref name="array"/> is not an array of <typeparamref name="T"/>.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void SetItem<T>(GcRef array, int index, T value)
        where T : unmanaged
    {
        Enter();
        nint a = ResolveObject(array);
        CheckDataArray<T>(a, index, 1);
        *(T*)(a + ObjectLayout.HeaderSize + ((nint)index * sizeof(T))) = value;
    }

    /// <summary>Copies elements [start, start + destination.Length) of a data array into <paramref name="destination"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the array.</exception>
    /// <exception cref="GcFieldAccessException"><paramref name="array"/> is not an array of <typeparamref name="T"/>.</exception>
    public void ReadItems<T>(GcRef array, int start, Span<T> destination)
        where T : unmanaged
    {
        Enter();
        nint a = ResolveObject(array);
        CheckDataArray<T>(a, start, destination.Length);
        int per = ChunkItems<T>();
        for (int done = 0; ;)
        {
            int n = Math.Min(per, destination.Length - done);
            new ReadOnlySpan<T>((void*)(a + ObjectLayout.HeaderSize + ((nint)(start + done) * sizeof(T))), n).CopyTo(destination.Slice(done, n));
            done += n;
            if (done >= destination.Length)
            {
                return;
            }

            NextChunk(done, array, ref a);
        }
    }

    /// <summary>Copies <paramref name="source"/> into elements [start, start + source.Length) of a data array.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the array.</exception>
    /// <exception cref="GcFieldAccessException"><paramref name="array"/> is not an array of <typeparamref name="T"/>.</exception>
    public void WriteItems<T>(GcRef array, int start, ReadOnlySpan<T> source)
        where T : unmanaged
    {
        Enter();
        nint a = ResolveObject(array);
        CheckDataArray<T>(a, start, source.Length);
        int per = ChunkItems<T>();
        for (int done = 0; ;)
        {
            int n = Math.Min(per, source.Length - done);
            source.Slice(done, n).CopyTo(new Span<T>((void*)(a + ObjectLayout.HeaderSize + ((nint)(start + done) * sizeof(T))), n));
            done += n;
            if (done >= source.Length)
            {
                return;
            }

            NextChunk(done, array, ref a);
        }
    }

    // ---------------------------------------------------------------- type tests and bulk operations

    /// <summary>True when <paramref name="obj"/> is not null and its object is an instance of <paramref name="type"/>: a type test without a null check first.</summary>
    /// <exception cref="GcInvalidHandleException"><paramref name="obj"/> is released, foreign or another thread's local handle.</exception>
    public bool Is(GcRef obj, GcType type)
    {
        Enter();
        if (obj.IsNull || type is null)
        {
            return false;
        }

        nint a = ResolveNoPoll(obj);
        return a != 0 && type.TokenKey == (FieldKeyBase | ObjectLayout.TypeIdOf(a)); // a handle re-pointed at null holds 0
    }

    /// <summary>
    /// Copies <paramref name="count"/> elements of one reference array into another (or within
    /// one; overlapping ranges copy as if through a temporary), with the write barrier applied
    /// once for the range.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A range is outside its array, or <paramref name="count"/> is negative.</exception>
    /// <exception cref="GcFieldAccessException">An array is not a reference array.</exception>
    /// <exception cref="GcInvalidHandleException">A handle is null or invalid.</exception>
    public void CopyElements(GcRef source, int sourceIndex, GcRef destination, int destinationIndex, int count)
    {
        Enter();
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        nint s = ResolveObject(source);
        nint d = ResolveObject(destination);
        CheckRefArrayRange(s, sourceIndex, count);
        CheckRefArrayRange(d, destinationIndex, count);
        bool backward = s == d && destinationIndex > sourceIndex; // within one array, as memmove: from the end
        int per = BulkChunkBytes / 8;
        for (int done = 0; done < count;)
        {
            NextChunk(done, source, ref s, destination, ref d);

            int n = Math.Min(per, count - done);
            int at = backward ? count - done - n : done;
            var to = new Span<nint>((void*)(d + ObjectLayout.HeaderSize + ((nint)(destinationIndex + at) * 8)), n);
            LogOverwrittenRange(to); // per chunk: the barrier may have turned on at a poll in between
            var from = new ReadOnlySpan<nint>((void*)(s + ObjectLayout.HeaderSize + ((nint)(sourceIndex + at) * 8)), n);
            LogStoredRange(from);
            from.CopyTo(to);
            done += n;
        }
    }

    /// <summary>Sets elements [start, start + count) of a reference array to <paramref name="value"/> (<see cref="GcRef.Null"/> clears them), with the write barrier applied once for the range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the array, or <paramref name="count"/> is negative.</exception>
    /// <exception cref="GcFieldAccessException"><paramref name="array"/> is not a reference array.</exception>
    /// <exception cref="GcInvalidHandleException">A handle is invalid.</exception>
    public void FillElements(GcRef array, int start, int count, GcRef value)
    {
        Enter();
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        nint a = ResolveObject(array);
        nint v = value.IsNull ? 0 : ResolveNoPoll(value);
        CheckRefArrayRange(a, start, count);
        int per = BulkChunkBytes / 8;
        for (int done = 0; done < count;)
        {
            if (NextChunk(done, array, ref a))
            {
                v = value.IsNull ? 0 : ResolveNoPoll(value);
            }

            int n = Math.Min(per, count - done);
            var to = new Span<nint>((void*)(a + ObjectLayout.HeaderSize + ((nint)(start + done) * 8)), n);
            LogOverwrittenRange(to);
            LogStored(v);
            to.Fill(v);
            done += n;
        }
    }

    /// <summary>Copies <paramref name="count"/> elements between data arrays of <typeparamref name="T"/> (or within one; overlap is handled).</summary>
    /// <exception cref="ArgumentOutOfRangeException">A range is outside its array, or <paramref name="count"/> is negative.</exception>
    /// <exception cref="GcFieldAccessException">An array is not an array of <typeparamref name="T"/>.</exception>
    /// <exception cref="GcInvalidHandleException">A handle is null or invalid.</exception>
    public void CopyItems<T>(GcRef source, int sourceIndex, GcRef destination, int destinationIndex, int count)
        where T : unmanaged
    {
        Enter();
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        nint s = ResolveObject(source);
        nint d = ResolveObject(destination);
        CheckDataArray<T>(s, sourceIndex, count);
        CheckDataArray<T>(d, destinationIndex, count);
        bool backward = s == d && destinationIndex > sourceIndex; // within one array, as memmove: from the end
        int per = ChunkItems<T>();
        for (int done = 0; done < count;)
        {
            NextChunk(done, source, ref s, destination, ref d);

            int n = Math.Min(per, count - done);
            int at = backward ? count - done - n : done;
            new ReadOnlySpan<T>((void*)(s + ObjectLayout.HeaderSize + ((nint)(sourceIndex + at) * sizeof(T))), n)
                .CopyTo(new Span<T>((void*)(d + ObjectLayout.HeaderSize + ((nint)(destinationIndex + at) * sizeof(T))), n));
            done += n;
        }
    }

    /// <summary>Sets elements [start, start + count) of a data array of <typeparamref name="T"/> to <paramref name="value"/>.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the array, or <paramref name="count"/> is negative.</exception>
    /// <exception cref="GcFieldAccessException"><paramref name="array"/> is not an array of <typeparamref name="T"/>.</exception>
    /// <exception cref="GcInvalidHandleException"><paramref name="array"/> is null or invalid.</exception>
    public void FillItems<T>(GcRef array, int start, int count, T value)
        where T : unmanaged
    {
        Enter();
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        nint a = ResolveObject(array);
        CheckDataArray<T>(a, start, count);
        int per = ChunkItems<T>();
        for (int done = 0; done < count;)
        {
            NextChunk(done, array, ref a);

            int n = Math.Min(per, count - done);
            new Span<T>((void*)(a + ObjectLayout.HeaderSize + ((nint)(start + done) * sizeof(T))), n).Fill(value);
            done += n;
        }
    }

    /// <summary>
    /// Compares <paramref name="count"/> elements of two reference arrays by object identity
    /// (null equals null): true when every pair refers to the same object.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">A range is outside its array, or <paramref name="count"/> is negative.</exception>
    /// <exception cref="GcFieldAccessException">An array is not a reference array.</exception>
    /// <exception cref="GcInvalidHandleException">A handle is null or invalid.</exception>
    public bool ElementsEqual(GcRef first, int firstIndex, GcRef second, int secondIndex, int count)
    {
        Enter();
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        nint x = ResolveObject(first);
        nint y = ResolveObject(second);
        CheckRefArrayRange(x, firstIndex, count);
        CheckRefArrayRange(y, secondIndex, count);
        int per = BulkChunkBytes / 8;
        for (int done = 0; done < count;)
        {
            NextChunk(done, first, ref x, second, ref y);

            int n = Math.Min(per, count - done);
            if (!new ReadOnlySpan<nint>((void*)(x + ObjectLayout.HeaderSize + ((nint)(firstIndex + done) * 8)), n)
                .SequenceEqual(new ReadOnlySpan<nint>((void*)(y + ObjectLayout.HeaderSize + ((nint)(secondIndex + done) * 8)), n)))
            {
                return false;
            }

            done += n;
        }

        return true;
    }

    /// <summary>Compares <paramref name="count"/> elements of two data arrays of <typeparamref name="T"/> bytewise.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A range is outside its array, or <paramref name="count"/> is negative.</exception>
    /// <exception cref="GcFieldAccessException">An array is not an array of <typeparamref name="T"/>.</exception>
    /// <exception cref="GcInvalidHandleException">A handle is null or invalid.</exception>
    public bool ItemsEqual<T>(GcRef first, int firstIndex, GcRef second, int secondIndex, int count)
        where T : unmanaged
    {
        Enter();
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        nint x = ResolveObject(first);
        nint y = ResolveObject(second);
        CheckDataArray<T>(x, firstIndex, count);
        CheckDataArray<T>(y, secondIndex, count);
        int per = ChunkItems<T>();
        for (int done = 0; done < count;)
        {
            NextChunk(done, first, ref x, second, ref y);

            int n = Math.Min(per, count - done);
            if (!new ReadOnlySpan<byte>((void*)(x + ObjectLayout.HeaderSize + ((nint)(firstIndex + done) * sizeof(T))), n * sizeof(T))
                .SequenceEqual(new ReadOnlySpan<byte>((void*)(y + ObjectLayout.HeaderSize + ((nint)(secondIndex + done) * sizeof(T))), n * sizeof(T))))
            {
                return false;
            }

            done += n;
        }

        return true;
    }

    // ---------------------------------------------------------------- bulk operations in chunks

    /// <summary>
    /// Bulk operations (fills, copies, comparisons, reads and writes of many items, file I/O) work
    /// in chunks of this many bytes and serve a pending stop between two chunks, so a thread
    /// filling or copying a huge array holds a pause up for one chunk at most, not for the whole
    /// operation (a 1 GiB fill takes ~0.1 s). Objects may move at such a poll: the operation
    /// resolves its handles again and goes on; other threads may see it half done, as always.
    /// Settable for experiments only (the runner's `bulk --chunk-kb`).
    /// </summary>
    internal static int BulkChunkBytes = 64 * 1024;

    /// <summary>Test hook: runs on this mutator between two chunks of a bulk operation, before its poll.</summary>
    internal Action<Mutator>? BetweenBulkChunks;

    /// <summary>Polls that found work (a stop to park for, a barrier log to hand over) between two chunks of a bulk operation.</summary>
    internal long BulkChunkPolls;

    private static int ChunkItems<T>()
        where T : unmanaged => Math.Max(1, BulkChunkBytes / sizeof(T));

    /// <summary>Before chunk <paramref name="done"/> (not the first): polls, and resolves <paramref name="array"/> again when the thread stopped (true).</summary>
    private bool NextChunk(int done, GcRef array, ref nint a)
    {
        if (done == 0 || !PollBetweenChunks())
        {
            return false;
        }

        a = ResolveObject(array);
        return true;
    }

    /// <summary>As above, for an operation on two arrays.</summary>
    private void NextChunk(int done, GcRef first, ref nint a, GcRef second, ref nint b)
    {
        if (NextChunk(done, first, ref a))
        {
            b = ResolveObject(second);
        }
    }

    /// <summary>Between two chunks of a bulk operation: serves a pending stop (true: objects may have moved, resolve the handles again).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private bool PollBetweenChunks()
    {
        BetweenBulkChunks?.Invoke(this);
        if (Volatile.Read(ref PollFlag) == 0)
        {
            return false;
        }

        PollInBulk();
        return true;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void PollInBulk()
    {
        BulkChunkPolls++;
        PollFromContext();
    }

    // ---------------------------------------------------------------- checks

    internal void CheckRefArrayRange(nint a, int start, int count)
    {
        uint t = ObjectLayout.TypeIdOf(a);
        if (KindTable[t & (TypeRegistry.MaxTypes - 1)] != (byte)GcTypeKind.ReferenceArray)
        {
            throw NotArray(t);
        }

        if ((uint)start > ObjectLayout.LengthOf(a) || (uint)count > ObjectLayout.LengthOf(a) - (uint)start)
        {
            throw RangeError(start, count, ObjectLayout.LengthOf(a));
        }
    }

    /// <summary>One compare checks the token's heap and type against this heap and the object's type.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void CheckField(nint obj, ulong fieldKey)
    {
        if ((FieldKeyBase | ObjectLayout.TypeIdOf(obj)) != fieldKey)
        {
            throw FieldMismatch(ObjectLayout.TypeIdOf(obj), fieldKey);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void CheckRefArray(nint a, int index)
    {
        uint t = ObjectLayout.TypeIdOf(a);
        if (KindTable[t & (TypeRegistry.MaxTypes - 1)] != (byte)GcTypeKind.ReferenceArray)
        {
            throw NotArray(t);
        }

        if ((uint)index >= ObjectLayout.LengthOf(a))
        {
            throw IndexError(index, ObjectLayout.LengthOf(a));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void CheckDataArray<T>(nint a, int start, int count)
        where T : unmanaged
    {
        uint t = ObjectLayout.TypeIdOf(a);
        if (ElementCodeTable[t & (TypeRegistry.MaxTypes - 1)] != ValueCode<T>.Code || ValueCode<T>.Code == ValueCodes.None)
        {
            throw NotDataArray(t, typeof(T));
        }

        if ((uint)start > ObjectLayout.LengthOf(a) || (uint)count > ObjectLayout.LengthOf(a) - (uint)start)
        {
            throw RangeError(start, count, ObjectLayout.LengthOf(a));
        }
    }

    // Cold paths build the exception and the hot path throws it: a `throw` in the inlined check
    // tells the JIT the branch never returns, so callers keep their values in registers.
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static ArgumentOutOfRangeException IndexError(int index, uint length) =>
        new(nameof(index), index, $"The array has {length} elements.");

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ArgumentOutOfRangeException RangeError(int start, int count, uint length) =>
        new(nameof(start), start, $"Elements [{start}, {(long)start + count}) are outside the array of {length} elements.");

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal GcFieldAccessException FieldMismatch(uint actualType, ulong fieldKey)
    {
        var actual = _types.ById(actualType);
        return new GcFieldAccessException(fieldKey == 0
            ? "The field token is default (uninitialised); obtain it from GcType.RefField/Field/BytesField."
            : (uint)(fieldKey >> 32) != HeapTag
                ? $"The field token belongs to another heap (its GcType was defined by another Heap's TypeRegistry; type ids restart in every heap), so it cannot be used on this heap's '{actual?.Name}'."
                : $"The field belongs to type '{_types.ById((uint)fieldKey)?.Name}', but the object is a '{actual?.Name}'.");
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal GcFieldAccessException NotArray(uint t) =>
        new($"The object is a '{_types.ById(t)?.Name}', not {(t == 0 ? "an object" : "the kind of array this call needs")}.");

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal GcFieldAccessException NotDataArray(uint t, Type element) =>
        new($"The object is a '{_types.ById(t)?.Name}', not an array of {element.Name}.");
}
