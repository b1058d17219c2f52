using GcHeap.Interop;

namespace GcHeap.Roots;

/// <summary>
/// The heap's weak reference slots: one array of object addresses in native memory, not traced
/// by marking. The collector clears the slots whose targets it found dead as soon as marking is
/// complete (inside the pause that finishes marking) and forwards the rest together with the
/// roots, so a weak reference never sees a dead or moved object.
/// <para>Slots are handed out under <see cref="Lock"/>; the collector holds the same lock while
/// it clears or forwards them, with the world stopped. A mutator reads its slot without the lock:
/// it runs only between pauses, when slots do not change under it.</para>
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
