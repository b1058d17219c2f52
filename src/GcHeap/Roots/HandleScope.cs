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
    public GcRef Escape(GcRef result) => _mutator is null ? GcRef.Null : _mutator.CloseScope(_depth, result);

    /// <summary>Closes the scope (and any inner scope left open); its local handles become invalid.</summary>
    public void Dispose() => _mutator?.CloseScope(_depth, GcRef.Null);
}
