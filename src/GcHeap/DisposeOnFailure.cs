namespace GcHeap;

/// <summary>
/// Collects what a constructor has created so far and releases it, newest first, if the
/// constructor does not reach <see cref="Keep"/>: a heap whose construction fails part-way
/// (address space exhausted, a kernel call refused) leaves no mapping or descriptor behind.
/// </summary>
internal sealed class DisposeOnFailure : IDisposable
{
    private readonly Stack<Action> _releases = new();
    private bool _kept;

    /// <summary>Registers <paramref name="resource"/> for release on failure and returns it.</summary>
    public T Add<T>(T resource)
        where T : IDisposable
    {
        _releases.Push(resource.Dispose);
        return resource;
    }

    /// <summary>Registers a release action for something that is not <see cref="IDisposable"/>.</summary>
    public void Add(Action release) => _releases.Push(release);

    /// <summary>Construction succeeded: keep everything.</summary>
    public void Keep() => _kept = true;

    /// <summary>Releases everything registered unless <see cref="Keep"/> was called.</summary>
    public void Dispose()
    {
        if (_kept)
        {
            return;
        }

        while (_releases.TryPop(out var release))
        {
            release();
        }
    }
}
