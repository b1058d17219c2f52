namespace GcHeap.Tests;

/// <summary>
/// Weak references and stable object ids. Weak references are model-checked: a .NET copy of the
/// graph says which objects are reachable before each collection, and after it every weak
/// reference must be alive exactly when its target was reachable (no collection here runs with
/// mutation during marking, so there is no floating garbage to excuse a late clear). Ids must
/// survive every move unchanged and never repeat.
/// </summary>
public class WeakAndIdentityTests
{
    private sealed record Node(GcType Type, GcRefField Car, GcRefField Cdr, GcField<long> Value);

    private static Node Define(Heap heap)
    {
        var t = heap.Types.DefineObject("Node", b => b.Reference("car").Reference("cdr").Value<long>("value"));
        return new Node(t, t.RefField("car"), t.RefField("cdr"), t.Field<long>("value"));
    }

    /// <summary>The .NET model: edges per object, root slots; reachability by a plain search.</summary>
    private sealed class Model
    {
        public readonly List<int> Car = [], Cdr = [];
        public readonly int[] Roots;

        public Model(int rootCount) => Roots = Enumerable.Repeat(-1, rootCount).ToArray();

        public bool[] Reachable()
        {
            var seen = new bool[Car.Count];
            var stack = new Stack<int>(Roots.Where(r => r >= 0));
            while (stack.Count > 0)
            {
                int i = stack.Pop();
                if (seen[i])
                {
                    continue;
                }

                seen[i] = true;
                if (Car[i] >= 0)
                {
                    stack.Push(Car[i]);
                }

                if (Cdr[i] >= 0)
                {
                    stack.Push(Cdr[i]);
                }
            }

            return seen;
        }
    }

    [Theory]
    [MemberData(nameof(TestHeaps.AllBackends), MemberType = typeof(TestHeaps))]
    public void WeakReferencesAreClearedExactlyWhenTheirTargetsDie(GcBackend backend)
    {
        const int Rounds = 40, RootCount = 16;
        using var heap = TestHeaps.Create(backend);
        var n = Define(heap);
        var arrayType = heap.Types.DefineReferenceArray("Roots");
        using var m = heap.AttachCurrentThread();
        using var roots = m.CreateRoot(m.AllocateArray(arrayType, RootCount));
        var model = new Model(RootCount);
        var weak = new List<GcWeakRef>();
        var rng = new Random(1234 + (int)backend);
        long clearedSeen = 0;

        GcRef Handle(int i) => weak[i].Get(m); // the weak reference is also how the test reaches an object

        for (int round = 0; round < Rounds; round++)
        {
            using (m.OpenScope())
            {
                // New objects, each linked from a root or a live object so some survive.
                var live = model.Reachable();
                for (int k = 0; k < 40; k++)
                {
                    int id = model.Car.Count;
                    var obj = m.Allocate(n.Type);
                    m.Set(obj, n.Value, id);
                    model.Car.Add(-1);
                    model.Cdr.Add(-1);
                    weak.Add(m.CreateWeak(obj));
                    int r = rng.Next(RootCount);
                    if (rng.Next(3) == 0)
                    {
                        m.SetElement(roots.Ref, r, obj);
                        model.Roots[r] = id;
                    }
                    else if (Enumerable.Range(0, live.Length).Where(i => live[i]).ToArray() is { Length: > 0 } alive)
                    {
                        int parent = alive[rng.Next(alive.Length)];
                        m.SetRef(Handle(parent), rng.Next(2) == 0 ? n.Car : n.Cdr, obj);
                        if (m.IsSameObject(m.GetRef(Handle(parent), n.Car), obj))
                        {
                            model.Car[parent] = id;
                        }
                        else
                        {
                            model.Cdr[parent] = id;
                        }
                    }
                }

                // Rewire: drop roots, re-point fields among reachable objects.
                live = model.Reachable();
                var reachable = Enumerable.Range(0, model.Car.Count).Where(i => live[i]).ToArray();
                for (int k = 0; k < 30 && reachable.Length > 0; k++)
                {
                    int a = reachable[rng.Next(reachable.Length)];
                    int b = rng.Next(4) == 0 ? -1 : reachable[rng.Next(reachable.Length)];
                    var hb = b < 0 ? GcRef.Null : Handle(b);
                    switch (rng.Next(3))
                    {
                        case 0:
                            m.SetRef(Handle(a), n.Car, hb);
                            model.Car[a] = b;
                            break;
                        case 1:
                            m.SetRef(Handle(a), n.Cdr, hb);
                            model.Cdr[a] = b;
                            break;
                        default:
                            int r = rng.Next(RootCount);
                            m.SetElement(roots.Ref, r, hb);
                            model.Roots[r] = b;
                            break;
                    }
                }
            }

            var expected = model.Reachable();
            var stats = heap.Collect();
            clearedSeen += stats.WeakReferencesCleared;

            using (m.OpenScope())
            {
                for (int i = 0; i < model.Car.Count; i++)
                {
                    var h = weak[i].Get(m);
                    Assert.True(expected[i] == !h.IsNull, $"round {round}: object {i} reachable={expected[i]} but its weak reference is {(h.IsNull ? "cleared" : "alive")}");
                    if (!h.IsNull)
                    {
                        Assert.Equal(i, m.Get(h, n.Value));
                        AssertPointsTo(m, n, h, n.Car, model.Car[i]);
                        AssertPointsTo(m, n, h, n.Cdr, model.Cdr[i]);
                    }
                }
            }
        }

        int dead = model.Reachable().Count(r => !r);
        Assert.Equal(dead, clearedSeen); // each dead object's weak reference cleared exactly once
        Assert.True(dead > 100, $"the model must kill objects ({dead})");
        foreach (var w in weak)
        {
            w.Dispose();
        }
    }

    private static void AssertPointsTo(Mutator m, Node n, GcRef obj, GcRefField field, int expected)
    {
        var v = m.GetRef(obj, field);
        Assert.Equal(expected, v.IsNull ? -1 : (int)m.Get(v, n.Value));
    }

    [Theory]
    [MemberData(nameof(TestHeaps.ConcurrentBackends), MemberType = typeof(TestHeaps))]
    public void AWeakTargetFetchedDuringConcurrentMarkingAndStoredInAScannedObjectSurvives(GcBackend backend)
    {
        Assert.Null(RunWeakFetchRace(backend, disableBarrier: false, out bool survived));
        Assert.True(survived);
    }

    [Theory]
    [MemberData(nameof(TestHeaps.ConcurrentBackends), MemberType = typeof(TestHeaps))]
    public void WithoutTheBarrierTheSameRaceLosesTheObject(GcBackend backend)
    {
        // Negative control: proves the race above is real, so the positive test can fail.
        var error = RunWeakFetchRace(backend, disableBarrier: true, out _);
        Assert.IsType<GcCollectionFailedException>(error);
    }

    private static Exception? RunWeakFetchRace(GcBackend backend, bool disableBarrier, out bool survived)
    {
        using var heap = TestHeaps.Create(backend, configure: o => o.ConcurrentMarking = true);
        heap.Collector.TestHooks.DisableWriteBarrier = disableBarrier;
        var n = Define(heap);
        using var m = heap.AttachCurrentThread();
        GcRoot root;
        GcWeakRef weak;
        using (m.OpenScope())
        {
            root = m.CreateRoot(m.Allocate(n.Type));
            var x = m.Allocate(n.Type);
            m.Set(x, n.Value, 42);
            weak = m.CreateWeak(x); // X is only weakly reachable when marking starts
        }

        var error = ConcurrentMarkingTests.CollectWithRace(heap, m, () =>
        {
            using var s = m.OpenScope(); // closed before marking resumes: no local keeps X alive
            var x = weak.Get(m);
            Assert.False(x.IsNull);
            m.SetRef(root.Ref, n.Car, x); // the root object was already scanned
        });

        survived = false;
        if (error is null)
        {
            using var s = m.OpenScope();
            var x = m.GetRef(root.Ref, n.Car);
            survived = !x.IsNull && m.Get(x, n.Value) == 42 && weak.IsAlive(m);
            Assert.True(heap.LastCollection!.ConcurrentMarking);
        }

        return error;
    }

    [Theory]
    [MemberData(nameof(TestHeaps.AllBackends), MemberType = typeof(TestHeaps))]
    public void ObjectIdsAreStableAcrossAThousandCompactingCyclesAndNeverReused(GcBackend backend)
    {
        const int Cycles = 1000;
        using var heap = TestHeaps.Create(backend, 16 << 20, o => o.VerifyHeap = false);
        var n = Define(heap);
        var arrayType = heap.Types.DefineReferenceArray("Keep");
        using var m = heap.AttachCurrentThread();
        using var keep = m.CreateRoot(m.AllocateArray(arrayType, 64));
        var ids = new GcObjectId[64];
        var everGiven = new HashSet<long>();
        var rng = new Random(7);
        long moved = 0;

        for (int i = 0; i < 64; i++)
        {
            using var s = m.OpenScope();
            var o = m.Allocate(n.Type);
            m.SetElement(keep.Ref, i, o);
            ids[i] = m.GetObjectId(o);
            Assert.True(everGiven.Add(ids[i].Value));
        }

        for (int c = 0; c < Cycles; c++)
        {
            using (m.OpenScope())
            {
                // Replace one kept object (its id dies with it), give ids to garbage too.
                int r = rng.Next(64);
                var o = m.Allocate(n.Type);
                m.SetElement(keep.Ref, r, o);
                ids[r] = m.GetObjectId(o);
                Assert.True(everGiven.Add(ids[r].Value), "an id was given twice");
                var garbage = m.Allocate(n.Type);
                Assert.True(everGiven.Add(m.GetObjectId(garbage).Value));
                Assert.False(m.TryGetObjectId(m.Allocate(n.Type), out _));
            }

            var stats = heap.Collect();
            Assert.Equal(64, stats.ObjectIdsKept);
            moved += stats.ObjectIdsKept;

            if (c % 97 == 0 || c == Cycles - 1)
            {
                using var s = m.OpenScope();
                for (int i = 0; i < 64; i++)
                {
                    var o = m.GetElement(keep.Ref, i);
                    Assert.Equal(ids[i], m.GetObjectId(o));
                    Assert.Equal(ids[i].GetHashCode(), m.IdentityHash(o));
                    Assert.True(m.TryGetObjectId(o, out var found) && found == ids[i]);
                }
            }
        }

        Assert.Equal(64L * Cycles, moved);
        Assert.Equal(64, heap.Identity.Count); // the dead ones' entries were dropped
        Assert.Equal(GcObjectId.None, m.GetObjectId(GcRef.Null));
        Assert.Equal(0, m.IdentityHash(GcRef.Null));
    }

    [Theory]
    [MemberData(nameof(TestHeaps.ConcurrentBackends), MemberType = typeof(TestHeaps))]
    public void IdsAndWeakReferencesHoldWhileAnotherThreadUsesThemThroughConcurrentCycles(GcBackend backend)
    {
        using var heap = TestHeaps.Create(backend);
        var n = Define(heap);
        var arrayType = heap.Types.DefineReferenceArray("Keep");
        var errors = new List<Exception>();
        using var ready = new ManualResetEventSlim();
        int stop = 0;
        long checks = 0;
        var worker = TestHeaps.StartMutator(heap, "ids", m =>
        {
            using var keep = m.CreateRoot(m.AllocateArray(arrayType, 256));
            var ids = new GcObjectId[256];
            var weak = new GcWeakRef[256];
            for (int i = 0; i < 256; i++)
            {
                using var s = m.OpenScope();
                var o = m.Allocate(n.Type);
                m.Set(o, n.Value, i);
                m.SetElement(keep.Ref, i, o);
                ids[i] = m.GetObjectId(o);
                weak[i] = m.CreateWeak(o);
            }

            ready.Set();
            while (Volatile.Read(ref stop) == 0)
            {
                for (int i = 0; i < 256; i++)
                {
                    using var s = m.OpenScope();
                    var o = weak[i].Get(m);
                    Assert.False(o.IsNull);
                    Assert.Equal(i, m.Get(o, n.Value));
                    Assert.Equal(ids[i], m.GetObjectId(o));
                    Assert.True(m.IsSameObject(o, m.GetElement(keep.Ref, i)));
                    m.Allocate(n.Type); // garbage, so cycles have work
                    Interlocked.Increment(ref checks);
                }
            }
        }, errors);

        Assert.True(ready.Wait(TimeSpan.FromSeconds(30)));
        for (int c = 0; c < 40; c++)
        {
            heap.Collect();
        }

        Volatile.Write(ref stop, 1);
        TestHeaps.JoinAll([worker], TimeSpan.FromSeconds(60));
        TestHeaps.ThrowFirst(errors);
        Assert.True(Interlocked.Read(ref checks) > 256);
        Assert.All(heap.History, s => Assert.True(s.Verified));
    }

    [Fact]
    public void MisuseOfWeakReferencesGetsSpecificExceptions()
    {
        using var heap = TestHeaps.Create(GcBackend.StopTheWorld, configure: o => o.MaxWeakReferences = 4);
        using var other = TestHeaps.Create(GcBackend.StopTheWorld);
        var n = Define(heap);
        using var m = heap.AttachCurrentThread();
        var x = m.Allocate(n.Type);
        var w = m.CreateWeak(x);
        Assert.True(w.TryGet(m, out var got) && m.IsSameObject(got, x));

        var weaks = new[] { m.CreateWeak(x), m.CreateWeak(GcRef.Null), m.CreateWeak(x) };
        var limit = Assert.Throws<GcHandleLimitException>(() => m.CreateWeak(x));
        Assert.Equal(4, limit.Limit);
        weaks[0].Dispose();
        using var again = m.CreateWeak(x); // the slot is reused
        Assert.True(weaks[1].Get(m).IsNull);
        weaks[1].Set(m, x);
        Assert.True(weaks[1].IsAlive(m));

        w.Dispose();
        w.Dispose(); // idempotent
        Assert.True(w.IsDisposed);
        Assert.Equal(GcHandleProblem.Stale, Assert.Throws<GcInvalidHandleException>(() => w.Get(m)).Problem);
        Assert.Throws<ArgumentNullException>(() => weaks[2].Get(null!));

        var t = other.Types.DefineObject("T", b => b.Value<long>("v"));
        var otherThread = new Thread(() =>
        {
            using var om = other.AttachCurrentThread();
            var ex = Assert.Throws<GcInvalidHandleException>(() => weaks[2].Get(om));
            Assert.Equal(GcHandleProblem.Foreign, ex.Problem);
            var foreign = om.Allocate(t);
            Assert.Throws<GcInvalidHandleException>(() => om.GetObjectId(x)); // a handle of another heap
            Assert.NotEqual(GcObjectId.None, om.GetObjectId(foreign));
        });
        otherThread.Start();
        otherThread.Join();

        Assert.Throws<ArgumentOutOfRangeException>(() => new Heap(new HeapOptions { Backend = GcBackend.StopTheWorld, MaxWeakReferences = 0 }));
        m.Dispose();
        heap.Dispose();
        weaks[2].Dispose(); // after the heap: a no-op
    }

    [Fact]
    public void WeakReferencesAndIdsSurviveTheHeapFillingUp()
    {
        // Collections triggered by allocation (HeapFull) clear and forward weak references too.
        using var heap = TestHeaps.Create(GcBackend.Move, 4 << 20, o => o.VerifyHeap = false);
        var n = Define(heap);
        using var m = heap.AttachCurrentThread();
        using var keep = m.CreateRoot(m.Allocate(n.Type));
        m.Set(keep.Ref, n.Value, 99);
        var id = m.GetObjectId(keep.Ref);
        using var strong = m.CreateWeak(keep.Ref);
        GcWeakRef garbageRef;
        using (m.OpenScope())
        {
            garbageRef = m.CreateWeak(m.Allocate(n.Type));
        }

        for (int i = 0; i < 200_000; i++)
        {
            using var s = m.OpenScope();
            m.Allocate(n.Type);
        }

        Assert.True(heap.CollectionCount > 0);
        Assert.False(garbageRef.IsAlive(m));
        Assert.Equal(99, m.Get(strong.Get(m), n.Value));
        Assert.Equal(id, m.GetObjectId(keep.Ref));
        garbageRef.Dispose();
    }
}
