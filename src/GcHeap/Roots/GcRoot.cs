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
    private GcRef _ref;

    internal GcRoot(Roots.HandleTable table, GcRef handle)
    {
        _table = table;
        _ref = handle;
    }

    /// <summary>The global handle; usable from every mutator of the heap. Invalid after disposal.</summary>
    public GcRef Ref => _ref;

    /// <summary>True after <see cref="Dispose"/>.</summary>
    public bool IsDisposed => _ref.IsNull;

    /// <summary>Implicit conversion to the underlying handle.</summary>
    public static implicit operator GcRef(GcRoot root) => root?.Ref ?? GcRef.Null;

    /// <summary>The underlying handle.</summary>
    public GcRef ToGcRef() => Ref;

    /// <summary>
    /// Releases the root; the object may be collected once nothing else reaches it. Any thread may
    /// call it, also while a collection runs; a second call, or a call after the heap was disposed,
    /// does nothing.
    /// </summary>
    public void Dispose()
    {
        var r = _ref;
        if (!r.IsNull)
        {
            _ref = GcRef.Null;
            _table.FreeGlobal(r);
        }
    }
}
