using GcHeap.Interop;

namespace GcHeap.Roots;

/// <summary>
/// Stable object ids (<see cref="GcObjectId"/>): a side table from an object's current address to
/// the id it was given when first asked for, so objects carry no extra header word and cost
/// nothing until someone asks. Every collection moves every object, so the table moves with them:
/// <list type="number">
/// <item>inside the pause that forwards the roots, the table is set aside in O(1)
/// (<see cref="SetAside"/>): the pause does not grow with the number of ids;</item>
/// <item>right after the mutators resume, the collector thread drops the entries of dead objects
/// and re-keys the live ones by their new addresses, from the plan (<see cref="Rebuild"/>). A
/// mutator asking for an id meanwhile waits for that (it is not a pause: the rest of the program
/// runs on).</item>
/// </list>
/// Ids are 64-bit, start at 1 and are never reused within a heap. Lookups take no lock
/// (<see cref="AddressIdMap"/>); adds take the table's lock.
/// </summary>
internal sealed unsafe class IdentityTable : IDisposable
{
    private readonly Heap _heap;
    private readonly object _lock = new();
    private volatile AddressIdMap _map = new(16);
    private volatile AddressIdMap? _moving;
    private long _nextId;
    private bool _disposed;
    private string? _failure;

    public IdentityTable(Heap heap) => _heap = heap;

    /// <summary>Objects that have an id.</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _map.Count + (_moving?.Count ?? 0);
            }
        }
    }

    /// <summary>Entries dropped because their object died, over the heap's life.</summary>
    public long Dropped { get; private set; }

    /// <summary>The id of the object at <paramref name="address"/>, given now if it has none. Mutator thread, between pauses.</summary>
    public long GetOrAdd(nint address)
    {
        if (_moving is not null)
        {
            WaitForRebuild();
        }

        long id = _map.Find(address);
        return id != 0 ? id : Add(address);
    }

    private long Add(nint address)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var map = _map; // no rebuild can start meanwhile: that needs this thread at a safepoint
            long id = map.Find(address);
            if (id == 0)
            {
                id = ++_nextId;
                map.Add(address, id);
            }

            return id;
        }
    }

    private void WaitForRebuild()
    {
        lock (_lock)
        {
            while (_moving is not null)
            {
                if (_disposed || _heap.IsFaulted)
                {
                    _heap.ThrowIfFaulted();
                    throw new GcHeapDisposedException("heap");
                }

                Monitor.Wait(_lock, 50);
            }

            ObjectDisposedException.ThrowIf(_disposed, this);
        }
    }

    /// <summary>The id of the object at <paramref name="address"/>, or 0 if it has none (never waits for a rebuild to give one).</summary>
    public long Find(nint address)
    {
        if (_moving is not null)
        {
            WaitForRebuild();
        }

        return _map.Find(address);
    }

    /// <summary>The world is stopped and the roots were just forwarded: every address in the table is about to be stale.</summary>
    public void SetAside()
    {
        lock (_lock)
        {
            if (_map.Count > 0)
            {
                _moving = _map;
                _map = new AddressIdMap(16);
            }
        }
    }

    /// <summary>
    /// Collector thread, mutators running, plan and marks still valid: drops dead objects' ids
    /// and re-keys the rest by their forwarded addresses. Returns the number of ids kept.
    /// </summary>
    public int Rebuild(Func<nint, bool> isLive, NativePlan* plan)
    {
        AddressIdMap? moving;
        lock (_lock)
        {
            moving = _moving;
        }

        if (moving is null)
        {
            return 0;
        }

        int total = moving.Count;
        var addresses = new nint[total];
        var ids = new long[total];
        total = moving.CopyTo(addresses, ids);
        int n = 0;
        for (int i = 0; i < total; i++)
        {
            if (isLive(addresses[i]))
            {
                addresses[n] = addresses[i];
                ids[n++] = ids[i];
            }
        }

        string? failure = null;
        fixed (nint* a = addresses)
        {
            int rc = NativeMethods.ForwardSlots(plan, (ulong*)a, (ulong)n, out ulong bad);
            if (rc != 0)
            {
                failure = $"an object with identity id {ids[bad]} at 0x{addresses[bad]:x} could not be forwarded";
            }
        }

        var map = new AddressIdMap(failure is null ? n : 16);
        if (failure is null)
        {
            for (int i = 0; i < n; i++)
            {
                map.Add(addresses[i], ids[i]);
            }
        }

        lock (_lock)
        {
            _map = map;
            _moving = null;
            Dropped += total - n;
            _failure ??= failure;
            Monitor.PulseAll(_lock);
        }

        return n;
    }

    /// <summary>A cycle failed after <see cref="SetAside"/>: wake waiters (the heap is faulted, they throw).</summary>
    public void Abort()
    {
        lock (_lock)
        {
            if (_moving is not null)
            {
                _moving = null;
                _map = new AddressIdMap(16);
                Monitor.PulseAll(_lock);
            }
        }
    }

    /// <summary>The first failure of a rebuild (a corrupt heap), once.</summary>
    public string? TakeFailure()
    {
        lock (_lock)
        {
            var f = _failure;
            _failure = null;
            return f;
        }
    }

    public void Dispose()
    {
        lock (_lock)
        {
            _disposed = true;
            _map = new AddressIdMap(16);
            Monitor.PulseAll(_lock);
        }
    }
}
