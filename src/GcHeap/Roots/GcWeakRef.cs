namespace GcHeap;

/// <summary>
/// A weak reference: refers to an object without keeping it alive. The collection that finds
/// the target unreachable (through roots, handles and fields; weak references do not count)
/// clears it, on every backend, before anything can observe the object dead; until then
/// <see cref="Get"/> returns a strong local handle to it. Create with
/// <see cref="Mutator.CreateWeak"/>; usable from every mutator of the heap; dispose when no longer
/// needed (any thread, any time; the slot is reused). A weak symbol table, a cache that must not
/// keep its entries alive, or a parent link that should not extend a lifetime are the uses.
/// <para>Cost: one slot of native memory, cleared or forwarded inside the pause that ends
/// marking / the flip (a few nanoseconds per weak reference, measured in the benchmarks).</para>
/// </summary>
public sealed class GcWeakRef : IDisposable
{
    private readonly Roots.WeakTable _table;
    private readonly Heap _heap;
    private int _slot;

    internal GcWeakRef(Heap heap, Roots.WeakTable table, int slot)
    {
        _heap = heap;
        _table = table;
        _slot = slot;
    }

    /// <summary>True after <see cref="Dispose"/>.</summary>
    public bool IsDisposed => Volatile.Read(ref _slot) < 0;

    /// <summary>
    /// A new local handle of <paramref name="mutator"/> to the target, or <see cref="GcRef.Null"/>
    /// once a collection found it dead (or when it was set to null). A safepoint of
    /// <paramref name="mutator"/>. While concurrent marking runs, the target is marked live by
    /// this call (it is now strongly reachable again), so storing it anywhere is safe.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="mutator"/> is null.</exception>
    /// <exception cref="GcInvalidHandleException">The weak reference is disposed, or belongs to another heap than <paramref name="mutator"/>.</exception>
    /// <exception cref="GcThreadStateException"><paramref name="mutator"/> belongs to another thread or is inside a safe region.</exception>
    /// <exception cref="GcHeapDisposedException">The heap or the mutator is disposed.</exception>
    /// <exception cref="GcHandleLimitException">The thread holds the most local handles it may.</exception>
    public GcRef Get(Mutator mutator)
    {
        int slot = Check(mutator);
        return mutator.LoadWeak(_table, slot);
    }

    /// <summary>
    /// Like <see cref="Get"/>, as a test: false (and <paramref name="target"/> null) when the
    /// target is gone.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="mutator"/> is null.</exception>
    /// <exception cref="GcInvalidHandleException">The weak reference is disposed, or belongs to another heap than <paramref name="mutator"/>.</exception>
    /// <exception cref="GcThreadStateException"><paramref name="mutator"/> belongs to another thread or is inside a safe region.</exception>
    /// <exception cref="GcHeapDisposedException">The heap or the mutator is disposed.</exception>
    public bool TryGet(Mutator mutator, out GcRef target)
    {
        target = Get(mutator);
        return !target.IsNull;
    }

    /// <summary>
    /// True while the target has not been found dead. Creates no handle. Like every weak test, the
    /// answer can change at the next safepoint.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="mutator"/> is null.</exception>
    /// <exception cref="GcInvalidHandleException">The weak reference is disposed, or belongs to another heap than <paramref name="mutator"/>.</exception>
    /// <exception cref="GcThreadStateException"><paramref name="mutator"/> belongs to another thread or is inside a safe region.</exception>
    /// <exception cref="GcHeapDisposedException">The heap or the mutator is disposed.</exception>
    public bool IsAlive(Mutator mutator)
    {
        int slot = Check(mutator);
        mutator.Safepoint();
        return _table.Read(slot) != 0;
    }

    /// <summary>Re-points the weak reference at the object <paramref name="target"/> refers to (<see cref="GcRef.Null"/> empties it). A safepoint of <paramref name="mutator"/>.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="mutator"/> is null.</exception>
    /// <exception cref="GcInvalidHandleException">The weak reference is disposed or of another heap, or <paramref name="target"/> is invalid.</exception>
    /// <exception cref="GcThreadStateException"><paramref name="mutator"/> belongs to another thread or is inside a safe region.</exception>
    /// <exception cref="GcHeapDisposedException">The heap or the mutator is disposed.</exception>
    public void Set(Mutator mutator, GcRef target)
    {
        int slot = Check(mutator);
        _table.Set(slot, mutator.AddressOrZero(target));
    }

    /// <summary>Releases the slot. Any thread, any time; a second call, or a call after the heap was disposed, does nothing.</summary>
    public void Dispose()
    {
        int slot = Interlocked.Exchange(ref _slot, -1);
        if (slot >= 0)
        {
            _table.Free(slot);
        }
    }

    private int Check(Mutator mutator)
    {
        ArgumentNullException.ThrowIfNull(mutator);
        int slot = Volatile.Read(ref _slot);
        if (slot < 0)
        {
            throw new GcInvalidHandleException("The weak reference is disposed.") { Problem = GcHandleProblem.Stale };
        }

        if (!ReferenceEquals(mutator.Heap, _heap))
        {
            throw new GcInvalidHandleException("The weak reference belongs to another heap.") { Problem = GcHandleProblem.Foreign };
        }

        return slot;
    }
}
