using System.Runtime.CompilerServices;
using GcHeap.ObjectModel;

namespace GcHeap;

/// <summary>
/// A view of one heap object: reads and writes its fields and elements with plain loads and
/// stores (plus the write barrier for references), without a handle. Obtained from a
/// <see cref="GcContext"/> (<see cref="GcContext.View"/>, <see cref="GcContext.Allocate"/>) or from
/// another view (<see cref="GetRef"/>, <see cref="GetElement"/>).
/// <para>A view is valid until its thread's next safepoint (see <see cref="GcContext"/>): objects
/// only move there. Each access checks that with one compare against the thread's safepoint
/// epoch, so a view used after a safepoint throws <see cref="GcInvalidHandleException"/>
/// (<see cref="GcHandleProblem.ViewExpired"/>) instead of touching memory an object has left. A
/// <c>ref struct</c>: the compiler keeps it on its thread's stack (no class fields, no boxing, no
/// lambdas, no <c>await</c> across it). What must outlive a safepoint becomes a handle with
/// <see cref="ToHandle"/>.</para>
/// <para>Each access still checks what the handle API checks about the object: a field token's
/// type and heap, an array's kind, an index's bounds. <c>default(GcView)</c> is the null view;
/// using it where an object is needed throws <see cref="GcInvalidHandleException"/>
/// (<see cref="GcHandleProblem.Null"/>).</para>
/// </summary>
public readonly unsafe ref struct GcView
{
    internal readonly Mutator? M;
    internal readonly nint Address;
    internal readonly ulong Epoch;

    // The mutator's FieldKeyBase, carried so that a field check compares registers: read from the
    // mutator it is one more load per access, which the JIT does not hoist out of a loop (seen in
    // the disassembly; docs/design.md section 9, "Array views").
    internal readonly ulong KeyBase;

    internal GcView(Mutator m, nint address, ulong epoch)
    {
        M = m;
        Address = address;
        Epoch = epoch;
        KeyBase = m.FieldKeyBase;
    }

    internal GcView(Mutator m, nint address, ulong epoch, ulong keyBase)
    {
        M = m;
        Address = address;
        Epoch = epoch;
        KeyBase = keyBase;
    }

    /// <summary>True for the null view (a null reference).</summary>
    public bool IsNull => Address == 0;

    /// <summary>True when the view is not null and its thread has not passed a safepoint since it was made.</summary>
    public bool IsValid => Address != 0 && IsCurrent;

    internal bool IsCurrent => M!.ViewEpoch == Epoch;

    /// <summary>The object's address after the validity checks.</summary>
    private nint Obj
    {
        [MethodImpl(HotPath.Inline)]
        get
        {
            nint a = Address;
            if (a == 0 || M!.ViewEpoch != Epoch)
            {
                throw Unusable(a);
            }

            return a;
        }
    }

    /// <summary>The object's type.</summary>
    /// <exception cref="GcInvalidHandleException">The view is null or expired.</exception>
    public GcType Type
    {
        get
        {
            nint a = Obj; // first: a null or expired view throws here, before its mutator is read
            return M!._types.ById(ObjectLayout.TypeIdOf(a))!;
        }
    }

    /// <summary>True when the view is not null and its object is an instance of <paramref name="type"/> (a null-tolerant type test).</summary>
    /// <exception cref="GcInvalidHandleException">The view is expired.</exception>
    public bool Is(GcType type)
    {
        if (Address == 0)
        {
            return false;
        }

        nint a = Obj;
        return type is not null && type.TokenKey == (KeyBase | ObjectLayout.TypeIdOf(a));
    }

    /// <summary>True when both views are of the same object (or both null).</summary>
    /// <exception cref="GcInvalidHandleException">A non-null view is expired.</exception>
    public bool IsSameObject(GcView other)
    {
        nint x = Address == 0 ? 0 : Obj;
        nint y = other.Address == 0 ? 0 : other.Obj;
        return x == y;
    }

    /// <summary>A local handle to the object, valid across safepoints until its handle scope closes (null for the null view). Not a safepoint.</summary>
    /// <exception cref="GcInvalidHandleException">The view is expired.</exception>
    /// <exception cref="GcHandleLimitException">The thread holds the most local handles it may (open a <see cref="HandleScope"/>).</exception>
    public GcRef ToHandle() => Address == 0 ? GcRef.Null : M!.NewLocal(Obj);

    // ------------------------------------------------------------ fields

    /// <summary>Reads a value field.</summary>
    /// <exception cref="GcInvalidHandleException">The view is null or expired.</exception>
    /// <exception cref="GcFieldAccessException"><paramref name="field"/> belongs to another type or another heap.</exception>
    [MethodImpl(HotPath.Inline)]
    public T Get<T>(GcField<T> field)
        where T : unmanaged
    {
        nint a = Obj;
        if ((KeyBase | ObjectLayout.TypeIdOf(a)) != field.Key)
        {
            throw M!.FieldMismatch(ObjectLayout.TypeIdOf(a), field.Key);
        }

        return *(T*)(a + field.Offset);
    }

    /// <summary>Writes a value field.</summary>
    /// <exception cref="GcInvalidHandleException">The view is null or expired.</exception>
    /// <exception cref="GcFieldAccessException"><paramref name="field"/> belongs to another type or another heap.</exception>
    [MethodImpl(HotPath.Inline)]
    public void Set<T>(GcField<T> field, T value)
        where T : unmanaged
    {
        nint a = Obj;
        if ((KeyBase | ObjectLayout.TypeIdOf(a)) != field.Key)
        {
            throw M!.FieldMismatch(ObjectLayout.TypeIdOf(a), field.Key);
        }

        *(T*)(a + field.Offset) = value;
    }

    /// <summary>Reads a reference field as a view (the null view for null); no handle is created.</summary>
    /// <exception cref="GcInvalidHandleException">The view is null or expired.</exception>
    /// <exception cref="GcFieldAccessException"><paramref name="field"/> belongs to another type or another heap.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // not HotPath.Inline: with AggressiveOptimization too, reading a reference through it cost 1.39-1.48 ns instead of 0.91 (docs/results/2026-12-07/hotpath)
    public GcView GetRef(GcRefField field)
    {
        nint a = Obj;
        var m = M!;
        if ((KeyBase | ObjectLayout.TypeIdOf(a)) != field.Key)
        {
            throw m.FieldMismatch(ObjectLayout.TypeIdOf(a), field.Key);
        }

        return new GcView(m, *(nint*)(a + field.Offset), Epoch, KeyBase);
    }

    /// <summary>True when the reference field is null.</summary>
    /// <exception cref="GcInvalidHandleException">The view is null or expired.</exception>
    /// <exception cref="GcFieldAccessException"><paramref name="field"/> belongs to another type or another heap.</exception>
    public bool IsNullRef(GcRefField field) => GetRef(field).IsNull;

    /// <summary>Writes a reference field (the null view clears it), through the write barrier.</summary>
    /// <exception cref="GcInvalidHandleException">A view is expired or belongs to another heap or thread, or this view is null.</exception>
    /// <exception cref="GcFieldAccessException"><paramref name="field"/> belongs to another type or another heap.</exception>
    [MethodImpl(HotPath.Inline)]
    public void SetRef(GcRefField field, GcView value)
    {
        nint a = Obj;
        var m = M!;
        if ((KeyBase | ObjectLayout.TypeIdOf(a)) != field.Key)
        {
            throw m.FieldMismatch(ObjectLayout.TypeIdOf(a), field.Key);
        }

        m.WriteReference((nint*)(a + field.Offset), ValueOf(value));
    }

    /// <summary>Writes a reference field from a handle (<see cref="GcRef.Null"/> clears it), through the write barrier.</summary>
    /// <exception cref="GcInvalidHandleException">This view is null or expired, or <paramref name="value"/> is released, foreign or another thread's local handle.</exception>
    /// <exception cref="GcFieldAccessException"><paramref name="field"/> belongs to another type or another heap.</exception>
    public void SetRef(GcRefField field, GcRef value)
    {
        nint a = Obj;
        var m = M!;
        m.CheckField(a, field.Key);
        m.WriteReference((nint*)(a + field.Offset), value.IsNull ? 0 : m.ResolveNoPoll(value));
    }

    /// <summary>Copies a bytes field into <paramref name="destination"/> (at least the field's size).</summary>
    /// <exception cref="GcInvalidHandleException">The view is null or expired.</exception>
    /// <exception cref="GcFieldAccessException"><paramref name="field"/> belongs to another type or another heap.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="destination"/> is shorter than the field.</exception>
    public void ReadBytes(GcBytesField field, Span<byte> destination)
    {
        nint a = Obj;
        M!.CheckField(a, field.Key);
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, field.Length, nameof(destination));
        new ReadOnlySpan<byte>((void*)(a + field.Offset), field.Length).CopyTo(destination);
    }

    /// <summary>Writes <paramref name="source"/> (at most the field's size) into a bytes field.</summary>
    /// <exception cref="GcInvalidHandleException">The view is null or expired.</exception>
    /// <exception cref="GcFieldAccessException"><paramref name="field"/> belongs to another type or another heap.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="source"/> is longer than the field.</exception>
    public void WriteBytes(GcBytesField field, ReadOnlySpan<byte> source)
    {
        nint a = Obj;
        M!.CheckField(a, field.Key);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(source.Length, field.Length, nameof(source));
        source.CopyTo(new Span<byte>((void*)(a + field.Offset), field.Length));
    }

    // ------------------------------------------------------------ arrays

    /// <summary>The array's length.</summary>
    /// <exception cref="GcInvalidHandleException">The view is null or expired.</exception>
    /// <exception cref="GcFieldAccessException">The object is not an array.</exception>
    public int Length
    {
        get
        {
            nint a = Obj;
            uint t = ObjectLayout.TypeIdOf(a);
            byte k = M!._types.KindCode(t);
            if (k != (byte)GcTypeKind.ReferenceArray && k != (byte)GcTypeKind.DataArray)
            {
                throw M.NotArray(t);
            }

            return (int)ObjectLayout.LengthOf(a);
        }
    }

    /// <summary>
    /// This reference array as a <see cref="GcReferenceArrayView"/>: the array's kind is checked
    /// once, here, so that each element access in a loop checks only the epoch and the index.
    /// Valid, like the view, until the thread's next safepoint.
    /// </summary>
    /// <exception cref="GcInvalidHandleException">The view is null or expired.</exception>
    /// <exception cref="GcFieldAccessException">The object is not a reference array.</exception>
    [MethodImpl(HotPath.Inline)]
    public GcReferenceArrayView AsReferenceArray()
    {
        nint a = Obj;
        M!.CheckRefArrayRange(a, 0, 0); // the kind; an empty range always fits
        return new GcReferenceArrayView(M, a, Epoch, KeyBase);
    }

    /// <summary>
    /// This data array as a <see cref="GcArrayView{T}"/>: the element type is checked once, here,
    /// and the length kept, so that each element access in a loop checks only the index and the
    /// epoch. Valid, like the view, until the thread's next safepoint.
    /// </summary>
    /// <typeparam name="T">The array's element type (as defined with <see cref="TypeRegistry.DefineDataArray{T}"/>).</typeparam>
    /// <exception cref="GcInvalidHandleException">The view is null or expired.</exception>
    /// <exception cref="GcFieldAccessException">The object is not an array of <typeparamref name="T"/>.</exception>
    [MethodImpl(HotPath.Inline)]
    public GcArrayView<T> AsArray<T>()
        where T : unmanaged
    {
        nint a = Obj;
        M!.CheckDataArray<T>(a, 0, 0);
        return new GcArrayView<T>(M, a, Epoch, ObjectLayout.LengthOf(a));
    }

    /// <summary>Reads element <paramref name="index"/> of a reference array as a view.</summary>
    /// <exception cref="GcInvalidHandleException">The view is null or expired.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside the array.</exception>
    /// <exception cref="GcFieldAccessException">The object is not a reference array.</exception>
    [MethodImpl(MethodImplOptions.AggressiveInlining)] // not HotPath.Inline: with AggressiveOptimization too, reading a reference through it cost 1.39-1.48 ns instead of 0.91 (docs/results/2026-12-07/hotpath)
    public GcView GetElement(int index)
    {
        nint a = Obj;
        var m = M!;
        m.CheckRefArray(a, index);
        return new GcView(m, *(nint*)(a + ObjectLayout.HeaderSize + ((nint)index * 8)), Epoch, KeyBase);
    }

    /// <summary>Writes element <paramref name="index"/> of a reference array (the null view clears it), through the write barrier.</summary>
    /// <exception cref="GcInvalidHandleException">A view is expired or belongs to another heap or thread, or this view is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside the array.</exception>
    /// <exception cref="GcFieldAccessException">The object is not a reference array.</exception>
    [MethodImpl(HotPath.Inline)]
    public void SetElement(int index, GcView value)
    {
        nint a = Obj;
        var m = M!;
        m.CheckRefArray(a, index);
        m.WriteReference((nint*)(a + ObjectLayout.HeaderSize + ((nint)index * 8)), ValueOf(value));
    }

    /// <summary>Reads element <paramref name="index"/> of a data array of <typeparamref name="T"/>.</summary>
    /// <exception cref="GcInvalidHandleException">The view is null or expired.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside the array.</exception>
    /// <exception cref="GcFieldAccessException">The object is not an array of <typeparamref name="T"/>.</exception>
    [MethodImpl(HotPath.Inline)]
    public T GetItem<T>(int index)
        where T : unmanaged
    {
        nint a = Obj;
        M!.CheckDataArray<T>(a, index, 1);
        return *(T*)(a + ObjectLayout.HeaderSize + ((nint)index * sizeof(T)));
    }

    /// <summary>Writes element <paramref name="index"/> of a data array of <typeparamref name="T"/>.</summary>
    /// <exception cref="GcInvalidHandleException">The view is null or expired.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="index"/> is outside the array.</exception>
    /// <exception cref="GcFieldAccessException">The object is not an array of <typeparamref name="T"/>.</exception>
    [MethodImpl(HotPath.Inline)]
    public void SetItem<T>(int index, T value)
        where T : unmanaged
    {
        nint a = Obj;
        M!.CheckDataArray<T>(a, index, 1);
        *(T*)(a + ObjectLayout.HeaderSize + ((nint)index * sizeof(T))) = value;
    }

    /// <summary>Copies elements [start, start + destination.Length) of a data array into <paramref name="destination"/>.</summary>
    /// <exception cref="GcInvalidHandleException">The view is null or expired.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the array.</exception>
    /// <exception cref="GcFieldAccessException">The object is not an array of <typeparamref name="T"/>.</exception>
    public void ReadItems<T>(int start, Span<T> destination)
        where T : unmanaged
    {
        nint a = Obj;
        M!.CheckDataArray<T>(a, start, destination.Length);
        new ReadOnlySpan<T>((void*)(a + ObjectLayout.HeaderSize + ((nint)start * sizeof(T))), destination.Length).CopyTo(destination);
    }

    /// <summary>Copies <paramref name="source"/> into elements [start, start + source.Length) of a data array.</summary>
    /// <exception cref="GcInvalidHandleException">The view is null or expired.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the array.</exception>
    /// <exception cref="GcFieldAccessException">The object is not an array of <typeparamref name="T"/>.</exception>
    public void WriteItems<T>(int start, ReadOnlySpan<T> source)
        where T : unmanaged
    {
        nint a = Obj;
        M!.CheckDataArray<T>(a, start, source.Length);
        source.CopyTo(new Span<T>((void*)(a + ObjectLayout.HeaderSize + ((nint)start * sizeof(T))), source.Length));
    }

    /// <inheritdoc />
    public override string ToString() => Address == 0 ? "GcView(null)" : IsCurrent ? $"GcView(0x{Address:x})" : "GcView(expired)";

    /// <summary>The address of a non-null view after checking it is current and belongs to <paramref name="m"/>.</summary>
    [MethodImpl(HotPath.Inline)]
    internal nint AddressFor(Mutator m)
    {
        if (!ReferenceEquals(M, m) || Epoch != m.ViewEpoch)
        {
            throw BadValue(ReferenceEquals(M, m));
        }

        return Address;
    }

    /// <summary>The address to store for <paramref name="value"/> (0 for null): checks it is a current view of this thread's heap.</summary>
    [MethodImpl(HotPath.Inline)]
    private nint ValueOf(GcView value) => value.Address == 0 ? 0 : value.AddressFor(M!);

    // Cold paths are static and take values: an instance call would take the view's address and
    // keep the JIT from holding its fields in registers.
    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static GcInvalidHandleException Unusable(nint address) =>
        address == 0
            ? new GcInvalidHandleException("A null view was used where an object is required.") { Problem = GcHandleProblem.Null }
            : Expired();

    [MethodImpl(MethodImplOptions.NoInlining)]
    internal static GcInvalidHandleException BadValue(bool sameMutator)
    {
        if (!sameMutator)
        {
            return new GcInvalidHandleException("The view stored belongs to another heap or another mutator; only views of the same thread's mutator can be stored.")
            {
                Problem = GcHandleProblem.Foreign,
            };
        }

        return Expired();
    }

    private static GcInvalidHandleException Expired() =>
        new("The view was made before its thread's last safepoint (a Mutator call, GcContext.Safepoint, a safe region, or an allocation that refilled the thread's buffer); " +
            "the object may have moved. Keep values that must survive a safepoint as GcRef handles (GcView.ToHandle).")
        {
            Problem = GcHandleProblem.ViewExpired,
        };
}
