using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using GcHeap.Collection;

namespace GcHeap.Marking;

/// <summary>
/// Snapshot-at-the-beginning log: references that mutators overwrote while marking was on.
/// Each mutator fills a private buffer and publishes it here when full (and at mark end);
/// the marker drains published buffers concurrently.
/// The buffers are native memory, pooled for the heap's lifetime and freed with it: on .NET's
/// heap, the backlog the collector had not drained yet (~3 million entries at 1 GiB live) grew
/// the pool by ~23 MB of arrays within one run, and those allocations started the host
/// process's .NET collections, which hold every mutator (docs/results/2026-12-07/dotnet-gcs-in-runs/).
/// </summary>
internal sealed unsafe class SatbQueue : IDisposable
{
    public const int BufferSize = 1024;

    private readonly ConcurrentQueue<(nint Buffer, int Count)> _full = new();
    private readonly ConcurrentQueue<nint> _pool = new();
    private readonly List<nint> _all = [];
    private bool _disposed;

    public bool IsEmpty => _full.IsEmpty;

    /// <summary>Buffers allocated so far (the pool's high-water mark).</summary>
    public int BuffersAllocated
    {
        get
        {
            lock (_all)
            {
                return _all.Count;
            }
        }
    }

    /// <summary>A buffer of <see cref="BufferSize"/> entries: from the pool, or newly allocated.</summary>
    public nint* Rent()
    {
        if (Volatile.Read(ref _disposed))
        {
            throw new GcHeapDisposedException("heap");
        }

        if (_pool.TryDequeue(out nint b))
        {
            return (nint*)b;
        }

        lock (_all)
        {
            if (_disposed)
            {
                throw new GcHeapDisposedException("heap");
            }

            var p = (nint*)NativeMemory.Alloc(BufferSize, (nuint)sizeof(nint)); // OutOfMemoryException if it cannot
            _all.Add((nint)p);
            return p;
        }
    }

    public void Publish(nint* buffer, int count) => _full.Enqueue(((nint)buffer, count));

    [MethodImpl(CollectorCode.OptimizeOnce)]
    public bool TryTake(out nint* buffer, out int count)
    {
        if (_full.TryDequeue(out var item))
        {
            buffer = (nint*)item.Buffer;
            count = item.Count;
            return true;
        }

        buffer = null;
        count = 0;
        return false;
    }

    /// <summary>Back to the pool (dropped once the queue is disposed: it freed every buffer).</summary>
    public void Return(nint* buffer)
    {
        if (!Volatile.Read(ref _disposed))
        {
            _pool.Enqueue((nint)buffer);
        }
    }

    /// <summary>
    /// Frees every buffer ever allocated, pooled, published or held by a mutator: only once no
    /// thread can run a barrier on this heap again (the heap waits for that before it frees its
    /// spaces, which the same barriers write to).
    /// </summary>
    public void Dispose()
    {
        lock (_all)
        {
            if (_disposed)
            {
                return;
            }

            Volatile.Write(ref _disposed, true);
            _pool.Clear();
            foreach (nint p in _all)
            {
                NativeMemory.Free((void*)p);
            }

            _all.Clear();
        }
    }
}
