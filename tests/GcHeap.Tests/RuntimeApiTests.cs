namespace GcHeap.Tests;

/// <summary>
/// What a language runtime needs beyond single field access: walking long lists and deep
/// recursion without raising a limit, a specific exception when a limit is reached, re-pointable
/// roots, null-tolerant type tests, several values escaping a scope, allocation with initial
/// references, and bulk operations on arrays that equal their element-by-element versions and
/// keep the snapshot barrier's promise.
/// </summary>
public class RuntimeApiTests
{
    private static (GcType Pair, GcRefField Car, GcRefField Cdr, GcField<long> Value) DefinePair(Heap heap)
    {
        var pair = heap.Types.DefineObject("Pair", b => b.Reference("car").Reference("cdr").Value<long>("value"));
        return (pair, pair.RefField("car"), pair.RefField("cdr"), pair.Field<long>("value"));
    }

    [Theory]
    [MemberData(nameof(TestHeaps.AllBackends), MemberType = typeof(TestHeaps))]
    public void AHundredThousandElementListIsBuiltAndWalkedWithoutRaisingALimit(GcBackend backend)
    {
        const int N = 100_000;
        using var heap = TestHeaps.Create(backend, configure: o => o.HandlesPerSegmentLog2 = 18); // the default limit
        var (pair, _, cdr, value) = DefinePair(heap);
        using var m = heap.AttachCurrentThread();
        using var list = m.CreateRoot(m.Allocate(pair)); // one local handle stays outside any scope

        // Build with the handle API: one scope per step, the list head re-pointed in a root.
        m.Set(list.Ref, value, 0);
        for (int i = 1; i < N; i++)
        {
            using var s = m.OpenScope();
            list.Set(m, m.Allocate(pair, GcRef.Null, list.Ref));
            m.Set(list.Ref, value, i);
        }

        heap.Collect();

        // Walk with views (no handle at all) and with a handle re-pointed as a cursor.
        long sum = 0;
        int n = 0;
        for (var v = m.GetContext().View(list.Ref); !v.IsNull; v = v.GetRef(cdr))
        {
            sum += v.Get(value);
            n++;
        }

        Assert.Equal(N, n);
        Assert.Equal((long)N * (N - 1) / 2, sum);

        using var scope = m.OpenScope();
        var cursor = m.Duplicate(list.Ref);
        long sum2 = 0;
        while (!cursor.IsNull)
        {
            sum2 += m.Get(cursor, value);
            var ctx = m.GetContext();
            var next = ctx.View(cursor).GetRef(cdr);
            if (next.IsNull)
            {
                break;
            }

            ctx.Set(cursor, next);
        }

        Assert.Equal(sum, sum2);
        Assert.Equal(2, m.LocalHandleCount); // the first node's handle and the cursor: the walk created none
    }

    [Fact]
    public void A30000DeepRecursionHoldingHandlesFitsTheDefaultLimit()
    {
        using var heap = TestHeaps.Create(GcBackend.Move, configure: o => o.HandlesPerSegmentLog2 = 18);
        var (pair, car, _, value) = DefinePair(heap);
        using var m = heap.AttachCurrentThread();

        long Recurse(int depth, GcRef parent)
        {
            if (depth == 0)
            {
                return 0;
            }

            var node = m.Allocate(pair, parent);           // three handles per level, no scope
            var again = m.GetRef(node, car);
            m.Set(node, value, depth);
            return depth + Recurse(depth - 1, node) + (m.IsSameObject(again, parent) ? 0 : 1_000_000_000);
        }

        using var s = m.OpenScope();
        Assert.Equal(30_000L * 30_001 / 2, Recurse(30_000, GcRef.Null));
    }

    [Fact]
    public void TheLocalHandleLimitThrowsASpecificExceptionNamingTheCause()
    {
        using var heap = TestHeaps.Create(GcBackend.Copy, configure: o => o.HandlesPerSegmentLog2 = 10);
        var (pair, _, _, _) = DefinePair(heap);
        using var m = heap.AttachCurrentThread();
        using var outer = m.OpenScope();
        using var inner = m.OpenScope();
        var ex = Assert.Throws<GcHandleLimitException>(() =>
        {
            for (int i = 0; i < 2000; i++)
            {
                m.Allocate(pair);
            }
        });
        Assert.False(ex.Global);
        Assert.Equal(1024, ex.Limit);
        Assert.Equal(2, ex.OpenScopes);
        Assert.Contains("HandlesPerSegmentLog2", ex.Message);
        Assert.IsAssignableFrom<GcHeapException>(ex);

        // Closing the scopes gives the handles back: the heap is fine.
        inner.Dispose();
        outer.Dispose();
        using (m.OpenScope())
        {
            m.Allocate(pair);
        }

        Assert.True(heap.Collect().Verified);
    }

    [Theory]
    [MemberData(nameof(TestHeaps.AllBackends), MemberType = typeof(TestHeaps))]
    public void ARootIsRepointedAndTheCollectorFollowsTheNewTarget(GcBackend backend)
    {
        using var heap = TestHeaps.Create(backend);
        var (pair, _, _, value) = DefinePair(heap);
        using var m = heap.AttachCurrentThread();
        GcRoot root;
        using (m.OpenScope())
        {
            var a = m.Allocate(pair);
            m.Set(a, value, 1);
            root = m.CreateRoot(a);
        }

        for (int i = 2; i <= 20; i++)
        {
            using (m.OpenScope())
            {
                var b = m.Allocate(pair);
                m.Set(b, value, i);
                if (i % 2 == 0)
                {
                    root.Set(m, b);
                }
                else
                {
                    m.GetContext().Set(root.Ref, m.GetContext().View(b)); // the fast path re-points a global too
                }
            }

            var st = heap.Collect();
            Assert.True(st.Verified);
            Assert.Equal(i, m.Get(root.Ref, value));
            Assert.Equal(1, heap.Verify().ReachableObjects); // the old targets died
        }

        root.Set(m, GcRef.Null);
        Assert.Equal(0, heap.Verify().ReachableObjects);
        root.Dispose();
        Assert.Equal(GcHandleProblem.Stale, Assert.Throws<GcInvalidHandleException>(() => root.Set(m, GcRef.Null)).Problem);
        Assert.Throws<ArgumentNullException>(() => root.Set(null!, GcRef.Null));
    }

    [Fact]
    public void TypeTestsAreNullTolerantAndSeveralValuesEscapeAScope()
    {
        using var heap = TestHeaps.Create(GcBackend.StopTheWorld);
        var (pair, car, cdr, value) = DefinePair(heap);
        var other = heap.Types.DefineObject("Other", b => b.Value<int>("x"));
        using var m = heap.AttachCurrentThread();
        Assert.False(m.Is(GcRef.Null, pair));

        GcRef expr, env;
        int before = m.LocalHandleCount;
        using (var s = m.OpenScope())
        {
            var e = m.Allocate(pair);
            m.Set(e, value, 7);
            var v = m.Allocate(other);
            m.Allocate(pair); // garbage in the scope
            (expr, env) = s.Escape(e, v);
        }

        Assert.Equal(before + 2, m.LocalHandleCount);
        Assert.True(m.Is(expr, pair));
        Assert.False(m.Is(expr, other));
        Assert.True(m.Is(env, other));
        Assert.Equal(7, m.Get(expr, value));

        Span<GcRef> many = stackalloc GcRef[20];
        using (var s = m.OpenScope())
        {
            for (int i = 0; i < many.Length; i++)
            {
                many[i] = i % 3 == 0 ? GcRef.Null : m.Allocate(pair, expr, env);
            }

            s.Escape(many);
        }

        for (int i = 0; i < many.Length; i++)
        {
            Assert.Equal(i % 3 == 0, many[i].IsNull);
            if (!many[i].IsNull)
            {
                Assert.True(m.IsSameObject(m.GetRef(many[i], car), expr));
                Assert.True(m.IsSameObject(m.GetRef(many[i], cdr), env));
            }
        }

        Assert.Throws<ArgumentException>(() => m.Allocate(other, expr));
        Assert.Throws<ArgumentException>(() => m.Allocate(pair, expr, env, expr));
        Assert.True(heap.Collect().Verified);
    }

    [Theory]
    [MemberData(nameof(TestHeaps.AllBackends), MemberType = typeof(TestHeaps))]
    public void BulkOperationsEqualElementByElementOnes(GcBackend backend)
    {
        using var heap = TestHeaps.Create(backend);
        var (pair, _, _, value) = DefinePair(heap);
        var longs = heap.Types.DefineDataArray<long>("long[]");
        using var m = heap.AttachCurrentThread();
        var rnd = new Random(5);
        using var scope = m.OpenScope();
        const int N = 300;
        var objs = Enumerable.Range(0, 40).Select(i => { var p = m.Allocate(pair); m.Set(p, value, i); return p; }).ToArray();
        var a = m.AllocateArray(heap.Types.ReferenceArray, N);
        var b = m.AllocateArray(heap.Types.ReferenceArray, N);
        var la = m.AllocateArray(longs, N);
        var lb = m.AllocateArray(longs, N);
        var ma = new GcRef[N];
        var mb = new GcRef[N];
        var mla = new long[N];
        var mlb = new long[N];
        for (int i = 0; i < N; i++)
        {
            ma[i] = objs[rnd.Next(objs.Length)];
            m.SetElement(a, i, ma[i]);
            mla[i] = rnd.NextInt64();
            m.SetItem(la, i, mla[i]);
        }

        for (int round = 0; round < 200; round++)
        {
            bool sameArray = rnd.Next(4) == 0;
            int count = rnd.Next(0, 60);
            int si = rnd.Next(N - count + 1), di = rnd.Next(N - count + 1);
            switch (rnd.Next(4))
            {
                case 0:
                    m.CopyElements(a, si, sameArray ? a : b, di, count);
                    Array.Copy(ma, si, sameArray ? ma : mb, di, count);
                    m.CopyItems<long>(la, si, sameArray ? la : lb, di, count);
                    Array.Copy(mla, si, sameArray ? mla : mlb, di, count);
                    break;
                case 1:
                    m.CopyElements(b, si, a, di, count);
                    Array.Copy(mb, si, ma, di, count);
                    m.CopyItems<long>(lb, si, la, di, count);
                    Array.Copy(mlb, si, mla, di, count);
                    break;
                case 2:
                    var v = rnd.Next(3) == 0 ? GcRef.Null : objs[rnd.Next(objs.Length)];
                    m.FillElements(b, si, count, v);
                    Array.Fill(mb, v, si, count);
                    long x = rnd.NextInt64();
                    m.FillItems(lb, si, count, x);
                    Array.Fill(mlb, x, si, count);
                    break;
                default:
                    Assert.Equal(
                        Enumerable.Range(0, count).All(k => SameObject(m, ma[si + k], mb[di + k])),
                        m.ElementsEqual(a, si, b, di, count));
                    Assert.Equal(mla.AsSpan(si, count).SequenceEqual(mlb.AsSpan(di, count)), m.ItemsEqual<long>(la, si, lb, di, count));
                    break;
            }

            if (round % 50 == 49)
            {
                Assert.True(heap.Collect().Verified);
            }

            for (int i = 0; i < N; i++)
            {
                Assert.True(SameObject(m, ma[i], m.GetElement(a, i)));
                Assert.True(SameObject(m, mb[i], m.GetElement(b, i)));
                Assert.Equal(mla[i], m.GetItem<long>(la, i));
                Assert.Equal(mlb[i], m.GetItem<long>(lb, i));
            }
        }

        Assert.True(m.ElementsEqual(a, 0, a, 0, N));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.CopyElements(a, N - 5, b, 0, 6));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.FillItems(la, 0, -1, 0L));
        Assert.Throws<GcFieldAccessException>(() => m.CopyElements(la, 0, a, 0, 1));
        Assert.Throws<GcFieldAccessException>(() => m.CopyItems<int>(la, 0, lb, 0, 1));
    }

    [Fact]
    public void ABulkMoveOfTheOnlyReferenceDuringMarkingLosesNothing()
    {
        // The lost-object race of ConcurrentMarkingTests, with arrays and bulk operations: B is
        // scanned, then the only reference to X moves from A to B by CopyElements + FillElements,
        // then A is scanned. The range barrier must log X.
        using var heap = TestHeaps.Create(GcBackend.Move);
        var (pair, _, _, value) = DefinePair(heap);
        using var m = heap.AttachCurrentThread();
        GcRoot rootA, rootB;
        using (m.OpenScope())
        {
            var x = m.Allocate(pair);
            m.Set(x, value, 3);
            var a = m.AllocateArray(heap.Types.ReferenceArray, 4);
            m.SetElement(a, 2, x);
            var b = m.AllocateArray(heap.Types.ReferenceArray, 4);
            rootA = m.CreateRoot(a);
            rootB = m.CreateRoot(b);
        }

        var error = ConcurrentMarkingTests.CollectWithRace(heap, m, () =>
        {
            m.CopyElements(rootA.Ref, 0, rootB.Ref, 0, 4);
            m.FillElements(rootA.Ref, 0, 4, GcRef.Null);
        });
        Assert.Null(error);
        using var s = m.OpenScope();
        Assert.Equal(3, m.Get(m.GetElement(rootB.Ref, 2), value));
        Assert.True(heap.Verify().IsValid);
    }

    [Fact]
    public void StopTheWorldPauseStepsNameTheirWork()
    {
        using var heap = TestHeaps.Create(GcBackend.StopTheWorld);
        var (pair, _, _, _) = DefinePair(heap);
        using var m = heap.AttachCurrentThread();
        using var root = m.CreateRoot(m.Allocate(pair));
        var st = heap.Collect();
        var names = st.PauseSteps.Select(p => p.Step).ToList();
        foreach (var expected in new[] { "Full: mark", "Full: plan", "Full: forward roots and weak references", "Full: verify (VerifyHeap)" })
        {
            Assert.Contains(expected, names);
        }

        Assert.Contains(names, n => n.StartsWith("Full: build ", StringComparison.Ordinal));
        Assert.Contains(names, n => n.StartsWith("Full: retire allocation buffers", StringComparison.Ordinal));
    }

    [Theory]
    [MemberData(nameof(TestHeaps.AllBackends), MemberType = typeof(TestHeaps))]
    public void ATailCallLoopKeepsItsStateInTwoReusedHandlesAcrossCollections(GcBackend backend)
    {
        // 200,000 iterations, each allocating, with collections in between: the loop's two handles
        // are re-pointed, so the thread's handle count never grows.
        using var heap = TestHeaps.Create(backend, 16 << 20, o => { o.VerifyHeap = false; o.HandlesPerSegmentLog2 = 10; });
        var (pair, car, cdr, value) = DefinePair(heap);
        using var m = heap.AttachCurrentThread();
        GcRef expr = m.NewHandle(m.Allocate(pair)), env = m.NewHandle(GcRef.Null);
        int baseline = m.LocalHandleCount;
        long cycles = heap.CollectionCount;
        for (int i = 1; i <= 200_000; i++)
        {
            using var s = m.OpenScope();
            var next = m.Allocate(pair, expr, env); // the new expression refers to the old state
            m.Set(next, value, i);
            m.SetHandle(env, i % 3 == 0 ? GcRef.Null : expr);
            m.SetHandle(expr, next);
            m.SetRef(next, car, GcRef.Null); // keep only a short chain alive
            if (i % 50_000 == 0)
            {
                heap.Collect();
            }
        }

        Assert.Equal(baseline, m.LocalHandleCount); // with a 1,024-handle limit, 200,000 iterations
        Assert.True(heap.CollectionCount > cycles);
        Assert.Equal(200_000, m.Get(expr, value));
        Assert.Equal(199_999, m.Get(env, value));
        Assert.Equal(199_998, m.Get(m.GetRef(expr, cdr), value)); // the environment the last step saw

        // A handle re-pointed at null is a null-valued slot: accesses that need an object throw
        // the documented exception (never a NullReferenceException), tests answer false/null.
        m.SetHandle(expr, GcRef.Null);
        Assert.Equal(GcHandleProblem.Null, Assert.Throws<GcInvalidHandleException>(() => m.Get(expr, value)).Problem);
        Assert.Equal(GcHandleProblem.Null, Assert.Throws<GcInvalidHandleException>(() => m.GetRef(expr, car)).Problem);
        Assert.Equal(GcHandleProblem.Null, Assert.Throws<GcInvalidHandleException>(() => m.SetRef(expr, car, env)).Problem);
        Assert.Equal(GcHandleProblem.Null, Assert.Throws<GcInvalidHandleException>(() => m.TypeOf(expr)).Problem);
        Assert.Equal(GcHandleProblem.Null, Assert.Throws<GcInvalidHandleException>(() => m.GetLength(expr)).Problem);
        Assert.False(m.Is(expr, pair));
        Assert.True(m.IsSameObject(expr, GcRef.Null));
        Assert.True(m.GetContext().View(expr).IsNull);
        Assert.Equal(GcObjectId.None, m.GetObjectId(expr));
        m.SetRef(env, car, expr); // storing a null-valued slot stores null
        Assert.True(m.IsNullRef(env, car));
        Assert.Throws<GcInvalidHandleException>(() => m.SetHandle(GcRef.Null, env));
    }

    private static bool SameObject(Mutator m, GcRef x, GcRef y) => m.IsSameObject(x, y);
}
