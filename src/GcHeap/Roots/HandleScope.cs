namespace GcHeap;

/// <summary>
/// Frees the local handles created after it was opened when it is disposed (like a V8
/// HandleScope or a JNI local frame). Open one around any loop that reads references, so
/// that local handles do not pile up. Obtain with <see cref="Mutator.OpenScope"/>.
/// </summary>
public readonly ref struct HandleScope
{
    private readonly Mutator? _mutator;
    private readonly int _depth;
    private readonly long _id;

    internal HandleScope(Mutator mutator, int depth, long id)
    {
        _mutator = mutator;
        _depth = depth;
        _id = id;
    }

    /// <summary>
    /// Closes the scope and returns <paramref name="result"/> as a new handle in the enclosing
    /// scope (V8's EscapableHandleScope): the one way to hand a value out of a scope. Once the
    /// scope is closed (also by a copy of it, or with an outer scope), the mutator detached or the
    /// heap disposed, it returns <see cref="GcRef.Null"/> and closes nothing.
    /// </summary>
    /// <exception cref="GcThreadStateException">Called on another thread than the scope's, or inside a safe region (<see cref="Mutator.EnterSafeRegion"/>); the scope stays open.</exception>
    /// <exception cref="GcInvalidHandleException"><paramref name="result"/> is not a valid handle of this thread.</exception>
    public GcRef Escape(GcRef result) => _mutator is null ? GcRef.Null : _mutator.CloseScope(_depth, _id, result);

    /// <summary>Closes the scope and hands two values out (as new handles in the enclosing scope), e.g. the expression and environment of a tail-call loop.</summary>
    /// <exception cref="GcThreadStateException">Called on another thread than the scope's, or inside a safe region; the scope stays open.</exception>
    /// <exception cref="GcInvalidHandleException">A value is not a valid handle of this thread.</exception>
    public (GcRef First, GcRef Second) Escape(GcRef first, GcRef second)
    {
        Span<GcRef> values = [first, second];
        Escape(values);
        return (values[0], values[1]);
    }

    /// <summary>
    /// Closes the scope and hands every value of <paramref name="values"/> out: each element is
    /// replaced by a new handle to the same object in the enclosing scope (null stays null).
    /// </summary>
    /// <exception cref="GcThreadStateException">Called on another thread than the scope's, or inside a safe region; the scope stays open.</exception>
    /// <exception cref="GcInvalidHandleException">A value is not a valid handle of this thread; the scope stays open.</exception>
    public void Escape(Span<GcRef> values)
    {
        if (_mutator is null)
        {
            values.Clear();
            return;
        }

        _mutator.CloseScope(_depth, _id, values);
    }

    /// <summary>
    /// Closes the scope (and any inner scope left open); its local handles become invalid. Does
    /// nothing once the scope is closed (also through a copy of it: a later scope opened at the
    /// same depth stays open), the mutator detached or the heap disposed.
    /// </summary>
    /// <exception cref="GcThreadStateException">Called on another thread than the scope's, or inside a safe region (<see cref="Mutator.EnterSafeRegion"/>); the scope stays open.</exception>
    public void Dispose() => _mutator?.CloseScope(_depth, _id, GcRef.Null);
}
