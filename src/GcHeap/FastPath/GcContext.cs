using System.Runtime.CompilerServices;

namespace GcHeap;

/// <summary>
/// A thread's fast-path access to the heap: allocation and handle resolution that return
/// <see cref="GcView"/>s, with the owning-thread check done once, when the context is obtained
/// (<see cref="Mutator.GetContext"/>), instead of on every call. A <c>ref struct</c>: it lives on
/// its thread's stack and can be neither stored in a class nor captured by a lambda or an async
/// method, so it cannot reach another thread.
/// <para>Safepoints on the fast path: <see cref="Safepoint"/>, and an allocation that refills the
/// thread's one-page buffer, needs a large object's pages, or finds a collection pending. Objects
/// only move at a safepoint, so each of these invalidates the thread's earlier views (their use
/// then throws <see cref="GcInvalidHandleException"/> with
/// <see cref="GcHandleProblem.ViewExpired"/>). Every <see cref="Mutator"/> method is a safepoint
/// too. Keep what must survive one as a <see cref="GcRef"/> (<see cref="GcView.ToHandle"/>), and
/// turn <see cref="HeapOptions.StrictViews"/> on while developing to make every allocation one.</para>
/// <para>A thread that loops for long on views alone (no allocation) should call
/// <see cref="Safepoint"/> now and then: until it does, a collection waits for it.</para>
/// </summary>
public readonly ref struct GcContext
{
    private readonly Mutator? _m;

    internal GcContext(Mutator m) => _m = m;

    /// <summary>The mutator this context belongs to.</summary>
    /// <exception cref="GcThreadStateException">This is a default (unattached) context.</exception>
    public Mutator Mutator => M;

    /// <summary>The null view.</summary>
    public static GcView Null => default;

    private Mutator M
    {
        [MethodImpl(HotPath.Inline)]
        get
        {
            var m = _m;
            if (m is null)
            {
                ThrowDefault();
            }

            return m!;
        }
    }

    /// <summary>A view of the object <paramref name="obj"/> refers to (the null view for <see cref="GcRef.Null"/>). Not a safepoint.</summary>
    /// <exception cref="GcInvalidHandleException"><paramref name="obj"/> is released, foreign or another thread's local handle.</exception>
    /// <exception cref="GcThreadStateException">Inside a safe region, or a default context.</exception>
    /// <exception cref="GcHeapDisposedException">The heap or the mutator is disposed.</exception>
    /// <exception cref="GcCollectionFailedException">A collection failed; the heap refuses further use.</exception>
    [MethodImpl(HotPath.Inline)]
    public GcView View(GcRef obj)
    {
        var m = M;
        m.CheckUsableFromContext();
        return obj.IsNull ? default : new GcView(m, m.ResolveNoPoll(obj), m.ViewEpoch);
    }

    /// <summary>
    /// Allocates an instance of an object type (fields zero / null) and returns a view of it. A
    /// safepoint only when the thread's buffer is exhausted or a collection is pending (always,
    /// with <see cref="HeapOptions.StrictViews"/>).
    /// </summary>
    /// <exception cref="ArgumentException"><paramref name="type"/> is an array type or belongs to another heap.</exception>
    /// <exception cref="GcHeapExhaustedException">No room even after a full collection.</exception>
    /// <exception cref="GcThreadStateException">Inside a safe region, a default context, or the heap is full and this is the collector thread.</exception>
    /// <exception cref="GcHeapDisposedException">The heap or the mutator is disposed.</exception>
    /// <exception cref="GcCollectionFailedException">A collection failed; the heap refuses further use.</exception>
    [MethodImpl(HotPath.Inline)]
    public GcView Allocate(GcType type)
    {
        var m = M;
        nint a = m.AllocateObjectFromContext(type);
        return new GcView(m, a, m.ViewEpoch);
    }

    /// <summary>Allocates an array of <paramref name="length"/> elements (all zero / null) and returns a view of it. Safepoints as for <see cref="Allocate"/>.</summary>
    /// <exception cref="ArgumentException"><paramref name="arrayType"/> is not an array type or belongs to another heap.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="length"/> is negative.</exception>
    /// <exception cref="GcHeapExhaustedException">No room even after a full collection.</exception>
    /// <exception cref="GcThreadStateException">Inside a safe region, a default context, or the heap is full and this is the collector thread.</exception>
    /// <exception cref="GcHeapDisposedException">The heap or the mutator is disposed.</exception>
    /// <exception cref="GcCollectionFailedException">A collection failed; the heap refuses further use.</exception>
    public GcView AllocateArray(GcType arrayType, int length)
    {
        var m = M;
        nint a = m.AllocateArrayFromContext(arrayType, length);
        return new GcView(m, a, m.ViewEpoch);
    }

    /// <summary>
    /// Re-points the handle <paramref name="local"/> at <paramref name="value"/>'s object (the null
    /// view makes it a null-valued slot that still belongs to its scope or root): a handle used as
    /// a cursor or a shadow-stack slot, so that a loop or a recursion keeps what must survive a
    /// safepoint without creating a handle each time. A local handle of this thread is re-pointed
    /// with one store; a global root (<see cref="GcRoot.Ref"/>) under the root table's lock. Not a
    /// safepoint.
    /// </summary>
    /// <exception cref="GcInvalidHandleException"><paramref name="local"/> is null, released, foreign or another thread's local handle; or <paramref name="value"/> is expired or another heap's.</exception>
    /// <exception cref="GcThreadStateException">Inside a safe region, or a default context.</exception>
    [MethodImpl(HotPath.Inline)]
    public void Set(GcRef local, GcView value)
    {
        var m = M;
        m.CheckUsableFromContext();
        m.SetLocal(local, value.IsNull ? 0 : value.AddressFor(m));
    }

    /// <summary>
    /// Sets <paramref name="bytes"/> aside in the thread's allocation buffer (refilling it if
    /// needed): the next small-object allocations of this thread, up to that many bytes in total,
    /// are then not safepoints, so views taken between them stay valid. A runtime builds a
    /// multi-object structure (a closure and its environment, a small subtree) with views only
    /// this way, without holding parts in handles. The call itself is a safepoint (it invalidates
    /// earlier views). Sizes: <see cref="GcType.InstanceSize"/> for objects,
    /// <see cref="GcType.ArraySize"/> for arrays; objects over 2,048 bytes are large and never
    /// come from a reservation. The reservation ends at the thread's next other safepoint: a
    /// <see cref="Mutator"/> call (<see cref="Safepoint"/> and
    /// <see cref="Mutator.EnterSafeRegion"/> among them) or a context allocation it does not cover
    /// (more bytes than are left, or a large object); later allocations are ordinary ones again.
    /// An allocation inside a reservation still throws after disposal or inside a safe region.
    /// </summary>
    /// <param name="bytes">Bytes to set aside, at most 4,096 (one buffer).</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="bytes"/> is negative or over 4,096.</exception>
    /// <exception cref="GcHeapExhaustedException">No room even after a full collection.</exception>
    /// <exception cref="GcThreadStateException">Inside a safe region, or a default context.</exception>
    /// <exception cref="GcHeapDisposedException">The heap or the mutator is disposed.</exception>
    public void Reserve(int bytes) => M.ReserveFromContext(bytes);

    /// <summary>A safepoint: lets a pending collection stop this thread. Invalidates every earlier view of the thread.</summary>
    /// <exception cref="GcThreadStateException">Inside a safe region, or a default context.</exception>
    /// <exception cref="GcHeapDisposedException">The heap or the mutator is disposed.</exception>
    /// <exception cref="GcCollectionFailedException">A collection failed; the heap refuses further use.</exception>
    public void Safepoint() => M.Safepoint();

    /// <summary>True when <paramref name="view"/> is null or still usable (made by this context's thread since its last safepoint).</summary>
    public bool IsValid(GcView view) => view.IsNull || (ReferenceEquals(view.M, _m) && view.IsCurrent);

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static void ThrowDefault() =>
        throw new GcThreadStateException("This GcContext is default: obtain one with Mutator.GetContext() on the attached thread.");
}
