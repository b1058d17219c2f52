using System.Runtime.CompilerServices;
using GcHeap.Collection;
using GcHeap.Interop;
using GcHeap.Marking;
using GcHeap.Memory;
using GcHeap.ObjectModel;

namespace GcHeap.Compaction;

/// <summary>
/// Where every live object goes, as flat tables in native memory that the native page builder
/// reads: a class, destination and auxiliary word per from-space page, and a source and kind
/// per to-space page, plus a state byte per to-space page for the concurrent compactor.
/// Built by <see cref="Planner"/>; see native/include/gcheap_native.h (gch_plan) for the meaning
/// of each table.
/// </summary>
internal sealed unsafe class CompactionPlan : IDisposable
{
    private readonly NativeRegion _fromClass;
    private readonly NativeRegion _fromDest;
    private readonly NativeRegion _fromAux;
    private readonly NativeRegion _fromSplit;
    private readonly NativeRegion _toSrc;
    private readonly NativeRegion _toKind;
    private readonly NativeRegion _toState;

    /// <summary>Reserves every table; a reservation that fails releases the ones made before it.</summary>
    /// <exception cref="OutOfMemoryException">A table's address space cannot be reserved.</exception>
    public CompactionPlan(int capacityPages)
    {
        ulong n = (ulong)capacityPages;
        var made = new List<NativeRegion>(7);
        NativeRegion Reserve(ulong bytes, string purpose)
        {
            var r = new NativeRegion(bytes, true, false, purpose);
            made.Add(r);
            return r;
        }

        try
        {
            _fromClass = Reserve(n, "plan: from classes");
            _fromDest = Reserve(n * 4, "plan: from destinations");
            _fromAux = Reserve(n * 4, "plan: from aux");
            _fromSplit = Reserve(n * 4, "plan: from split pages");
            _toSrc = Reserve(n * 4, "plan: to sources");
            _toKind = Reserve(n, "plan: to kinds");
            _toState = Reserve(n, "plan: to states");
        }
        catch
        {
            foreach (var r in made)
            {
                r.Dispose();
            }

            throw;
        }
    }

    public byte* FromClass => _fromClass.Pointer;

    public uint* FromDest => (uint*)_fromDest.Pointer;

    public uint* FromAux => (uint*)_fromAux.Pointer;

    public uint* FromSplit => (uint*)_fromSplit.Pointer;

    public uint* ToSrc => (uint*)_toSrc.Pointer;

    public byte* ToKind => _toKind.Pointer;

    public byte* ToState => _toState.Pointer;

    public Space From { get; private set; } = null!;

    public Space To { get; private set; } = null!;

    /// <summary>From-space pages the plan covers.</summary>
    public int FromPages { get; set; }

    /// <summary>To-space pages the plan fills.</summary>
    public int ToPages { get; set; }

    [MethodImpl(CollectorCode.OptimizeOnce)]
    public void Reset(Space from, Space to)
    {
        From = from;
        To = to;
        FromPages = 0;
        ToPages = 0;
    }

    /// <summary>The native view of the plan.</summary>
    public NativePlan ToNative(MarkBitmap bitmap, TypeRegistry types) => new()
    {
        FromBase = (ulong)From.Base,
        ToBase = (ulong)To.Base,
        FromPages = (uint)FromPages,
        ToPages = (uint)ToPages,
        TypeCount = (uint)types.Count,
        NurseryPages = (uint)From.NurseryPages,
        Types = types.Table,
        LiveBitmap = bitmap.Words,
        FromClass = FromClass,
        FromDest = FromDest,
        FromAux = FromAux,
        FromSplit = FromSplit,
        ToSrc = ToSrc,
        ToKind = ToKind,
        ToState = ToState,
    };

    /// <summary>Page kinds of the compacted to-space, so the next cycle can parse it.</summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    public void WriteToSpaceKinds()
    {
        // The nursery's holes are skipped: mutators allocate there since the flip.
        for (int t = To.NurseryPages; t < ToPages; t++)
        {
            PageKind k = PageKind.Small;
            if (ToKind[t] == NativeConstants.ToHole)
            {
                k = PageKind.Free; // an alignment hole: nothing there
            }
            else if (ToKind[t] == NativeConstants.ToWhole)
            {
                uint src = ToSrc[t];
                if (FromClass[src] == NativeConstants.FromLarge)
                {
                    k = (FromAux[src] >> 31) != 0 ? PageKind.LargeHead : PageKind.LargeTail;
                }
            }

            To.Kinds[t] = k;
        }
    }

    /// <summary>Zeroes the used part of every table (the to-state table must start zeroed).</summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    public void Clear()
    {
        ClearPrefix(_fromClass, (ulong)FromPages);
        ClearPrefix(_fromDest, (ulong)FromPages * 4);
        ClearPrefix(_fromAux, (ulong)FromPages * 4);
        ClearPrefix(_fromSplit, (ulong)FromPages * 4);
        ClearPrefix(_toSrc, (ulong)ToPages * 4);
        ClearPrefix(_toKind, (ulong)ToPages);
        ClearPrefix(_toState, (ulong)ToPages);
        FromPages = 0;
        ToPages = 0;
    }

    public void Dispose()
    {
        _fromClass.Dispose();
        _fromDest.Dispose();
        _fromAux.Dispose();
        _fromSplit.Dispose();
        _toSrc.Dispose();
        _toKind.Dispose();
        _toState.Dispose();
    }

    [MethodImpl(CollectorCode.OptimizeOnce)]
    private static void ClearPrefix(NativeRegion r, ulong bytes)
    {
        ulong whole = bytes & ~4095UL;
        r.Discard(0, whole);
        if (bytes > whole)
        {
            new Span<byte>(r.Pointer + whole, (int)(bytes - whole)).Clear();
        }
    }
}
