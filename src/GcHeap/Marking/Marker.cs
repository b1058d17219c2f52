using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using GcHeap.Collection;
using GcHeap.Interop;
using GcHeap.Memory;
using GcHeap.ObjectModel;

namespace GcHeap.Marking;

/// <summary>
/// Tracing marker (C#): greys roots and logged references, then drains a mark stack, setting
/// live bits and per-page live bytes. Pages at or above <c>blackFrom</c> were allocated after
/// marking began; their objects are live by definition and are not traced (their references
/// were all reachable when stored, so the SATB log and the snapshot cover them).
/// Runs on one thread at a time: stop-the-world inside a pause, or concurrently on the
/// collector thread while mutators run with the write barrier on.
/// </summary>
internal sealed unsafe class Marker : IDisposable
{
    private const int InitialStackEntries = 4096;

    private readonly MarkBitmap _bitmap;
    private readonly TypeRegistry _types;
    private Space _space = null!;
    private int _blackFrom;
    private nint _base;
    private nuint _markableBytes;
    private nuint _nurseryBlackOffset;
    private nuint _nurseryBlackBytes;
    private NativeTypeInfo* _table;
    private uint _typeCount;
    // The mark stack is native memory: grown on .NET's heap it was a large-object allocation per
    // doubling (128 KiB to 2 MiB at 1 GiB live), which counted towards .NET's large-object budget
    // and started gen2 collections of the host process that held every managed thread, mutators
    // included, for 14 ms (docs/results/2026-12-07/snapshot-first-gc/).
    private nint* _stack = (nint*)NativeMemory.Alloc(InitialStackEntries, (nuint)sizeof(nint));
    private int _capacity = InitialStackEntries;
    private int _sp;
    private long[]? _typeCounts;
    private long[]? _typeBytes;

    public Marker(MarkBitmap bitmap, TypeRegistry types)
    {
        _bitmap = bitmap;
        _types = types;
    }

    public long ObjectsMarked { get; private set; }

    public long BytesMarked { get; private set; }

    public long ObjectsScanned { get; private set; }

    public bool IsEmpty => _sp == 0;

    /// <summary>
    /// Starts a marking of <paramref name="space"/>: pages [0, blackFrom) are traced, the rest are
    /// black; so are the nursery's pages from <paramref name="nurseryBlackFrom"/> on (taken since
    /// marking began; -1: none).
    /// </summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    public void Begin(Space space, int blackFrom, int nurseryBlackFrom = -1)
    {
        _space = space;
        _blackFrom = blackFrom;
        _base = space.Base;
        _markableBytes = (nuint)blackFrom << ObjectLayout.PageShift;
        int nb = nurseryBlackFrom < 0 ? space.NurseryPages : Math.Min(nurseryBlackFrom, space.NurseryPages);
        _nurseryBlackOffset = (nuint)nb << ObjectLayout.PageShift;
        _nurseryBlackBytes = (nuint)(space.NurseryPages - nb) << ObjectLayout.PageShift;
        _table = _types.Table;
        _typeCount = (uint)_types.Count;
        _sp = 0;
        ObjectsMarked = 0;
        BytesMarked = 0;
        ObjectsScanned = 0;
        _typeCounts = _typeBytes = null;
    }

    /// <summary>After <see cref="Begin"/>: also count marked objects and bytes per type id (a census).</summary>
    public void CountTypes(long[] counts, long[] bytes)
    {
        _typeCounts = counts;
        _typeBytes = bytes;
    }

    /// <summary>Greys one reference (a root, or a value from the SATB log).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Grey(nint a)
    {
        if (a != 0)
        {
            Mark(a);
        }
    }

    /// <summary>
    /// After marking (until the bitmap is cleared): whether the object at <paramref name="a"/> in
    /// the marked space survives: marked, or on a page allocated since marking began.
    /// </summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    public bool IsLive(nint a)
    {
        nuint off = (nuint)(a - _base);
        if (off >= _markableBytes)
        {
            return _space.Contains(a) && (int)(off >> ObjectLayout.PageShift) < _space.HighWater;
        }

        return off - _nurseryBlackOffset < _nurseryBlackBytes || _bitmap.IsSet(off >> ObjectLayout.GranuleShift);
    }

    /// <summary>Processes up to <paramref name="budget"/> objects; true when the stack is empty.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public bool Drain(long budget = long.MaxValue)
    {
        while (_sp > 0 && budget-- > 0)
        {
            Scan(_stack[--_sp]);
        }

        return _sp == 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Mark(nint a)
    {
        nuint off = (nuint)(a - _base);
        if (off >= _markableBytes)
        {
            if (_space.Contains(a) && (int)(off >> ObjectLayout.PageShift) < _space.HighWater && (a & 7) == 0)
            {
                return; // a black page: allocated while marking, live by definition
            }

            throw Corrupt(a, "points outside the space being collected");
        }

        if ((off & 7) != 0)
        {
            throw Corrupt(a, "is not 8-byte aligned");
        }

        if (off - _nurseryBlackOffset < _nurseryBlackBytes)
        {
            return; // a nursery page taken while marking: black, like the pages above blackFrom
        }

        ulong g = off >> ObjectLayout.GranuleShift;
        if (_bitmap.IsSet(g))
        {
            return;
        }

        int page = (int)(off >> ObjectLayout.PageShift);
        long size = ObjectScanner.SizeOf(_table, _typeCount, a, out long refs);
        PageKind kind = _space.Kinds[page];
        int inPage = (int)(off & (ObjectLayout.PageSize - 1));
        if (size == 0 || ObjectLayout.TypeIdOf(a) == ObjectLayout.TypeFiller)
        {
            throw Corrupt(a, "does not point at an object header");
        }

        if (kind == PageKind.Small && inPage + size <= ObjectLayout.PageSize)
        {
            _bitmap.SetRange(g, (ulong)size >> ObjectLayout.GranuleShift);
            _bitmap.LiveBytes[page] += (uint)size;
        }
        else if (kind == PageKind.LargeHead && inPage == 0)
        {
            _bitmap.Set(g);
            _bitmap.LiveBytes[page] = ObjectLayout.PageSize;
        }
        else
        {
            throw Corrupt(a, $"is inside a {kind} page where no object can start");
        }

        ObjectsMarked++;
        BytesMarked += size;
        if (_typeCounts is not null)
        {
            uint id = ObjectLayout.TypeIdOf(a);
            _typeCounts[id]++;
            _typeBytes![id] += size;
        }
        if (refs > 0)
        {
            if (_sp == _capacity)
            {
                GrowStack();
            }

            _stack[_sp++] = a;
        }
    }

    /// <summary>Doubles the mark stack (rare: once per new peak depth in the life of the heap).</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void GrowStack()
    {
        int capacity = checked(_capacity * 2);
        _stack = (nint*)NativeMemory.Realloc(_stack, (nuint)capacity * (nuint)sizeof(nint)); // throws OutOfMemoryException, leaving the old stack
        _capacity = capacity;
    }

    /// <summary>Frees the mark stack (the collector's thread has stopped).</summary>
    public void Dispose()
    {
        NativeMemory.Free(_stack);
        _stack = null;
        _capacity = 0;
        _sp = 0;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Scan(nint obj)
    {
        ObjectsScanned++;
        ObjectScanner.SizeOf(_table, _typeCount, obj, out long refs);
        nint* slot = (nint*)(obj + ObjectLayout.HeaderSize);
        for (long i = 0; i < refs; i++)
        {
            nint v = slot[i];
            if (v != 0)
            {
                Mark(v);
            }
        }
    }

    private GcCollectionFailedException Corrupt(nint a, string why) =>
        new($"Heap corruption found while marking: reference 0x{a:x} {why} (space {_space.Name} at 0x{_base:x}).");
}
