using GcHeap.Model;

namespace GcHeap.Tests;

/// <summary>
/// Concurrent marking with the snapshot-at-the-beginning write barrier. The classic lost-object
/// race is staged step by step with the collector's test hooks: the marker is held after it has
/// scanned B and before it scans A, while the mutator moves the only reference to X from A.f to
/// B.g. With the barrier X survives; with the barrier disabled (negative control) X is lost and
/// the collection fails loudly.
/// </summary>
public class ConcurrentMarkingTests
{
    private sealed record Types(GcType N, GcRefField F, GcRefField G, GcField<long> Id);

    private static Types Define(Heap heap)
    {
        var n = heap.Types.DefineObject("N", b => b.Reference("f").Reference("g").Value<long>("id"));
        return new Types(n, n.RefField("f"), n.RefField("g"), n.Field<long>("id"));
    }

    /// <summary>Builds root(A) -> A.f = X and root(B) with B.g = null; no local handle survives.</summary>
    private static (GcRoot A, GcRoot B) BuildRace(Mutator m, Types t)
    {
        using var s = m.OpenScope();
        var x = m.Allocate(t.N);
        m.Set(x, t.Id, 3);
        var a = m.Allocate(t.N);
        m.Set(a, t.Id, 1);
        m.SetRef(a, t.F, x);
        var b = m.Allocate(t.N);
        m.Set(b, t.Id, 2);
        var rootA = m.CreateRoot(a); // greyed first ...
        var rootB = m.CreateRoot(b); // ... so B is on top of the mark stack and is scanned first
        return (rootA, rootB);
    }

    /// <summary>
    /// Runs a collection on another thread; when the marker has scanned exactly one object (B),
    /// runs <paramref name="mutate"/> on this (mutator) thread, then lets marking go on.
    /// </summary>
    internal static Exception? CollectWithRace(Heap heap, Mutator m, Action mutate, Action? whileCollecting = null)
    {
        using var scannedB = new ManualResetEventSlim();
        using var mutated = new ManualResetEventSlim();
        heap.Collector.TestHooks.AfterScan = count =>
        {
            if (count == 1)
            {
                scannedB.Set();
                mutated.Wait(TimeSpan.FromSeconds(30));
            }
        };
        Exception? error = null;
        var collector = new Thread(() => error = Record.Exception(() => heap.Collect()));
        collector.Start();
        using (m.EnterSafeRegion())
        {
            Assert.True(scannedB.Wait(TimeSpan.FromSeconds(30)), "marking never reached the staged point");
        }

        mutate();
        mutated.Set();
        if (whileCollecting is not null)
        {
            while (collector.IsAlive)
            {
                whileCollecting(); // a running mutator: it polls, parks for pauses, answers handshakes
            }
        }

        using (m.EnterSafeRegion())
        {
            collector.Join();
        }

        heap.Collector.TestHooks.AfterScan = null;
        return error;
    }

    [Theory]
    [MemberData(nameof(TestHeaps.ConcurrentBackends), MemberType = typeof(TestHeaps))]
    public void MovingTheOnlyReferenceDuringMarkingLosesNothing(GcBackend backend)
    {
        using var heap = TestHeaps.Create(backend);
        var t = Define(heap);
        using var m = heap.AttachCurrentThread();
        var (rootA, rootB) = BuildRace(m, t);

        var error = CollectWithRace(heap, m, () =>
        {
            using var s = m.OpenScope(); // closed before marking resumes: no local keeps X alive
            var x = m.GetRef(rootA.Ref, t.F);
            m.SetRef(rootB.Ref, t.G, x);        // B was already scanned
            m.SetRef(rootA.Ref, t.F, GcRef.Null); // A, not scanned yet, loses its reference
        });

        Assert.Null(error);
        var stats = heap.LastCollection!;
        Assert.True(stats.ConcurrentMarking);
        Assert.True(stats.Verified);
        using (m.OpenScope())
        {
            var x = m.GetRef(rootB.Ref, t.G);
            Assert.False(x.IsNull);
            Assert.Equal(3, m.Get(x, t.Id));
            Assert.True(m.IsNullRef(rootA.Ref, t.F));
        }

        Assert.Equal(3, stats.LiveObjects); // A, B and X: X was kept by the barrier's log
    }

    public static readonly TheoryData<GcBackend, bool> BackendsAndMarkEnds = new()
    {
        { GcBackend.Copy, true }, { GcBackend.Move, true }, { GcBackend.Continue, true },
        { GcBackend.Copy, false }, { GcBackend.Move, false }, { GcBackend.Continue, false },
    };

    [Theory]
    [MemberData(nameof(BackendsAndMarkEnds))]
    public void ARunningMutatorHandsItsBarrierLogOverBeforeMarkEnd(GcBackend backend, bool markEndHandshake)
    {
        // Same race, but the mutator keeps running while marking finishes, so its log (holding X)
        // can only reach the marker through a handshake (or, the handshake option off, the
        // mark-end pause). The handshake must have been answered by this thread, and X must survive.
        using var heap = TestHeaps.Create(backend, configure: o => o.MarkEndHandshake = markEndHandshake);
        var t = Define(heap);
        using var m = heap.AttachCurrentThread();
        var (rootA, rootB) = BuildRace(m, t);
        int asked = -1, answered = -1;
        var rounds = new List<long>();
        heap.Collector.TestHooks.SoftHandshakeTimeout = TimeSpan.FromSeconds(30);
        heap.Collector.TestHooks.AfterSoftHandshake = (a, b) => (asked, answered) = (a, b);
        heap.Collector.TestHooks.AfterMarkEndRound = (_, marked) => rounds.Add(marked);

        long reads = 0;
        var error = CollectWithRace(
            heap,
            m,
            () =>
            {
                using var s = m.OpenScope();
                var x = m.GetRef(rootA.Ref, t.F);
                m.SetRef(rootB.Ref, t.G, x);
                m.SetRef(rootA.Ref, t.F, GcRef.Null);
            },
            whileCollecting: () => reads += m.Get(rootB.Ref, t.Id));

        Assert.Null(error);
        Assert.True(reads > 0);
        var stats = heap.LastCollection!;
        if (markEndHandshake)
        {
            // The first round brings X in from the thread's log; the last marks nothing.
            Assert.True(rounds.Count >= 2, $"rounds: {string.Join(", ", rounds)}");
            Assert.True(rounds[0] >= 1, $"rounds: {string.Join(", ", rounds)}");
            Assert.Equal(0, rounds[^1]);
            Assert.Equal(rounds.Count, stats.Handshakes.Count(h => h.Kind == HandshakeKind.MarkEnd));
            var firstEnd = stats.Handshakes.First(h => h.Kind == HandshakeKind.MarkEnd);
            Assert.Equal((1, 0), (firstEnd.Threads, firstEnd.DoneByCollector)); // answered by the running thread itself
            Assert.DoesNotContain(stats.Pauses, p => p.Kind == PauseKind.MarkEnd);
        }
        else
        {
            Assert.Equal((1, 1), (asked, answered));
            Assert.Empty(rounds);
        }

        Assert.True(stats.Verified);
        Assert.Equal(3, stats.LiveObjects);
        using (m.OpenScope())
        {
            Assert.Equal(3, m.Get(m.GetRef(rootB.Ref, t.G), t.Id));
        }
    }

    [Fact]
    public void WithoutTheBarrierTheSameRaceLosesTheObject()
    {
        // Negative control: proves the staged race is real. Verification off, so the loss is
        // caught by the collector's own forwarding (B.g points at an unmarked object).
        using var heap = TestHeaps.Create(GcBackend.Move, configure: o => o.VerifyHeap = false);
        var t = Define(heap);
        heap.Collector.TestHooks.DisableWriteBarrier = true;
        using var m = heap.AttachCurrentThread();
        var (rootA, rootB) = BuildRace(m, t);

        var error = CollectWithRace(heap, m, () =>
        {
            using var s = m.OpenScope();
            var x = m.GetRef(rootA.Ref, t.F);
            m.SetRef(rootB.Ref, t.G, x);
            m.SetRef(rootA.Ref, t.F, GcRef.Null);
        });

        var failure = Assert.IsType<GcCollectionFailedException>(error);
        Assert.Contains("not a live object", failure.Message);
        Assert.Throws<GcCollectionFailedException>(() => m.Allocate(t.N)); // the heap refuses further use
    }

    [Theory]
    [MemberData(nameof(TestHeaps.ConcurrentBackends), MemberType = typeof(TestHeaps))]
    public void ObjectsAllocatedDuringMarkingAreLive(GcBackend backend)
    {
        using var heap = TestHeaps.Create(backend);
        var t = Define(heap);
        using var m = heap.AttachCurrentThread();
        var (rootA, rootB) = BuildRace(m, t);

        var error = CollectWithRace(heap, m, () =>
        {
            using var s = m.OpenScope();
            var y = m.Allocate(t.N);           // allocated while marking runs ...
            m.Set(y, t.Id, 42);
            var z = m.Allocate(t.N);
            m.Set(z, t.Id, 43);
            m.SetRef(y, t.F, z);
            m.SetRef(rootB.Ref, t.G, y);       // ... and reachable only from the already-scanned B
        });

        Assert.Null(error);
        using (m.OpenScope())
        {
            var y = m.GetRef(rootB.Ref, t.G);
            Assert.Equal(42, m.Get(y, t.Id));
            Assert.Equal(43, m.Get(m.GetRef(y, t.F), t.Id));
        }

        Assert.True(heap.LastCollection!.PagesBlack > 0);
        rootA.Dispose();
    }

    [Theory]
    [MemberData(nameof(TestHeaps.ConcurrentBackends), MemberType = typeof(TestHeaps))]
    public void EveryPauseOfTheCycleIsReportedSeparately(GcBackend backend)
    {
        using var heap = TestHeaps.Create(backend);
        using var m = heap.AttachCurrentThread();
        using var graph = new MirroredGraph(m, new ModelTypes(heap), seed: 2);
        graph.Grow(8, 100);
        var s = heap.Collect();
        Assert.Equal(new[] { PauseKind.Flip, PauseKind.Verify }, s.Pauses.Select(p => p.Kind)); // the flip is the only global stop
        Assert.All(s.Pauses, p => Assert.True(p.Milliseconds >= 0));
        Assert.True(s.MarkMs > 0 && s.CycleMs >= s.MarkMs);
        var kinds = s.Handshakes.Select(h => h.Kind).ToList();
        Assert.Equal(new[] { HandshakeKind.MarkStartBarrier, HandshakeKind.MarkStartRoots }, kinds.Take(2));
        Assert.True(kinds.Skip(2).Any() && kinds.Skip(2).All(k => k == HandshakeKind.MarkEnd), string.Join(", ", kinds));
        Assert.All(s.Handshakes, h => Assert.Equal((1, 0), (h.Threads, h.Unanswered)));

        // Each half can still be a pause, to compare.
        foreach (var (start, end, expected) in new[]
        {
            (true, false, new[] { PauseKind.MarkEnd, PauseKind.Flip, PauseKind.Verify }),
            (false, true, new[] { PauseKind.MarkStart, PauseKind.Flip, PauseKind.Verify }),
            (false, false, new[] { PauseKind.MarkStart, PauseKind.MarkEnd, PauseKind.Flip, PauseKind.Verify }),
        })
        {
            using var pauseHeap = TestHeaps.Create(backend, configure: o => (o.MarkStartHandshake, o.MarkEndHandshake) = (start, end));
            using var m3 = pauseHeap.AttachCurrentThread();
            using var g3 = new MirroredGraph(m3, new ModelTypes(pauseHeap), seed: 2);
            g3.Grow(8, 100);
            var s3 = pauseHeap.Collect();
            Assert.Equal(expected, s3.Pauses.Select(p => p.Kind));
            Assert.Equal(start, s3.Handshakes.Any(h => h.Kind == HandshakeKind.MarkStartRoots));
            Assert.Equal(s.LiveObjects, s3.LiveObjects);
        }

        using var stwMarkHeap = TestHeaps.Create(backend, configure: o => o.ConcurrentMarking = false);
        using var m2 = stwMarkHeap.AttachCurrentThread();
        using var g2 = new MirroredGraph(m2, new ModelTypes(stwMarkHeap), seed: 2);
        g2.Grow(8, 100);
        var s2 = stwMarkHeap.Collect();
        Assert.False(s2.ConcurrentMarking);
        Assert.Equal(new[] { PauseKind.Flip, PauseKind.Verify }, s2.Pauses.Select(p => p.Kind));
        Assert.Equal(s.LiveObjects, s2.LiveObjects);
    }

    [Theory]
    [MemberData(nameof(TestHeaps.ConcurrentBackends), MemberType = typeof(TestHeaps))]
    public void ManyThreadsRaceTheMarkerAndNothingIsLost(GcBackend backend)
    {
        // Marking is held after its first object until the mutators have done a couple of hundred
        // steps (moving references, dropping roots, allocating), then slowed down, so that they
        // race it however the machine schedules threads.
        using var heap = TestHeaps.Create(backend);
        long steps = 0;
        heap.Collector.TestHooks.AfterScan = count =>
        {
            if (count == 1)
            {
                long start = Interlocked.Read(ref steps);
                SpinWait.SpinUntil(() => Interlocked.Read(ref steps) > start + 200, TimeSpan.FromSeconds(10));
            }

            Thread.SpinWait(200);
        };
        var types = new ModelTypes(heap);
        var errors = new List<Exception>();
        int stop = 0;
        var threads = Enumerable.Range(0, 3).Select(i => TestHeaps.StartMutator(heap, $"racer-{i}", m =>
        {
            using var graph = new MirroredGraph(m, types, seed: 300 + i, owner: i + 1, largeObjects: false);
            graph.Grow(12, 200);
            long lastCompared = -1;
            while (Volatile.Read(ref stop) == 0)
            {
                graph.Step();
                Interlocked.Increment(ref steps);
                long done = heap.CollectionCount;
                if (done != lastCompared && done % 2 == 0)
                {
                    graph.Compare($"on {m.Name} after collection {done}");
                    lastCompared = done;
                }
            }

            graph.Compare($"on {m.Name} at the end");
        }, errors)).ToList();

        for (int c = 0; c < 8 && errors.Count == 0; c++)
        {
            Assert.True(heap.Collect().Verified);
        }

        Volatile.Write(ref stop, 1);
        TestHeaps.JoinAll(threads, TimeSpan.FromMinutes(2));
        TestHeaps.ThrowFirst(errors);
        Assert.True(heap.History.All(s => s.ConcurrentMarking));
        Assert.True(heap.History.Sum(s => s.PagesBlack) > 0, "no allocation happened during marking");
    }

    [Fact]
    public void AllocationVolumeTriggersBackgroundCollections()
    {
        using var heap = TestHeaps.Create(GcBackend.Move, configure: o =>
        {
            o.BackgroundCollection = true;
            o.CollectionTriggerBytes = 1 << 20;
        });
        var t = Define(heap);
        using var m = heap.AttachCurrentThread();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (heap.CollectionCount < 3 && DateTime.UtcNow < deadline)
        {
            using var s = m.OpenScope();
            for (int i = 0; i < 1000; i++)
            {
                m.Allocate(t.N);
            }
        }

        Assert.True(heap.CollectionCount >= 3);
        Assert.All(heap.History, s => Assert.Equal(CollectionReason.AllocationVolume, s.Reason));
        Assert.True(heap.BytesInUse < 64 << 20);
    }

    [Theory]
    [InlineData(CollectionPhase.Marking)]
    [InlineData(CollectionPhase.Compacting)]
    public void DisposingTheHeapDuringACycleIsSafe(CollectionPhase when)
    {
        var heap = TestHeaps.Create(GcBackend.Move, configure: o => o.SweepDelayMicros = 2000);
        var types = new ModelTypes(heap);
        if (when == CollectionPhase.Marking)
        {
            heap.Collector.TestHooks.AfterScan = _ => Thread.Sleep(1);
        }

        var errors = new List<Exception>();
        var busy = TestHeaps.StartMutator(heap, "busy", m =>
        {
            using var graph = new MirroredGraph(m, types, seed: 77);
            graph.Grow(8, 200);
            while (true)
            {
                graph.Step(); // ends with GcHeapDisposedException once the heap is gone
            }
        }, errors);
        Exception? collectError = null;
        var collect = new Thread(() => collectError = Record.Exception(() => heap.Collect()));
        Thread.Sleep(100);
        collect.Start();
        Assert.True(SpinWait.SpinUntil(() => heap.Phase == when, TimeSpan.FromSeconds(30)), $"never reached {when}");
        heap.Dispose();
        Assert.True(collect.Join(TimeSpan.FromSeconds(60)));
        Assert.True(busy.Join(TimeSpan.FromSeconds(60)));
        Assert.True(collectError is null or GcHeapDisposedException, collectError?.ToString());
        lock (errors)
        {
            Assert.Single(errors);
            Assert.IsType<GcHeapDisposedException>(errors[0]);
        }
    }
}

/// <summary>What marking allocates on .NET's heap.</summary>
public class MarkStackTests
{
    [Fact]
    public void MarkingAWideGraphAllocatesNothingOnTheDotnetHeap()
    {
        // 20,000 objects with references, all reachable from one array: the marker pushes every
        // one of them when it scans the array (once they are out of the nursery). Its stack, kept
        // on .NET's heap, grew from 4,096 entries by doubling, each a large-object allocation on
        // the collector thread (0.1-2 MiB, which started gen2 collections of the host process:
        // docs/results/2026-12-07/snapshot-first-gc/). Native now: the collector thread allocates
        // (almost) nothing while it marks, summed over every cycle's concurrent marking.
        using var heap = new Heap(new HeapOptions { MaxHeapBytes = 64 << 20 });
        var n = heap.Types.DefineObject("N", b => b.Reference("f").Value<long>("id"));
        var id = n.Field<long>("id");
        using var m = heap.AttachCurrentThread();
        const int Count = 20_000;
        using var root = m.CreateRoot(m.AllocateArray(heap.Types.ReferenceArray, Count));
        for (int i = 0; i < Count; i++)
        {
            using var s = m.OpenScope();
            var o = m.Allocate(n);
            m.Set(o, id, i);
            m.SetElement(root.Ref, i, o);
        }

        long allocated = 0, atMarkStart = -1;
        int marked = 0;
        // With mark start by handshake the marker drains while the second round waits: measured
        // from before that round, else from the end of the mark-start pause.
        heap.Collector.TestHooks.BeforeMarkStartRoots = () => atMarkStart = GC.GetAllocatedBytesForCurrentThread();
        heap.Collector.TestHooks.AfterMarkStart = () =>
        {
            if (atMarkStart < 0)
            {
                atMarkStart = GC.GetAllocatedBytesForCurrentThread();
            }
        };
        heap.Collector.TestHooks.BeforeFlip = () =>
        {
            allocated += GC.GetAllocatedBytesForCurrentThread() - atMarkStart;
            atMarkStart = -1;
            marked++;
        };
        long live = 0;
        for (int c = 0; c < 3; c++)
        {
            live = heap.Collect().LiveObjects;
        }

        heap.Collector.TestHooks.BeforeMarkStartRoots = null;
        heap.Collector.TestHooks.AfterMarkStart = null;
        heap.Collector.TestHooks.BeforeFlip = null;

        Assert.True(live > Count, $"live {live}");
        Assert.True(marked == 3, $"concurrent markings seen: {marked} (backend {heap.Backend})");
        Assert.True(allocated < 16 << 10, $"the collector thread allocated {allocated:N0} bytes on .NET's heap while marking {live:N0} objects three times");
        for (int i = 0; i < Count; i += 997)
        {
            using var s = m.OpenScope();
            Assert.Equal(i, m.Get(m.GetElement(root.Ref, i), id));
        }
    }

    [Fact]
    public void TheWriteBarrierLogsWithoutAllocatingOnTheDotnetHeap()
    {
        // While marking runs, every reference store logs the overwritten value in the thread's
        // buffer, published when full. The buffers were .NET arrays, and the backlog the
        // collector had not drained grew their pool by ~23 MB in a 1 GiB run, starting .NET
        // collections (docs/results/2026-12-07/dotnet-gcs-in-runs/). Here the collector is held
        // right after mark start, so nothing is drained while this thread fills ~200 buffers.
        using var heap = new Heap(new HeapOptions { MaxHeapBytes = 64 << 20, BackgroundCollection = false });
        var n = heap.Types.DefineObject("N", b => b.Reference("f"));
        using var m = heap.AttachCurrentThread();
        using var root = m.CreateRoot(m.AllocateArray(heap.Types.ReferenceArray, 2));
        using var a = m.CreateRoot(m.Allocate(n));
        using var b = m.CreateRoot(m.Allocate(n));
        m.SetElement(root.Ref, 0, a.Ref);
        m.SetElement(root.Ref, 1, b.Ref);
        if (heap.Backend == GcBackend.StopTheWorld)
        {
            return; // no concurrent marking on this kernel: no barrier to exercise
        }

        using var marking = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        heap.Collector.TestHooks.AfterMarkStart = () =>
        {
            marking.Set();
            release.Wait(TimeSpan.FromSeconds(30));
        };
        Exception? error = null;
        var collector = new Thread(() => error = Record.Exception(() => heap.Collect()));
        collector.Start();
        long allocated;
        try
        {
            using (m.EnterSafeRegion())
            {
                Assert.True(marking.Wait(TimeSpan.FromSeconds(30)), "marking never started");
            }

            GcRef arr = root.Ref, x = a.Ref, y = b.Ref;
            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 100_000; i++)
            {
                m.SetElement(arr, i & 1, (i & 2) == 0 ? x : y); // overwrites a non-null reference: logged
            }

            allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        }
        finally
        {
            release.Set();
            using (m.EnterSafeRegion())
            {
                collector.Join();
            }

            heap.Collector.TestHooks.AfterMarkStart = null;
        }

        Assert.Null(error);
        Assert.True(heap.Collector.Satb.BuffersAllocated >= 50, $"{heap.Collector.Satb.BuffersAllocated} log buffers: the barrier did not log as expected");
        Assert.True(allocated < 16 << 10, $"100,000 logged stores allocated {allocated:N0} bytes on .NET's heap");
        Assert.True(heap.Verify().IsValid);
    }
}
