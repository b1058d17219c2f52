using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using GcHeap.Collection;

namespace GcHeap.Marking;

/// <summary>
/// Snapshot-at-the-beginning log: references that mutators overwrote while marking was on.
/// Each mutator fills a private buffer and publishes it here when full (and at mark end);
/// the marker drains published buffers concurrently.
/// </summary>
internal sealed class SatbQueue
{
    public const int BufferSize = 1024;

    private readonly ConcurrentQueue<(nint[] Buffer, int Count)> _full = new();
    private readonly ConcurrentBag<nint[]> _pool = [];

    public bool IsEmpty => _full.IsEmpty;

    public nint[] Rent() => _pool.TryTake(out var b) ? b : new nint[BufferSize];

    public void Publish(nint[] buffer, int count) => _full.Enqueue((buffer, count));

    [MethodImpl(CollectorCode.OptimizeOnce)]
    public bool TryTake(out nint[] buffer, out int count)
    {
        if (_full.TryDequeue(out var item))
        {
            (buffer, count) = item;
            return true;
        }

        buffer = [];
        count = 0;
        return false;
    }

    public void Return(nint[] buffer) => _pool.Add(buffer);
}
