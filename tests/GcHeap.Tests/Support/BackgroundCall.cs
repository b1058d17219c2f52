namespace GcHeap.Tests.Support;

/// <summary>A call running on a thread of its own (a plain thread: a test may block on it), with its result or exception.</summary>
internal sealed class BackgroundCall<T>
{
    private readonly Thread _thread;
    private T? _result;
    private Exception? _error;

    public BackgroundCall(Func<T> call)
    {
        _thread = new Thread(() =>
        {
            try
            {
                _result = call();
            }
            catch (Exception e)
            {
                _error = e;
            }
        })
        { IsBackground = true, Name = "background call" };
        _thread.Start();
    }

    public bool IsCompleted => !_thread.IsAlive;

    /// <summary>Waits for the call; false when it has not returned within <paramref name="timeout"/>.</summary>
    public bool Wait(TimeSpan timeout) => _thread.Join(timeout);

    /// <summary>What the call threw, or null.</summary>
    public Exception? Error => _error;

    /// <summary>What the call returned (rethrows what it threw).</summary>
    public T Result => _error is null ? _result! : throw new InvalidOperationException("The call threw.", _error);
}
