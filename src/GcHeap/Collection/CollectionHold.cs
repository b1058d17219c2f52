namespace GcHeap.Collection;

/// <summary>
/// Keeps the collector thread parked between two collections for as long as its holder needs
/// (a snapshot): queued like verification work, it runs on the collector thread and blocks there
/// until <see cref="Release"/>. No collection can start meanwhile; requests queue up and run
/// afterwards. The holder never waits for a mutator while holding, and a disposal waits for the
/// release (the snapshot polls <see cref="Heap.IsDisposing"/> and aborts), so nothing deadlocks.
/// </summary>
internal sealed class CollectionHold : QueuedWork
{
    private readonly object _gate = new();
    private bool _entered;
    private bool _released;

    /// <summary>Waits until the collector thread runs the hold (no cycle in progress), or rethrows why it never will.</summary>
    public void WaitEntered()
    {
        lock (_gate)
        {
            while (!_entered && !IsCompleted)
            {
                Monitor.Wait(_gate, 50);
            }
        }

        if (!_entered)
        {
            Wait(); // cancelled: throws the reason (disposed, or a failed collection)
        }
    }

    /// <summary>Lets the collector thread go on.</summary>
    public void Release()
    {
        lock (_gate)
        {
            _released = true;
            Monitor.PulseAll(_gate);
        }
    }

    protected override void Execute()
    {
        lock (_gate)
        {
            _entered = true;
            Monitor.PulseAll(_gate);
            while (!_released)
            {
                Monitor.Wait(_gate);
            }
        }
    }
}
