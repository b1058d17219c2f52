using GcHeap.Model;

namespace GcHeap.Tests;

/// <summary>
/// Several mutator threads read, write (moving references between fields) and allocate while
/// collections run, each keeping its own .NET model; after every collection each thread
/// compares its graph with its model. The native compactor is throttled (a pause after each
/// page it builds in the background), so mutators really touch to-space pages that are not there
/// yet and the collector thread has to serve their faults.
/// </summary>
public class ConcurrentMutatorTests
{
    public static TheoryData<GcBackend, int> FaultModes() => new()
    {
        { GcBackend.StopTheWorld, 0 },
        { GcBackend.Copy, 0 },
        { GcBackend.Copy, 64 }, // the window goes in with one COPY
        { GcBackend.Move, 64 }, // a fault builds its aligned 64-page window and MOVEs it as one run
        { GcBackend.Move, 0 },  // a fault builds its page alone and COPYs it
        { GcBackend.Continue, 64 }, // a fault builds its window in the collector view and CONTINUEs it as one run
        { GcBackend.Continue, 0 },  // a fault builds its page alone and CONTINUEs it
    };

    [Theory]
    [MemberData(nameof(FaultModes))]
    public void ThreadsMutateThroughCollectionsAndGraphsMatchTheirModels(GcBackend backend, int faultAround)
    {
        const int Threads = 3;
        const int Cycles = 6;
        using var heap = TestHeaps.Create(backend, configure: o =>
        {
            o.SweepDelayMicros = 500;
            o.FaultAroundPages = faultAround;
        });
        var types = new ModelTypes(heap);
        var errors = new List<Exception>();
        using var ready = new CountdownEvent(Threads);
        using var paused = new CountdownEvent(Threads);
        var resume = new ManualResetEventSlim(false);
        int stop = 0;
        long compared = 0;

        // A shared read-only subgraph, rooted globally, read by every thread.
        GcRoot shared;
        MirroredGraph? sharedModel;
        long sharedNodes;
        using (var setup = heap.AttachCurrentThread("setup"))
        {
            sharedModel = new MirroredGraph(setup, types, seed: 99, owner: 100);
            sharedModel.Grow(4, 300);
            sharedNodes = sharedModel.Compare("shared setup");
            using var s = setup.OpenScope();
            var holder = setup.AllocateArray(heap.Types.ReferenceArray, 1);
            shared = setup.CreateRoot(holder);
        }

        var threads = Enumerable.Range(0, Threads).Select(i => TestHeaps.StartMutator(heap, $"mutator-{i}", m =>
        {
            using var graph = new MirroredGraph(m, types, seed: 1000 + i, owner: i + 1);
            graph.Grow(8, 150);
            ready.Signal();
            int lastCompared = -1;
            while (Volatile.Read(ref stop) == 0)
            {
                for (int k = 0; k < 50; k++)
                {
                    graph.Step();
                }

                // Between collections, compare once per collection with the model.
                int done = (int)heap.CollectionCount;
                if (done != lastCompared)
                {
                    Interlocked.Add(ref compared, graph.Compare($"on {m.Name} after collection {done}"));
                    lastCompared = done;
                }
            }

            paused.Signal();
            using (m.EnterSafeRegion())
            {
                resume.Wait();
            }

            Interlocked.Add(ref compared, graph.Compare($"on {m.Name} at the end"));
        }, errors)).ToList();

        Assert.True(ready.Wait(TimeSpan.FromSeconds(60)), "mutators did not start");
        for (int c = 0; c < Cycles && errors.Count == 0; c++)
        {
            // The heap must also be consistent between collections, with mutators mid-work.
            var r = heap.Verify();
            Assert.True(r.IsValid, $"before collection {c}: {r}");

            var st = heap.Collect();
            Assert.True(st.Verified);
        }

        Volatile.Write(ref stop, 1);
        Assert.True(paused.Wait(TimeSpan.FromSeconds(60)), "mutators did not stop");
        heap.Collect();
        resume.Set();
        TestHeaps.JoinAll(threads, TimeSpan.FromSeconds(120));
        TestHeaps.ThrowFirst(errors);

        using (var check = heap.AttachCurrentThread("check"))
        {
            sharedModel.Rebind(check);
            Assert.Equal(sharedNodes, sharedModel.Compare("shared at the end"));
            sharedModel.Dispose();
        }

        shared.Dispose();
        var report = heap.Verify();
        Assert.True(report.IsValid, report.ToString());
        Assert.True(compared > 0);

        var history = heap.History;
        Assert.True(history.Count >= Cycles);
        if (backend != GcBackend.StopTheWorld)
        {
            // Faults really went through the native collector thread (the verifier's walk of
            // to-space in the flip pause and the mutators'), and some hit pages it had not built
            // yet (served out of order, on demand).
            Assert.True(history.Sum(s => s.FaultsServed) > 0, "no fault was served");
            Assert.True(history.Sum(s => s.FaultsOnPending) > 0, "no fault hit an unbuilt page");
            Assert.True(history.Max(s => s.FaultStallSamples) > 0);
            Assert.All(history, s => Assert.Equal(0, s.Eexist));
        }

        if (backend == GcBackend.Move)
        {
            // The path each fault took: fault-around moves whole windows (MinMovePages = 1 in
            // tests, and no fork: nothing is copied but the nursery's black pages, whose frames
            // stay); without it the page goes in by COPY.
            long faultCopied = history.Sum(s => s.PagesFaultCopied);
            if (faultAround > 1)
            {
                Assert.Equal(0, faultCopied);
                Assert.Equal(history.Sum(s => s.PagesNurseryCopied), history.Sum(s => s.PagesCopied));
                Assert.Equal(history.Sum(s => s.PagesInstalled), history.Sum(s => s.PagesMoved) + history.Sum(s => s.PagesNurseryCopied));
            }
            else
            {
                Assert.Equal(history.Sum(s => s.FaultsOnPending), faultCopied);
                Assert.True(faultCopied > 0);
            }
        }

        if (backend == GcBackend.Continue)
        {
            // Every page, faulted or swept, went in by UFFDIO_CONTINUE from the collector view;
            // faults were minor (page in the page cache) or missing (a hole), never anything else.
            Assert.Equal(history.Sum(s => s.PagesInstalled), history.Sum(s => s.PagesContinued));
            Assert.Equal(0, history.Sum(s => s.PagesMoved + s.PagesCopied));
            Assert.True(history.Sum(s => s.ContinueIoctls) > 0);
            Assert.InRange(history.Sum(s => s.FaultsMinor), 0, history.Sum(s => s.FaultsServed));
        }
    }

    [Theory]
    [MemberData(nameof(TestHeaps.ConcurrentBackends), MemberType = typeof(TestHeaps))]
    public void ObjectsAllocatedDuringCompactionAreNeitherLostNorMoved(GcBackend backend)
    {
        // The background sweep crawls (200 ms per page) so that compaction lasts while this thread
        // works, however loaded the machine; faults are still served at once.
        // Verification across the flip is off here: it walks the whole graph in to-space inside
        // the flip pause, which would fault every page in before this thread could.
        using var heap = TestHeaps.Create(backend, configure: o =>
        {
            o.SweepDelayMicros = 200_000;
            o.VerifyHeap = false;
        });
        var types = new ModelTypes(heap);
        var errors = new List<Exception>();
        using var m = heap.AttachCurrentThread();
        using var graph = new MirroredGraph(m, types, seed: 5, largeObjects: false);
        graph.Grow(16, 400);

        // Collect on another thread while this thread allocates new rooted objects; their
        // addresses must stay put once the flip is over (to-space objects never move again).
        var done = new ManualResetEventSlim();
        CollectionStats? stats = null;
        var collector = new Thread(() =>
        {
            try
            {
                stats = heap.Collect();
            }
            catch (Exception e)
            {
                lock (errors)
                {
                    errors.Add(e);
                }
            }
            finally
            {
                done.Set();
            }
        });
        collector.Start();

        Assert.True(SpinWait.SpinUntil(() => { m.Safepoint(); return heap.Phase == CollectionPhase.Compacting || done.IsSet; }, TimeSpan.FromSeconds(30)));

        // Allocate while the (crawling) compactor runs: the objects land in to-space, above the
        // pages it fills, and are never moved; record where each one is.
        var roots = new List<(GcRoot Root, long Id, nint Address)>();
        for (long id = 1; id <= 1000; id++)
        {
            using var s = m.OpenScope();
            var n = m.Allocate(types.Node);
            m.Set(n, types.Id, id);
            m.Set(n, types.Value, -id);
            roots.Add((m.CreateRoot(n), id, m.AddressOf(n)));
        }

        Assert.Equal(CollectionPhase.Compacting, heap.Phase); // really allocated during compaction
        graph.Compare("while compacting"); // touches every old live object: faults on pages not there yet
        for (int k = 0; k < 200 && !done.IsSet; k++)
        {
            graph.Step();
        }

        using (m.EnterSafeRegion())
        {
            collector.Join();
        }

        TestHeaps.ThrowFirst(errors);
        Assert.NotNull(stats);
        graph.Compare("after the concurrent collection");
        using (m.OpenScope())
        {
            foreach (var (root, rid, address) in roots)
            {
                Assert.Equal(rid, m.Get(root.Ref, types.Id));
                Assert.Equal(-rid, m.Get(root.Ref, types.Value));
                Assert.Equal(address, m.AddressOf(root.Ref)); // not moved under the mutator's feet
            }
        }

        Assert.True(heap.Verify().IsValid);
        Assert.True(stats!.FaultsServed > 0, "the mutator never faulted during compaction");
        foreach (var (root, _, _) in roots)
        {
            root.Dispose();
        }
    }
}
