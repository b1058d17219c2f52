namespace GcHeap.Experiments.Workloads.Bulk;

/// <summary>
/// Bulk operations on one big array while collections come: the mutator fills a long[] of
/// --live-mb and shifts it by one element (an overlapping copy) again and again for --seconds,
/// while another thread asks for a collection every --collect-every-ms. Each fill or copy is one
/// API call over the whole array; the result's time to safepoint shows how long such a call holds
/// a pause up (GcHeap works through it in chunks of --chunk-kb, polling between two; 0 keeps the
/// library's default). On .NET the same loop uses Array.Fill and Array.Copy and GC.Collect.
/// </summary>
internal sealed class BulkWorkload(int collectEveryMs, int chunkKb) : IWorkload
{
    public string Name => "bulk";

    public IReadOnlyDictionary<string, object?> Parameters => new Dictionary<string, object?>
    {
        ["collect_every_ms"] = collectEveryMs,
        ["chunk_kb"] = chunkKb == 0 ? Mutator.BulkChunkBytes / 1024 : chunkKb,
    };

    public bool UsesLiveSizeAndDuration => true;

    public void RunGcHeap(Heap heap, WorkloadContext context)
    {
        if (chunkKb > 0)
        {
            Mutator.BulkChunkBytes = chunkKb * 1024;
        }

        using var m = heap.AttachCurrentThread("bulk");
        var longs = heap.Types.DefineDataArray<long>("longs");
        int n = Length(context);
        using var array = m.CreateRoot(m.AllocateArray(longs, n));
        long passes = 0;
        var loop = System.Diagnostics.Stopwatch.StartNew();
        using (var collector = new PeriodicCollector(collectEveryMs, () => heap.Collect()))
        {
            while (context.Elapsed.TotalSeconds < context.Settings.Seconds)
            {
                m.FillItems(array.Ref, 0, n, passes);
                m.CopyItems<long>(array.Ref, 0, array.Ref, 1, n - 1);
                passes++;
            }

            loop.Stop();

            using (m.EnterSafeRegion())
            {
                collector.Stop(); // its last collection needs this thread parked or safe
            }
        }

        Check(passes, n, i => m.GetItem<long>(array.Ref, i));
        Report(context, passes, n, loop.Elapsed);
        context.EndOfWork();
    }

    public void RunDotnet(WorkloadContext context)
    {
        int n = Length(context);
        var array = new long[n];
        long passes = 0;
        var loop = System.Diagnostics.Stopwatch.StartNew();
        using (var collector = new PeriodicCollector(collectEveryMs, () => GC.Collect()))
        {
            while (context.Elapsed.TotalSeconds < context.Settings.Seconds)
            {
                Array.Fill(array, passes);
                Array.Copy(array, 0, array, 1, n - 1);
                passes++;
            }

            loop.Stop();

            collector.Stop();
        }

        Check(passes, n, i => array[i]);
        Report(context, passes, n, loop.Elapsed);
        context.EndOfWork();
    }

    private static int Length(WorkloadContext context) => (int)Math.Min(int.MaxValue / 8, (long)context.Settings.LiveMb << 17); // LiveMb MiB of longs

    private static void Check(long passes, int n, Func<int, long> item)
    {
        long expected = passes - 1;
        foreach (int i in new[] { 0, 1, n / 2, n - 1 })
        {
            if (passes > 0 && item(i) != expected)
            {
                throw new InvalidOperationException($"element {i} is {item(i)}, expected {expected} after {passes} passes");
            }
        }
    }

    private static void Report(WorkloadContext context, long passes, int n, TimeSpan loop)
    {
        context.Metric("passes", passes);
        context.Metric("array_bytes", (long)n * 8);
        context.Metric("loop_seconds", loop.TotalSeconds);
        context.Metric("bytes_filled_and_copied_per_s", passes * 2.0 * n * 8 / loop.TotalSeconds);
    }

    /// <summary>A thread (not attached to the heap) that runs a collection every interval until stopped.</summary>
    private sealed class PeriodicCollector : IDisposable
    {
        private readonly Thread _thread;
        private readonly ManualResetEventSlim _stop = new();

        public PeriodicCollector(int everyMs, Action collect)
        {
            _thread = new Thread(() =>
            {
                while (!_stop.Wait(everyMs))
                {
                    collect();
                }
            })
            { IsBackground = true, Name = "periodic collector" };
            _thread.Start();
        }

        public void Stop()
        {
            _stop.Set();
            _thread.Join();
        }

        public void Dispose()
        {
            Stop();
            _stop.Dispose();
        }
    }
}
