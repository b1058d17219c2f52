using System.Runtime.CompilerServices;
using GcHeap.Collection;
using GcHeap.Interop;

namespace GcHeap.Roots;

/// <summary>
/// The heap's weak reference slots: one array of object addresses in native memory, not traced
/// by marking. The collector clears the slots whose targets it found dead as soon as marking is
/// complete and forwards the rest together with the
/// roots, so a weak reference never sees a dead or moved object.
/// <para>Slots are handed out under <see cref="Lock"/>; the collector holds the same lock while
/// it clears or forwards them. A mutator reads its slot without the lock outside marking (slots
/// only change under it in pauses); while the write barrier is on it reads under the lock
/// (<see cref="ReadKeepingAlive"/>), because marking ends, and dead slots are cleared, while
/// mutators run.</para>
/// </summary>
internal sealed unsafe class WeakTable : IDisposable
{
    private readonly NativeRegion _slots;
    private readonly Stack<int> _free = new();
    private int _high;
    private int _alive;
    private bool _disposed;

    public WeakTable(int capacity)
    {
        Capacity = capacity;
        _slots = new NativeRegion((ulong)capacity * 8, dontFork: true, noHugePages: false, "weak reference slots");
        Slots = (nint*)_slots.Pointer;
    }

    public nint* Slots { get; }

    public int Capacity { get; }

    /// <summary>Lock for allocation, release and the collector's passes.</summary>
    public object Lock { get; } = new();

    /// <summary>Slots in [0, High) may be in use (free ones hold 0). Read under <see cref="Lock"/>.</summary>
    public int High => _high;

    /// <summary>Weak references not disposed.</summary>
    public int Alive => Volatile.Read(ref _alive);

    public int Allocate(nint address)
    {
        lock (Lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            int slot;
            if (_free.Count > 0)
            {
                slot = _free.Pop();
            }
            else
            {
                if (_high >= Capacity)
                {
                    throw new GcHandleLimitException($"All {Capacity} weak reference slots are in use: dispose GcWeakRefs no longer needed, re-point one with GcWeakRef.Set, or raise HeapOptions.MaxWeakReferences.")
                    {
                        HandlesAlive = Capacity,
                        Limit = Capacity,
                        Global = true,
                    };
                }

                slot = _high++;
            }

            Slots[slot] = address;
            _alive++;
            return slot;
        }
    }

    /// <summary>Re-points a slot (the caller owns it).</summary>
    public void Set(int slot, nint address)
    {
        lock (Lock)
        {
            if (!_disposed)
            {
                Slots[slot] = address;
            }
        }
    }

    public void Free(int slot)
    {
        lock (Lock)
        {
            if (_disposed)
            {
                return;
            }

            Slots[slot] = 0;
            _free.Push(slot);
            _alive--;
        }
    }

    private readonly Marking.GreyQueue _kept = new();

    /// <summary>
    /// True while concurrent marking may still mark objects: a weak load must then keep its target
    /// (<see cref="ReadKeepingAlive"/>). Cleared under <see cref="Lock"/> by the collector in the
    /// same critical section that decides marking is complete and clears the dead slots.
    /// </summary>
    public bool MarkingActive { get; set; }

    /// <summary>
    /// A weak load while the write barrier is on: under the lock, so that it is ordered against the
    /// collector's decision that marking is complete. While marking runs the target is queued for
    /// the marker (an object only weakly reachable may be unmarked, and its new strong reference
    /// may end up where marking has already looked); once marking is complete, the dead slots are
    /// already clear.
    /// </summary>
    public nint ReadKeepingAlive(int slot)
    {
        lock (Lock)
        {
            nint a = Read(slot);
            if (a != 0 && MarkingActive)
            {
                _kept.Add(a);
            }

            return a;
        }
    }

    /// <summary>The collector: hands over the targets kept since the last call (the list is reused by the caller until the next call).</summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    public List<nint> TakeKept()
    {
        lock (Lock)
        {
            return TakeKeptLocked();
        }
    }

    /// <summary>Under <see cref="Lock"/>: like <see cref="TakeKept"/>.</summary>
    public List<nint> TakeKeptLocked() => _kept.Take();

    /// <summary>Under <see cref="Lock"/>: marking ended or was abandoned; drops what was kept.</summary>
    public void EndMarking()
    {
        MarkingActive = false;
        _kept.Clear();
    }

    /// <summary>Reads a slot; 0 after the heap is disposed.</summary>
    public nint Read(int slot) => Volatile.Read(ref _disposed) ? 0 : Slots[slot];

    public void Dispose()
    {
        lock (Lock)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
        }

        _slots.Dispose();
    }
}
