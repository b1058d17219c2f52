using System.Runtime.ExceptionServices;

namespace GcHeap.Collection;

/// <summary>
/// Work queued for the collector thread (verification): run there exactly once, or cancelled
/// if the heap is disposed or fails before its turn, so that the thread waiting for it never
/// waits for work that will not run.
/// </summary>
internal abstract class QueuedWork
{
    private readonly object _lock = new();
    private bool _done;
    private Exception? _error;

    /// <summary>True once the work ran or was cancelled.</summary>
    public bool IsCompleted
    {
        get
        {
            lock (_lock)
            {
                return _done;
            }
        }
    }

    /// <summary>Runs the work (on the collector thread) and releases the waiter.</summary>
    public void Run()
    {
        Exception? error = null;
        try
        {
            Execute();
        }
        catch (Exception e)
        {
            error = e;
        }

        Complete(error);
    }

    /// <summary>Releases the waiter with <paramref name="reason"/> instead of running the work.</summary>
    public void Cancel(Exception reason) => Complete(reason);

    /// <summary>Waits until the work ran or was cancelled; rethrows what it threw (wrapped unless a <see cref="GcHeapException"/>).</summary>
    public void Wait()
    {
        lock (_lock)
        {
            while (!_done)
            {
                Monitor.Wait(_lock);
            }
        }

        if (_error is GcHeapException or ObjectDisposedException)
        {
            ExceptionDispatchInfo.Throw(_error);
        }

        if (_error is not null)
        {
            throw new GcHeapException(_error.Message, _error);
        }
    }

    protected abstract void Execute();

    private void Complete(Exception? error)
    {
        lock (_lock)
        {
            _error = error;
            _done = true;
            Monitor.PulseAll(_lock);
        }
    }
}

/// <summary>Queued work with a result.</summary>
/// <typeparam name="T">The result's type.</typeparam>
internal sealed class QueuedWork<T>(Func<T> work) : QueuedWork
{
    public T Result { get; private set; } = default!;

    protected override void Execute() => Result = work();
}
