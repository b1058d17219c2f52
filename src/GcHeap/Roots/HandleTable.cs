using System.Runtime.CompilerServices;
using GcHeap.Interop;

namespace GcHeap.Roots;

/// <summary>
/// Every root of the heap: one array of object addresses in native memory, split into
/// segments. Segment 0 holds global handles (<see cref="GcRoot"/>); each attached mutator owns
/// one segment as a stack of local handles. The collector reads and rewrites these slots only
/// while the world is stopped, so a handle stays valid across compaction.
/// <para>Each slot has a version: the top 8 bits are the heap's tag (catching handles of other
/// heaps), the low 24 bits count reuses (catching released handles).</para>
/// </summary>
internal sealed unsafe class HandleTable : IDisposable
{
    public const int MaxSegments = 256;
    private static int s_nextTag;

    private readonly NativeRegion _slots;
    private readonly NativeRegion _versions;
    private readonly Stack<int> _freeSegments = new();
    private readonly Stack<int> _freeGlobals = new();
    private readonly object _globalLock = new();
    private int _globalHigh = 1; // slot 0 stays unused so that (slot 0, version 0) is only ever Null
    private bool _disposed;

    public HandleTable(int segmentShift)
    {
        SegmentShift = segmentShift;
        SegmentSize = 1 << segmentShift;
        Capacity = (uint)MaxSegments << segmentShift;
        Tag = (uint)((Interlocked.Increment(ref s_nextTag) % 255) + 1) << 24;
        _slots = new NativeRegion((ulong)Capacity * 8, dontFork: true, noHugePages: false, "handle slots");
        _versions = new NativeRegion((ulong)Capacity * 4, dontFork: true, noHugePages: false, "handle versions");
        for (int s = MaxSegments - 1; s >= 1; s--)
        {
            _freeSegments.Push(s);
        }

        Slots = (nint*)_slots.Pointer;
        Versions = (uint*)_versions.Pointer;
    }

    public nint* Slots { get; }

    public uint* Versions { get; }

    public uint Capacity { get; }

    public int SegmentShift { get; }

    public int SegmentSize { get; }

    /// <summary>This heap's tag, in the top 8 bits of every version it issues.</summary>
    public uint Tag { get; }

    /// <summary>Used global slots are in [1, GlobalHigh); free ones hold 0.</summary>
    public int GlobalHigh => Volatile.Read(ref _globalHigh);

    /// <summary>Lock the collector holds while it reads or rewrites global slots.</summary>
    public object GlobalLock => _globalLock;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static uint NextVersion(uint v)
    {
        uint counter = (v + 1) & 0xFFFFFF;
        return (v & 0xFF000000) | (counter == 0 ? 1u : counter);
    }

    /// <summary>Initialises versions of [first, first+count) if never used.</summary>
    public void InitVersions(int first, int count)
    {
        for (int i = first; i < first + count; i++)
        {
            if (Versions[i] == 0)
            {
                Versions[i] = Tag | 1;
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

    public GcRef NewGlobal(nint address)
    {
        lock (_globalLock)
        {
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
                    throw new GcHeapException($"All {SegmentSize - 1} global root slots are in use (HeapOptions.HandlesPerSegmentLog2 sets the number).");
                }

                slot = _globalHigh;
                InitVersions(slot, 1);
                Volatile.Write(ref _globalHigh, slot + 1);
            }

            Slots[slot] = address;
            return new GcRef(slot, Versions[slot]);
        }
    }

    /// <summary>Frees a global slot; false when the handle was not a live global.</summary>
    public bool FreeGlobal(GcRef root)
    {
        lock (_globalLock)
        {
            if (_disposed || root.Slot <= 0 || root.Slot >= _globalHigh || Versions[root.Slot] != root.Version)
            {
                return false;
            }

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

        if ((r.Version & 0xFF000000) != Tag || (uint)r.Slot >= Capacity)
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
