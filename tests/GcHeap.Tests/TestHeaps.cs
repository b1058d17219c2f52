namespace GcHeap.Tests;

/// <summary>Heap configurations the tests share.</summary>
internal static class TestHeaps
{
    public static readonly TheoryData<GcBackend> AllBackends = new() { GcBackend.StopTheWorld, GcBackend.Copy, GcBackend.Move, GcBackend.Continue };

    public static readonly TheoryData<GcBackend> ConcurrentBackends = new() { GcBackend.Copy, GcBackend.Move, GcBackend.Continue };

    /// <summary>
    /// A heap with the verifier on and no background collections: collections happen when the
    /// test says. Every run is installed by UFFDIO_MOVE (MinMovePages = 1), so the tests' small
    /// heaps exercise the MOVE path; heaps built with default options (capability tests) cover
    /// the adaptive one. With GCHEAP_TEST_THP=1 in the environment every heap runs on transparent huge
    /// pages (the whole suite then exercises HeapOptions.TransparentHugePages).
    /// </summary>
    public static Heap Create(GcBackend backend, long maxBytes = 64 << 20, Action<HeapOptions>? configure = null, bool thp = false)
    {
        var o = new HeapOptions
        {
            Backend = backend,
            RequireBackend = true,
            MaxHeapBytes = maxBytes,
            VerifyHeap = true,
            BackgroundCollection = false,
            HandlesPerSegmentLog2 = 20,
            MinMovePages = 1,
            TransparentHugePages = thp || Environment.GetEnvironmentVariable("GCHEAP_TEST_THP") == "1",
        };
        configure?.Invoke(o);
        return new Heap(o);
    }

    /// <summary>Runs <paramref name="body"/> on a new thread attached to the heap, and rethrows what it threw.</summary>
    public static Thread StartMutator(Heap heap, string name, Action<Mutator> body, List<Exception> errors)
    {
        var t = new Thread(() =>
        {
            try
            {
                using var m = heap.AttachCurrentThread(name);
                body(m);
            }
            catch (Exception e)
            {
                lock (errors)
                {
                    errors.Add(e);
                }
            }
        })
        { Name = name, IsBackground = true };
        t.Start();
        return t;
    }

    public static void JoinAll(IEnumerable<Thread> threads, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        foreach (var t in threads)
        {
            var left = deadline - DateTime.UtcNow;
            Assert.True(t.Join(left > TimeSpan.Zero ? left : TimeSpan.Zero), $"thread {t.Name} did not finish within {timeout}");
        }
    }

    public static void ThrowFirst(List<Exception> errors)
    {
        lock (errors)
        {
            if (errors.Count > 0)
            {
                throw new AggregateException(errors);
            }
        }
    }
}
