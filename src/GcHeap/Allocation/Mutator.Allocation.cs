using System.Runtime.CompilerServices;
using GcHeap.Collection;
using GcHeap.Memory;
using GcHeap.ObjectModel;

namespace GcHeap;

// Allocation: bump allocation in a thread-local buffer of one page (TLAB); small objects never
// cross a page boundary. Large objects take a run of pages of their own. Memory handed out is
// always zero (spaces are discarded wholesale after evacuation, their nursery zeroed in place), so
// only the header is written. Buffers come from the space's nursery first (pages already mapped).
public sealed unsafe partial class Mutator
{
    private nint _tlabCursor;
    private nint _tlabLimit;

    /// <summary>
    /// Bytes <see cref="GcContext.Reserve"/> still covers: the context's small allocations up to
    /// this total are not safepoints. Every other safepoint of the thread (a <see cref="Mutator"/>
    /// call, which includes <see cref="Safepoint"/> and <see cref="EnterSafeRegion"/>; an
    /// allocation it does not cover) and a collection's flip set it to 0, so the reserved room
    /// (the rest of the buffer, then the spare page) is never used by anything else meanwhile.
    /// </summary>
    private long _reservedLeft;

    /// <summary>A page taken by <see cref="GcContext.Reserve"/> for what does not fit in the current buffer (0: none); the next buffer.</summary>
    private nint _sparePage;

    /// <summary>Allocates an instance of an object type; its fields start as zero / null.</summary>
    /// <exception cref="ArgumentException"><paramref name="type"/> is an array type or belongs to another heap.</exception>
    /// <exception cref="GcHeapExhaustedException">No room even after a full collection.</exception>
    /// <exception cref="GcThreadStateException">The heap is full and this is the collector thread (a <see cref="Heap.CollectionCompleted"/> handler), which cannot wait for a collection.</exception>
    /// <exception cref="GcHandleLimitException">The thread holds the most local handles it may (open a <see cref="HandleScope"/>).</exception>
    public GcRef Allocate(GcType type)
    {
        Enter();
        CheckOwnType(type);
        if (type.Kind != GcTypeKind.Object)
        {
            throw new ArgumentException($"'{type.Name}' is an array type; use AllocateArray.", nameof(type));
        }

        nint a = AllocateBytes(type.InstanceSize);
        ObjectLayout.WriteHeader(a, type.Id, 0);
        return NewLocal(a);
    }

    /// <summary>
    /// Allocates an instance of an object type with its reference fields set, in declaration
    /// order, to <paramref name="references"/> (fewer values leave the rest null): one call and no
    /// write barrier, where <see cref="Allocate(GcType)"/> and a <see cref="SetRef"/> per field
    /// would take several. Value fields start as zero.
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="type"/> is an array type or belongs to another heap, or more values than it has reference fields.</exception>
    /// <exception cref="GcInvalidHandleException">A value is released, foreign or another thread's local handle.</exception>
    /// <exception cref="GcHeapExhaustedException">No room even after a full collection.</exception>
    /// <exception cref="GcThreadStateException">The heap is full and this is the collector thread.</exception>
    /// <exception cref="GcHandleLimitException">The thread holds the most local handles it may.</exception>
    public GcRef Allocate(GcType type, params ReadOnlySpan<GcRef> references)
    {
        Enter();
        CheckOwnType(type);
        if (type.Kind != GcTypeKind.Object)
        {
            throw new ArgumentException($"'{type.Name}' is an array type; use AllocateArray.", nameof(type));
        }

        if (references.Length > type.ReferenceFieldCount)
        {
            throw new ArgumentException($"'{type.Name}' has {type.ReferenceFieldCount} reference field(s); {references.Length} values were given.", nameof(references));
        }

        // Validate every handle before allocating: a bad one must not leave a half-built object.
        foreach (var r in references)
        {
            if (!r.IsNull)
            {
                _ = ResolveNoPoll(r);
            }
        }

        nint a = AllocateBytes(type.InstanceSize);

        // Resolved again after the allocation (it may have waited for a collection, which moves
        // objects). Nothing is overwritten (a new object is all zero), but with the hybrid
        // barrier a value stored into a black object is shaded like any other store.
        var slots = (nint*)(a + ObjectLayout.HeaderSize);
        for (int i = 0; i < references.Length; i++)
        {
            slots[i] = references[i].IsNull ? 0 : ResolveNoPoll(references[i]);
        }

        LogStoredRange(new ReadOnlySpan<nint>(slots, references.Length));

        ObjectLayout.WriteHeader(a, type.Id, 0);
        return NewLocal(a);
    }

    /// <summary>Allocates an array of <paramref name="length"/> elements, all zero / null.</summary>
    /// <exception cref="ArgumentException"><paramref name="arrayType"/> is not an array type or belongs to another heap.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is negative.</exception>
    /// <exception cref="GcHeapExhaustedException">No room even after a full collection.</exception>
    /// <exception cref="GcThreadStateException">The heap is full and this is the collector thread (a <see cref="Heap.CollectionCompleted"/> handler), which cannot wait for a collection.</exception>
    /// <exception cref="GcHandleLimitException">The thread holds the most local handles it may (open a <see cref="HandleScope"/>).</exception>
    public GcRef AllocateArray(GcType arrayType, int length)
    {
        Enter();
        CheckOwnType(arrayType);
        if (arrayType.Kind == GcTypeKind.Object)
        {
            throw new ArgumentException($"'{arrayType.Name}' is not an array type; use Allocate.", nameof(arrayType));
        }

        ArgumentOutOfRangeException.ThrowIfNegative(length);
        long size = ObjectLayout.AlignUp(ObjectLayout.HeaderSize + ((long)arrayType.ElementSize * length));
        nint a = AllocateBytes(size);
        ObjectLayout.WriteHeader(a, arrayType.Id, (uint)length);
        return NewLocal(a);
    }

    /// <summary>The fast path's allocation of an object (<see cref="GcContext.Allocate"/>): no thread check, no handle.</summary>
    [MethodImpl(HotPath.Inline)]
    internal nint AllocateObjectFromContext(GcType type)
    {
        ArgumentNullException.ThrowIfNull(type);
        if (type.TokenKey != (FieldKeyBase | type.Id) || type.Kind != GcTypeKind.Object)
        {
            ThrowBadObjectType(type);
        }

        nint a;
        int size = type.InstanceSize;
        if (size <= _reservedLeft && size <= ObjectLayout.LargeObjectThreshold)
        {
            CheckUsableFromContext(); // not a safepoint, but never inside a safe region or after disposal
            a = AllocateReserved(size);
        }
        else
        {
            _reservedLeft = 0; // an allocation the reservation does not cover ends it
            PollFromContext();
            if (_strictViews)
            {
                ViewEpoch++;
            }

            a = AllocateBytes(size);
        }

        ObjectLayout.WriteHeader(a, type.Id, 0);
        return a;
    }

    /// <summary>The fast path's allocation of an array (<see cref="GcContext.AllocateArray"/>).</summary>
    internal nint AllocateArrayFromContext(GcType arrayType, int length)
    {
        ArgumentNullException.ThrowIfNull(arrayType);
        if (arrayType.TokenKey != (FieldKeyBase | arrayType.Id) || arrayType.Kind == GcTypeKind.Object)
        {
            ThrowBadArrayType(arrayType);
        }

        ArgumentOutOfRangeException.ThrowIfNegative(length);
        long size = ObjectLayout.AlignUp(ObjectLayout.HeaderSize + ((long)arrayType.ElementSize * length));
        nint a;
        if (size <= _reservedLeft && size <= ObjectLayout.LargeObjectThreshold)
        {
            CheckUsableFromContext(); // not a safepoint, but never inside a safe region or after disposal
            a = AllocateReserved((int)size);
        }
        else
        {
            _reservedLeft = 0; // an allocation the reservation does not cover ends it
            PollFromContext();
            if (_strictViews)
            {
                ViewEpoch++;
            }

            a = AllocateBytes(size);
        }

        ObjectLayout.WriteHeader(a, arrayType.Id, (uint)length);
        return a;
    }

    /// <summary>
    /// <see cref="GcContext.Reserve"/>: makes room for <paramref name="bytes"/> in the thread's
    /// buffer now (a safepoint), so that the next small allocations up to that many bytes are not.
    /// </summary>
    internal void ReserveFromContext(int bytes)
    {
        if ((uint)bytes > ObjectLayout.PageSize)
        {
            throw new ArgumentOutOfRangeException(nameof(bytes), bytes, $"A reservation covers at most one allocation buffer ({ObjectLayout.PageSize} bytes) of small objects.");
        }

        PollFromContext();
        ViewEpoch++; // always a safepoint, so that code using it is tested as one
        if (_tlabLimit - _tlabCursor < bytes && _sparePage == 0)
        {
            // What does not fit in this buffer goes to one more page, taken now (it may wait for a
            // collection); the rest of this buffer is still used first, so nothing is wasted.
            _sparePage = TakeAllocationPage(0);
        }

        _reservedLeft = bytes;
    }

    /// <summary>An allocation covered by a reservation: the current buffer, else the spare page (no poll either way).</summary>
    [MethodImpl(HotPath.Inline)]
    private nint AllocateReserved(int size)
    {
        _reservedLeft -= size;
        nint a = _tlabCursor;
        if (a + size <= _tlabLimit)
        {
            _tlabCursor = a + size;
            return a;
        }

        return SwitchToSparePage(size);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private nint SwitchToSparePage(int size)
    {
        nint page = _sparePage;
        if (page == 0)
        {
            // Not reached: a reservation that overflows its buffer always has a spare page, and
            // whatever else allocates from the buffer ends the reservation first.
            return AllocateSmallSlow(size);
        }

        _sparePage = 0;
        _tlabCursor = page + size;
        _tlabLimit = page + ObjectLayout.PageSize;
        return page;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowBadObjectType(GcType type)
    {
        CheckOwnType(type);
        throw new ArgumentException($"'{type.Name}' is an array type; use AllocateArray.", nameof(type));
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void ThrowBadArrayType(GcType arrayType)
    {
        CheckOwnType(arrayType);
        throw new ArgumentException($"'{arrayType.Name}' is not an array type; use Allocate.", nameof(arrayType));
    }

    [MethodImpl(HotPath.Inline)]
    private nint AllocateBytes(long size)
    {
        if (size <= ObjectLayout.LargeObjectThreshold)
        {
            nint c = _tlabCursor;
            if (c + (nint)size <= _tlabLimit)
            {
                _tlabCursor = c + (nint)size;
                return c;
            }

            return AllocateSmallSlow((int)size);
        }

        return AllocateLarge(size);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private nint AllocateSmallSlow(int size)
    {
        ViewEpoch++; // a buffer refill is where a collection may intervene
        nint page = _sparePage != 0 ? _sparePage : TakeAllocationPage(size);
        _sparePage = 0;
        _tlabCursor = page + size;
        _tlabLimit = page + ObjectLayout.PageSize;
        return page;
    }

    /// <summary>Takes one page of the allocation space for small objects, waiting for a collection when the heap is full.</summary>
    private nint TakeAllocationPage(int size)
    {
        for (int attempt = 0; ; attempt++)
        {
            Space space = _heap.AllocationSpace;
            int p = space.TryTakeNurseryPage(); // mapped and zeroed already (see Space)
            if (p < 0 && (p = space.TryTakePages(1)) >= 0)
            {
                _heap.Prefaulter?.Ahead(space, p);
            }

            if (p >= 0)
            {
                space.Kinds[p] = PageKind.Small;
                _heap.Collector.NoteAllocatedPages(1);
                return space.PageAddress(p);
            }

            OnHeapFull(size, attempt);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private nint AllocateLarge(long size)
    {
        ViewEpoch++;
        long pages = ObjectLayout.PagesFor(size);
        for (int attempt = 0; ; attempt++)
        {
            Space space = _heap.AllocationSpace;
            if (pages > space.AllocationLimitPages)
            {
                throw Exhausted(size, "because it is larger than the whole heap");
            }

            if (pages > space.AllocationLimitPages - space.NurseryPages)
            {
                throw Exhausted(size, $"because it is larger than the heap outside its {_heap.NurseryBytes}-byte nursery (HeapOptions.NurseryBytes)");
            }

            // The nursery first, like buffers: its pages are mapped already (a live large object
            // there is copied out whole by the next collection, its frames staying).
            int p = space.TryTakeNurseryPage((int)pages);
            if (p < 0 && (p = space.TryTakePages((int)pages)) >= 0)
            {
                _heap.Prefaulter?.Ahead(space, p + (int)pages - 1);
            }

            if (p >= 0)
            {

                // Tails first, then the head: a collector planning concurrently that sees the
                // head knows the whole run.
                new Span<byte>(space.Kinds + p + 1, (int)pages - 1).Fill((byte)PageKind.LargeTail);
                Volatile.Write(ref *(byte*)(space.Kinds + p), (byte)PageKind.LargeHead);
                _heap.Collector.NoteAllocatedPages((int)pages);
                return space.PageAddress(p);
            }

            OnHeapFull(size, attempt);
        }
    }

    /// <summary>No page left: wait (in a safe region) for a full collection; give up after one did not help.</summary>
    private void OnHeapFull(long size, int attempt)
    {
        if (attempt >= 2)
        {
            throw Exhausted(size, "even after a full collection");
        }

        RetireAllocationBuffer();
        ViewEpoch++;
        _heap.Safepoints.EnterSafe(this);
        try
        {
            _heap.Collector.CollectForAllocation();
        }
        finally
        {
            _heap.Safepoints.ExitSafe(this);
        }

        _heap.ThrowIfFaulted();
        if (_heap.Safepoints.Terminated)
        {
            throw new GcHeapDisposedException("heap"); // disposed meanwhile: its spaces are gone
        }
    }

    private GcHeapExhaustedException Exhausted(long size, string why)
    {
        long live = _heap.Collector.LastLiveBytes;
        return new GcHeapExhaustedException(
            $"Cannot allocate {size} bytes {why}: the heap limit is {_heap.Options.MaxHeapBytes} bytes and the last collection found {live} bytes live. " +
            "Release handles or roots, or raise HeapOptions.MaxHeapBytes.")
        {
            RequestedBytes = size,
            HeapLimitBytes = _heap.Options.MaxHeapBytes,
            LiveBytes = live,
        };
    }

    /// <summary>Gives up the rest of the current page; called with the world stopped or by the owner.</summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    internal void RetireAllocationBuffer()
    {
        _tlabCursor = 0;
        _tlabLimit = 0;
        _reservedLeft = 0;
        _sparePage = 0; // an empty page of the space being left: it parses as empty
    }

    private void CheckOwnType(GcType type)
    {
        ArgumentNullException.ThrowIfNull(type);
        if (!_types.Owns(type))
        {
            throw new ArgumentException($"Type '{type.Name}' was defined by another heap.", nameof(type));
        }
    }
}
