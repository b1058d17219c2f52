using GcHeap.Model;

namespace GcHeap.Tests;

/// <summary>
/// Marking starts by handshakes, not a pause (<see cref="HeapOptions.MarkStartHandshake"/>): the
/// barrier goes on in every thread, then each thread greys its own handles at its next poll. The
/// race this needs the hybrid barrier for is staged with a real thread that has not greyed its
/// handles yet while the marker has already scanned an object: it stores its only reference to
/// O there and drops the handle before its poll.
/// </summary>
[Collection(SerialTests.Name)]
public class MarkStartHandshakeTests
{
    private sealed record Types(GcType N, GcRefField F, GcField<long> Id);

    private static Types Define(Heap heap)
    {
        var n = heap.Types.DefineObject("N", b => b.Reference("f").Value<long>("id"));
        return new Types(n, n.RefField("f"), n.Field<long>("id"));
    }

    /// <summary>
    /// Y is a global root, O only in a local handle of this thread. After the barrier round this
    /// thread does not poll: the collector greys the global roots and scans Y while the second
    /// round waits for this thread; then the thread stores O into Y.f (through a view: no poll)
    /// and clears its handle, and only then answers. Its handles no longer hold O, and Y was
    /// scanned before the store: only the barrier's shading of the stored value keeps O.
    /// </summary>
    private static Exception? StageStoreBeforeGreying(Heap heap, Types t, Mutator m, GcRoot rootY, GcRef o)
    {
        using var drained = new ManualResetEventSlim();
        heap.Collector.TestHooks.WhileMarkStartRootsWait = drained.Set;
        var ctx = m.GetContext();
        Exception? error = null;
        var collector = new Thread(() => error = Record.Exception(() => heap.Collect()));
        collector.Start();

        // Round 1 (barrier on): answer it at a poll.
        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref m.HandshakeState) != Mutator.HandshakeNone, TimeSpan.FromSeconds(30)), "no barrier round");
        m.Safepoint();

        // Round 2 asked of this thread, and the marker has scanned Y: store without polling.
        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref m.HandshakeState) != Mutator.HandshakeNone, TimeSpan.FromSeconds(30)), "no roots round");
        Assert.True(drained.Wait(TimeSpan.FromSeconds(30)), "the marker never drained while waiting");
        ctx = new GcContext(m); // no poll: the same thread's context
        var y = ctx.View(rootY.Ref);
        y.SetRef(t.F, ctx.View(o));
        ctx.Set(o, GcContext.Null);                     // the handle no longer holds O
        Assert.NotEqual(Mutator.HandshakeNone, Volatile.Read(ref m.HandshakeState)); // still not greyed
        m.Safepoint();                                   // answers round 2: greys its handles (not O) and publishes its log

        using (m.EnterSafeRegion())
        {
            collector.Join();
        }

        heap.Collector.TestHooks.WhileMarkStartRootsWait = null;
        return error;
    }

    [Theory]
    [MemberData(nameof(TestHeaps.ConcurrentBackends), MemberType = typeof(TestHeaps))]
    public void AStoreByAThreadNotYetGreyedIsShaded(GcBackend backend)
    {
        using var heap = TestHeaps.Create(backend);
        var t = Define(heap);
        using var m = heap.AttachCurrentThread();
        GcRoot rootY;
        using (m.OpenScope())
        {
            rootY = m.CreateRoot(m.Allocate(t.N));
        }

        using var scope = m.OpenScope();
        var o = m.Allocate(t.N);
        m.Set(o, t.Id, 5);

        var error = StageStoreBeforeGreying(heap, t, m, rootY, o);

        Assert.Null(error);
        var stats = heap.LastCollection!;
        Assert.True(stats.Verified);
        Assert.DoesNotContain(stats.Pauses, p => p.Kind == PauseKind.MarkStart);
        Assert.Equal(0, stats.Handshakes.Single(h => h.Kind == HandshakeKind.MarkStartRoots).DoneByCollector); // this thread greyed itself
        Assert.Equal(5, m.Get(m.GetRef(rootY.Ref, t.F), t.Id));
        Assert.Equal(2, stats.LiveObjects);
    }

    [Fact]
    public void WithoutShadingStoredValuesTheSameRaceLosesTheObject()
    {
        // Negative control: the old-value barrier alone (what a mark-start pause needs) is not
        // enough when threads grey their handles one at a time.
        using var heap = TestHeaps.Create(GcBackend.Move, configure: o => o.VerifyHeap = false);
        heap.Collector.TestHooks.DisableShadingNewValues = true;
        var t = Define(heap);
        using var m = heap.AttachCurrentThread();
        GcRoot rootY;
        using (m.OpenScope())
        {
            rootY = m.CreateRoot(m.Allocate(t.N));
        }

        using var scope = m.OpenScope();
        var o = m.Allocate(t.N);

        var error = StageStoreBeforeGreying(heap, t, m, rootY, o);

        var failure = Assert.IsType<GcCollectionFailedException>(error);
        Assert.Contains("not a live object", failure.Message);
    }

    [Theory]
    [MemberData(nameof(TestHeaps.ConcurrentBackends), MemberType = typeof(TestHeaps))]
    public void GraphsSurviveManyCyclesWithEveryPhaseAHandshake(GcBackend backend)
    {
        // Model-based: three threads mutate their graphs (fields, arrays, range copies and fills,
        // allocation with initial references, global roots, weak references), step into safe
        // regions now and then, while the main thread collects: every graph matches its model after
        // every collection, and the flip is each cycle's only pause.
        const int Cycles = 15;
        using var heap = TestHeaps.Create(backend);
        var types = new ModelTypes(heap);
        var errors = new List<Exception>();
        int stop = 0;
        long compared = 0;
        using var ready = new CountdownEvent(3);
        var threads = Enumerable.Range(0, 3).Select(i => TestHeaps.StartMutator(heap, $"m-{i}", m =>
        {
            using var graph = new MirroredGraph(m, types, seed: 500 + i, owner: i + 1);
            graph.Grow(6, 150);
            ready.Signal();
            var rng = new Random(i);
            long last = -1;
            while (Volatile.Read(ref stop) == 0)
            {
                for (int k = 0; k < 25; k++)
                {
                    graph.Step();
                }

                if (rng.Next(4) == 0)
                {
                    using (m.EnterSafeRegion())
                    {
                        Thread.Sleep(rng.Next(2));
                    }
                }

                long done = heap.CollectionCount;
                if (done != last)
                {
                    Interlocked.Add(ref compared, graph.Compare($"on {m.Name} after collection {done}"));
                    last = done;
                }
            }
        }, errors)).ToList();

        Assert.True(ready.Wait(TimeSpan.FromSeconds(60)), "mutators did not start");
        for (int c = 0; c < Cycles && errors.Count == 0; c++)
        {
            Assert.True(heap.Collect().Verified);
        }

        Volatile.Write(ref stop, 1);
        TestHeaps.JoinAll(threads, TimeSpan.FromSeconds(120));
        TestHeaps.ThrowFirst(errors);
        Assert.True(compared > 0);
        Assert.All(heap.History, s => Assert.Equal(new[] { PauseKind.Flip, PauseKind.Verify }, s.Pauses.Select(p => p.Kind)));
        // Who answered depends on the schedule (threads waiting for a full heap are in safe
        // regions, answered for by the collector); AStoreByAThreadNotYetGreyedIsShaded pins the
        // path where the thread answers itself.
        Assert.All(heap.History.SelectMany(s => s.Handshakes), h => Assert.Equal(0, h.Unanswered));
        Assert.True(heap.Verify().IsValid);
    }
}
