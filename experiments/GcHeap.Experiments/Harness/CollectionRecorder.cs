using GcHeap.Experiments.Results;

namespace GcHeap.Experiments.Harness;

/// <summary>
/// Keeps every collection of a heap (Heap.History is bounded) by listening to
/// <see cref="Heap.CollectionCompleted"/>; <see cref="Freeze"/> ends the recording.
/// </summary>
internal sealed class CollectionRecorder : IDisposable
{
    private readonly Heap _heap;
    private readonly List<CollectionRecord> _records = [];
    private readonly object _lock = new();
    private bool _frozen;

    public CollectionRecorder(Heap heap)
    {
        _heap = heap;
        _heap.CollectionCompleted += OnCompleted;
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _records.Count;
            }
        }
    }

    /// <summary>Stops recording and returns what was recorded.</summary>
    public List<CollectionRecord> Freeze()
    {
        lock (_lock)
        {
            _frozen = true;
            return [.. _records];
        }
    }

    /// <summary>The records so far (recording goes on).</summary>
    public List<CollectionRecord> Snapshot()
    {
        lock (_lock)
        {
            return [.. _records];
        }
    }

    public void Dispose() => _heap.CollectionCompleted -= OnCompleted;

    private void OnCompleted(CollectionStats s)
    {
        var r = CollectionRecord.From(s);
        lock (_lock)
        {
            if (!_frozen)
            {
                _records.Add(r);
            }
        }
    }
}
