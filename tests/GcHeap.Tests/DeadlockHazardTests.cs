using GcHeap.Model;

namespace GcHeap.Tests;

/// <summary>
/// The .NET deadlock hazard: a mutator blocked in a userfaultfd fault cannot reach a .NET
/// safepoint, so if the fault were served by managed code, any .NET GC would hang the process.
/// GcHeap serves faults on a native thread. Here other threads allocate ordinary .NET objects
/// and call GC.Collect() in a storm while mutators fault on to-space during (throttled)
/// compaction; everything must finish.
/// </summary>
public class DeadlockHazardTests
{
    [Theory]
    [MemberData(nameof(TestHeaps.ConcurrentBackends), MemberType = typeof(TestHeaps))]
    public void DotNetGcStormDuringCompactionDoesNotHang(GcBackend backend)
    {
        using var heap = TestHeaps.Create(backend, configure: o =>
        {
            o.SweepDelayMicros = 500;
            o.VerifyHeap = false; // keep the collector out of to-space: only mutators fault
        });
        var types = new ModelTypes(heap);
        var errors = new List<Exception>();
        int stop = 0;
        long dotnetGcs = 0;

        var storm = Enumerable.Range(0, 2).Select(i => new Thread(() =>
        {
            var keep = new List<byte[]>();
            while (Volatile.Read(ref stop) == 0)
            {
                for (int k = 0; k < 200; k++)
                {
                    keep.Add(new byte[1024 + k]);
                }

                if (keep.Count > 20_000)
                {
                    keep.Clear();
                }

                GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
                Interlocked.Increment(ref dotnetGcs);
            }
        })
        { IsBackground = true, Name = $"dotnet-gc-storm-{i}" }).ToList();

        var mutators = Enumerable.Range(0, 2).Select(i => TestHeaps.StartMutator(heap, $"faulting-{i}", m =>
        {
            using var graph = new MirroredGraph(m, types, seed: 40 + i, owner: i + 1);
            graph.Grow(16, 200);
            while (Volatile.Read(ref stop) == 0)
            {
                for (int k = 0; k < 20; k++)
                {
                    graph.Step();
                }
            }

            graph.Compare($"on {m.Name} after the storm");
        }, errors)).ToList();

        storm.ForEach(t => t.Start());
        var collections = new Thread(() =>
        {
            try
            {
                for (int c = 0; c < 4; c++)
                {
                    heap.Collect();
                }
            }
            catch (Exception e)
            {
                lock (errors)
                {
                    errors.Add(e);
                }
            }
        });
        collections.Start();
        Assert.True(collections.Join(TimeSpan.FromMinutes(3)), "collections hung while .NET GCs ran (the deadlock hazard)");
        Volatile.Write(ref stop, 1);
        TestHeaps.JoinAll(mutators.Concat(storm), TimeSpan.FromMinutes(1));
        TestHeaps.ThrowFirst(errors);

        Assert.True(Interlocked.Read(ref dotnetGcs) > 0);
        var history = heap.History;
        Assert.True(history.Sum(s => s.FaultsServed) > 0, "mutators never faulted, so the hazard was not exercised");
    }
}
