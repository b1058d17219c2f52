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

    internal HandleScope(Mutator mutator, int depth)
    {
        _mutator = mutator;
        _depth = depth;
    }

    /// <summary>
    /// Closes the scope and returns <paramref name="result"/> as a new handle in the enclosing
    /// scope (V8's EscapableHandleScope): the one way to hand a value out of a scope.
    /// </summary>
    /// <exception cref="GcThreadStateException">Called on another thread than the scope's, or inside a safe region (<see cref="Mutator.EnterSafeRegion"/>); the scope stays open.</exception>
    /// <exception cref="GcInvalidHandleException"><paramref name="result"/> is not a valid handle of this thread.</exception>
    public GcRef Escape(GcRef result) => _mutator is null ? GcRef.Null : _mutator.CloseScope(_depth, result);

    /// <summary>
    /// Closes the scope (and any inner scope left open); its local handles become invalid. Does
    /// nothing once the scope is closed, the mutator detached or the heap disposed.
    /// </summary>
    /// <exception cref="GcThreadStateException">Called on another thread than the scope's, or inside a safe region (<see cref="Mutator.EnterSafeRegion"/>); the scope stays open.</exception>
    public void Dispose() => _mutator?.CloseScope(_depth, GcRef.Null);
}
