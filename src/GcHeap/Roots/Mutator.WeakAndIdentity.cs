namespace GcHeap;

// Weak references and stable object ids: the two ways to refer to an object without keeping
// it alive or without holding a handle (section 9 of docs/design.md).
public sealed unsafe partial class Mutator
{
    /// <summary>
    /// A weak reference to the object <paramref name="target"/> refers to (see
    /// <see cref="GcWeakRef"/>); <see cref="GcRef.Null"/> makes an empty one. A safepoint.
    /// </summary>
    /// <exception cref="GcInvalidHandleException"><paramref name="target"/> is released, foreign or another thread's local handle.</exception>
    /// <exception cref="GcHandleLimitException"><see cref="HeapOptions.MaxWeakReferences"/> weak references are alive.</exception>
    /// <exception cref="GcThreadStateException">Not the owning thread, or inside a safe region.</exception>
    /// <exception cref="GcHeapDisposedException">The heap or the mutator is disposed.</exception>
    public GcWeakRef CreateWeak(GcRef target)
    {
        nint a = AddressOrZero(target);
        return new GcWeakRef(_heap, _heap.Weak, _heap.Weak.Allocate(a));
    }

    /// <summary>
    /// The stable id of the object <paramref name="obj"/> refers to (<see cref="GcObjectId.None"/>
    /// for null): equal for the same object across every collection, never reused. The first call
    /// for an object adds it to a side table (about the cost of a dictionary insert); later calls
    /// are a dictionary lookup. Right after a collection's flip, the first call may wait until the
    /// collector has re-keyed the table (0.16-0.23 s for a million ids here,
    /// <see cref="CollectionStats.ObjectIdRekeyMs"/>). A safepoint.
    /// </summary>
    /// <exception cref="GcInvalidHandleException"><paramref name="obj"/> is released, foreign or another thread's local handle.</exception>
    /// <exception cref="GcThreadStateException">Not the owning thread, or inside a safe region.</exception>
    /// <exception cref="GcHeapDisposedException">The heap or the mutator is disposed.</exception>
    /// <exception cref="GcCollectionFailedException">A collection failed.</exception>
    public GcObjectId GetObjectId(GcRef obj)
    {
        nint a = AddressOrZero(obj);
        return a == 0 ? GcObjectId.None : new GcObjectId(_heap.Identity.GetOrAdd(a));
    }

    /// <summary>
    /// The identity hash of the object <paramref name="obj"/> refers to (0 for null): the hash of
    /// <see cref="GetObjectId"/>, stable for the object's life. Same cost and exceptions.
    /// </summary>
    /// <exception cref="GcInvalidHandleException"><paramref name="obj"/> is released, foreign or another thread's local handle.</exception>
    /// <exception cref="GcThreadStateException">Not the owning thread, or inside a safe region.</exception>
    /// <exception cref="GcHeapDisposedException">The heap or the mutator is disposed.</exception>
    /// <exception cref="GcCollectionFailedException">A collection failed.</exception>
    public int IdentityHash(GcRef obj)
    {
        var id = GetObjectId(obj);
        return id.IsNone ? 0 : id.GetHashCode();
    }

    /// <summary>
    /// True when the object <paramref name="obj"/> refers to already has a stable id, and then the
    /// id in <paramref name="id"/>; never gives one. A safepoint.
    /// </summary>
    /// <exception cref="GcInvalidHandleException"><paramref name="obj"/> is released, foreign or another thread's local handle.</exception>
    /// <exception cref="GcThreadStateException">Not the owning thread, or inside a safe region.</exception>
    /// <exception cref="GcHeapDisposedException">The heap or the mutator is disposed.</exception>
    public bool TryGetObjectId(GcRef obj, out GcObjectId id)
    {
        nint a = AddressOrZero(obj);
        id = a == 0 ? GcObjectId.None : new GcObjectId(_heap.Identity.Find(a));
        return !id.IsNone;
    }

    /// <summary>A safepoint, then the address behind a handle (0 for null).</summary>
    internal nint AddressOrZero(GcRef r)
    {
        Enter();
        return r.IsNull ? 0 : ResolveNoPoll(r);
    }

    /// <summary>Reads a weak slot into a new local handle; keeps the target alive if marking runs.</summary>
    internal GcRef LoadWeak(Roots.WeakTable table, int slot)
    {
        Enter();
        // While marking runs, only weakly reachable objects can be unmarked now and then stored
        // where marking has already looked: the table queues the target for the marker, under
        // the lock in which the collector decides that marking is complete (the SATB barrier
        // covers everything else).
        nint a = BarrierActive ? table.ReadKeepingAlive(slot) : table.Read(slot);
        return a == 0 ? GcRef.Null : NewLocal(a);
    }
}
