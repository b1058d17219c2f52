using System.Runtime.CompilerServices;
using GcHeap.Collection;
using GcHeap.Interop;

namespace GcHeap.Roots;

/// <summary>
/// Every root of the heap: one array of object addresses in native memory, split into
/// segments. Segment 0 holds global handles (<see cref="GcRoot"/>); each attached mutator owns
/// one segment as a stack of local handles. The collector reads and rewrites these slots only
/// while the world is stopped, so a handle stays valid across compaction.
/// <para>Each slot has a 64-bit version counting its reuses (catching released handles; at one
/// reuse per nanosecond it would take 584 years to wrap), and every handle also carries the heap's
/// tag (catching handles of other heaps; tags never repeat, see <see cref="HeapTagSource"/>).</para>
/// </summary>
internal sealed unsafe class HandleTable : IDisposable
{
    public const int MaxSegments = 256;

    private readonly NativeRegion _slots;
    private readonly NativeRegion _versions;
    private readonly Stack<int> _freeSegments = new();
    private readonly Stack<int> _freeGlobals = new();
    private readonly object _globalLock = new();
    private int _globalHigh = 1; // slot 0 stays unused so that (slot 0, version 0) is only ever Null
    private bool _disposed;

    public HandleTable(int segmentShift, uint tag)
    {
        SegmentShift = segmentShift;
        SegmentSize = 1 << segmentShift;
        Capacity = (uint)MaxSegments << segmentShift;
        Tag = tag;
        _slots = new NativeRegion((ulong)Capacity * 8, dontFork: true, noHugePages: false, "handle slots");
        try
        {
            _versions = new NativeRegion((ulong)Capacity * 8, dontFork: true, noHugePages: false, "handle versions");
        }
        catch
        {
            _slots.Dispose();
            throw;
        }

        for (int s = MaxSegments - 1; s >= 1; s--)
        {
            _freeSegments.Push(s);
        }

        Slots = (nint*)_slots.Pointer;
        Versions = (ulong*)_versions.Pointer;
    }

    public nint* Slots { get; }

    public ulong* Versions { get; }

    public uint Capacity { get; }

    public int SegmentShift { get; }

    public int SegmentSize { get; }

    /// <summary>This heap's tag, carried by every handle it issues.</summary>
    public uint Tag { get; }

    /// <summary>Used global slots are in [1, GlobalHigh); free ones hold 0.</summary>
    public int GlobalHigh => Volatile.Read(ref _globalHigh);

    /// <summary>Lock the collector holds while it reads or rewrites global slots.</summary>
    public object GlobalLock => _globalLock;

    /// <summary>The version of a slot after one more release: 64 bits never wrap in practice.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong NextVersion(ulong v) => v + 1;

    /// <summary>Initialises versions of [first, first+count) if never used.</summary>
    public void InitVersions(int first, int count)
    {
        for (int i = first; i < first + count; i++)
        {
            if (Versions[i] == 0)
            {
                Versions[i] = 1;
            }
        }
    }

    public int AcquireSegment()
    {
        lock (_freeSegments)
        {
            if (_freeSegments.Count == 0)
            {
                throw new GcThreadStateException($"At most {MaxSegments - 1} mutator threads can be attached to one heap at a time.");
            }

            return _freeSegments.Pop();
        }
    }

    /// <summary>Invalidates every local handle of the segment and returns it to the pool.</summary>
    public void ReleaseSegment(int segment, int used)
    {
        int first = segment << SegmentShift;
        ReleaseRange(first, first + used);
        lock (_freeSegments)
        {
            _freeSegments.Push(segment);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void ReleaseRange(int from, int to)
    {
        for (int i = from; i < to; i++)
        {
            Versions[i] = NextVersion(Versions[i]);
            Slots[i] = 0;
        }
    }

    private readonly Marking.GreyQueue _shaded = new();

    /// <summary>
    /// On while marking runs with mark start by handshake (<see cref="HeapOptions.MarkStartHandshake"/>):
    /// global roots are then scanned once by the collector, like heap objects, so writing one shades
    /// the old and the new value (the hybrid barrier), queued for the marker. Written under <see cref="GlobalLock"/>.
    /// </summary>
    public bool MarkingBarrier { get; set; }

    /// <summary>The collector: takes the values queued since the last call (the list is reused by the caller until the next call).</summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    public List<nint> TakeShaded()
    {
        lock (_globalLock)
        {
            return _shaded.Take();
        }
    }

    /// <summary>Under <see cref="GlobalLock"/>: marking ended or was abandoned.</summary>
    public void EndMarking()
    {
        MarkingBarrier = false;
        _shaded.Clear();
    }

    private void Shade(nint a)
    {
        if (a != 0 && MarkingBarrier)
        {
            _shaded.Add(a);
        }
    }

    public GcRef NewGlobal(nint address)
    {
        lock (_globalLock)
        {
            Shade(address);
            ObjectDisposedException.ThrowIf(_disposed, this);
            int slot;
            if (_freeGlobals.Count > 0)
            {
                slot = _freeGlobals.Pop();
            }
            else
            {
                if (_globalHigh >= SegmentSize)
                {
                    throw new GcHandleLimitException($"All {SegmentSize - 1} global root slots are in use: dispose GcRoots no longer needed, re-point one with GcRoot.Set, or raise HeapOptions.HandlesPerSegmentLog2.")
                    {
                        HandlesAlive = SegmentSize - 1,
                        Limit = SegmentSize - 1,
                        Global = true,
                    };
                }

                slot = _globalHigh;
                InitVersions(slot, 1);
                Volatile.Write(ref _globalHigh, slot + 1);
            }

            Slots[slot] = address;
            return new GcRef(slot, Tag, Versions[slot]);
        }
    }

    /// <summary>Re-points a live global slot (under the lock the collector holds while it rewrites globals); false when the handle is not a live global.</summary>
    public bool SetGlobal(GcRef root, nint address)
    {
        lock (_globalLock)
        {
            if (_disposed || root.HeapTag != Tag || root.Slot <= 0 || root.Slot >= _globalHigh || Versions[root.Slot] != root.Version)
            {
                return false;
            }

            Shade(Slots[root.Slot]);
            Shade(address);
            Slots[root.Slot] = address;
            return true;
        }
    }

    /// <summary>Frees a global slot; false when the handle was not a live global.</summary>
    public bool FreeGlobal(GcRef root)
    {
        lock (_globalLock)
        {
            if (_disposed || root.HeapTag != Tag || root.Slot <= 0 || root.Slot >= _globalHigh || Versions[root.Slot] != root.Version)
            {
                return false;
            }

            Shade(Slots[root.Slot]);
            Versions[root.Slot] = NextVersion(root.Version);
            Slots[root.Slot] = 0;
            _freeGlobals.Push(root.Slot);
            return true;
        }
    }

    /// <summary>Classifies a handle that failed validation, for the exception message.</summary>
    public GcHandleProblem Diagnose(GcRef r, int mySegment)
    {
        if (r.IsNull)
        {
            return GcHandleProblem.Null;
        }

        if (r.HeapTag != Tag || (uint)r.Slot >= Capacity)
        {
            return GcHandleProblem.Foreign;
        }

        if (Versions[r.Slot] != r.Version)
        {
            return GcHandleProblem.Stale;
        }

        int seg = r.Slot >> SegmentShift;
        return seg != 0 && seg != mySegment ? GcHandleProblem.OtherThread : GcHandleProblem.Unknown;
    }

    public void Dispose()
    {
        lock (_globalLock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true; // roots disposed after the heap become no-ops
        }

        _slots.Dispose();
        _versions.Dispose();
    }
}
