namespace GcHeap;

/// <summary>
/// A global handle: keeps its object alive and can be used by any attached mutator thread until
/// disposed (like a JNI global reference). Create with <see cref="Mutator.CreateRoot"/>.
/// Disposing may happen on any thread. A root that is never disposed keeps its object alive for
/// the heap's lifetime.
/// </summary>
public sealed class GcRoot : IDisposable
{
    private readonly Roots.HandleTable _table;
    private readonly GcRef _ref;
    private int _disposed;

    internal GcRoot(Roots.HandleTable table, GcRef handle)
    {
        _table = table;
        _ref = handle;
    }

    /// <summary>
    /// The global handle; usable from every mutator of the heap. After disposal it is stale: using
    /// it throws <see cref="GcInvalidHandleException"/> with <see cref="GcHandleProblem.Stale"/>.
    /// </summary>
    public GcRef Ref => _ref;

    /// <summary>True after <see cref="Dispose"/>.</summary>
    public bool IsDisposed => Volatile.Read(ref _disposed) != 0;

    /// <summary>Implicit conversion to the underlying handle.</summary>
    public static implicit operator GcRef(GcRoot root) => root?.Ref ?? GcRef.Null;

    /// <summary>The underlying handle.</summary>
    public GcRef ToGcRef() => Ref;

    /// <summary>
    /// Re-points the root at the object <paramref name="value"/> refers to (<see cref="GcRef.Null"/>
    /// empties it and keeps the slot): a long-lived slot for a value that changes (a table being
    /// grown, the current environment) without a new root each time. A safepoint of
    /// <paramref name="mutator"/>, like every <see cref="Mutator"/> call.
    /// </summary>
    /// <param name="mutator">The calling thread's mutator (it resolves <paramref name="value"/>).</param>
    /// <param name="value">The new target, a handle valid on <paramref name="mutator"/>.</param>
    /// <exception cref="ArgumentNullException"><paramref name="mutator"/> is null.</exception>
    /// <exception cref="GcInvalidHandleException">The root is disposed or belongs to another heap, or <paramref name="value"/> is invalid.</exception>
    /// <exception cref="GcThreadStateException"><paramref name="mutator"/> belongs to another thread or is inside a safe region.</exception>
    /// <exception cref="GcHeapDisposedException">The heap or the mutator is disposed.</exception>
    public void Set(Mutator mutator, GcRef value)
    {
        ArgumentNullException.ThrowIfNull(mutator);
        if (IsDisposed)
        {
            throw new GcInvalidHandleException("The root is disposed.") { Problem = GcHandleProblem.Stale };
        }

        mutator.SetRoot(_ref, value);
    }

    /// <summary>
    /// Releases the root; the object may be collected once nothing else reaches it. Any thread may
    /// call it, also while a collection runs; a second call, or a call after the heap was disposed,
    /// does nothing.
    /// </summary>
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) == 0)
        {
            _table.FreeGlobal(_ref);
        }
    }
}
