namespace GcHeap.Tests;

/// <summary>
/// The fast path (<see cref="GcContext"/>, <see cref="GcView"/>): views read and write what the
/// handle API reads and writes, die at every safepoint of their thread (and only a safepoint can
/// move objects), never reach memory after one, and keep the graph intact across concurrent
/// collections on every backend.
/// </summary>
public class FastPathTests
{
    private sealed class ListTypes
    {
        public ListTypes(Heap heap)
        {
            Node = heap.Types.DefineObject("Node", b => b.Reference("next").Value<long>("value").Bytes("tag", 12));
            Next = Node.RefField("next");
            Value = Node.Field<long>("value");
            Tag = Node.BytesField("tag");
            Longs = heap.Types.DefineDataArray<long>("long[]");
            Other = heap.Types.DefineObject("Other", b => b.Value<long>("x"));
            OtherX = Other.Field<long>("x");
        }

        public GcType Node { get; }

        public GcRefField Next { get; }

        public GcField<long> Value { get; }

        public GcBytesField Tag { get; }

        public GcType Longs { get; }

        public GcType Other { get; }

        public GcField<long> OtherX { get; }
    }

    [Fact]
    public void ViewsReadAndWriteWhatTheHandleApiSees()
    {
        using var heap = TestHeaps.Create(GcBackend.StopTheWorld);
        var t = new ListTypes(heap);
        using var m = heap.AttachCurrentThread();
        GcRef headHandle;
        {
            var ctx = m.GetContext();
            var tail = ctx.Allocate(t.Node);
            tail.Set(t.Value, 2);
            var head = ctx.Allocate(t.Node);
            head.Set(t.Value, 1);
            head.SetRef(t.Next, tail);
            head.WriteBytes(t.Tag, "hello"u8);
            Assert.True(head.Is(t.Node));
            Assert.False(head.Is(t.Other));
            Assert.False(GcContext.Null.Is(t.Node));
            Assert.Same(t.Node, head.Type);
            Assert.True(head.GetRef(t.Next).IsSameObject(tail));
            Assert.True(head.GetRef(t.Next).GetRef(t.Next).IsNull);
            Assert.False(head.IsNullRef(t.Next));
            headHandle = head.ToHandle();
        }

        // The handle API sees the same objects.
        Assert.Equal(1, m.Get(headHandle, t.Value));
        var second = m.GetRef(headHandle, t.Next);
        Assert.Equal(2, m.Get(second, t.Value));
        Span<byte> tag = stackalloc byte[12];
        m.ReadBytes(headHandle, t.Tag, tag);
        Assert.Equal("hello"u8.ToArray(), tag[..5].ToArray());

        // Arrays.
        var c = m.GetContext();
        var longs = c.AllocateArray(t.Longs, 10);
        var refs = c.AllocateArray(heap.Types.ReferenceArray, 3);
        for (int i = 0; i < 10; i++)
        {
            longs.SetItem(i, i * 10L);
        }

        refs.SetElement(1, c.View(headHandle));
        Assert.Equal(10, longs.Length);
        Assert.Equal(3, refs.Length);
        Assert.Equal(90, longs.GetItem<long>(9));
        Assert.Equal(1, refs.GetElement(1).Get(t.Value));
        Assert.True(refs.GetElement(0).IsNull);
        Span<long> buf = stackalloc long[3];
        longs.ReadItems(2, buf);
        Assert.Equal([20L, 30L, 40L], buf.ToArray());
        longs.WriteItems<long>(7, [1, 2, 3]);
        Assert.Equal(3, longs.GetItem<long>(9));
        var arrayHandle = refs.ToHandle();

        // A collection moves everything; handles still lead to the same graph.
        heap.Collect();
        var c2 = m.GetContext();
        var h = c2.View(arrayHandle).GetElement(1);
        Assert.Equal(1, h.Get(t.Value));
        Assert.Equal(2, h.GetRef(t.Next).Get(t.Value));
    }

    [Fact]
    public void AViewDiesAtEverySafepointOfItsThread()
    {
        using var heap = TestHeaps.Create(GcBackend.Move);
        var t = new ListTypes(heap);
        using var m = heap.AttachCurrentThread();

        var ctx = m.GetContext();
        var v = ctx.Allocate(t.Node);
        var keep = v.ToHandle(); // not a safepoint
        Assert.True(v.IsValid);
        ctx.Safepoint();
        AssertExpired(v, t);

        v = ctx.View(keep);
        _ = m.Get(keep, t.Value); // every Mutator call is a safepoint
        AssertExpired(v, t);

        v = ctx.View(keep);
        using (m.EnterSafeRegion())
        {
            AssertExpired(v, t);
        }

        // An allocation that refills the thread's one-page buffer is a safepoint: after a page's
        // worth of small objects, a view made before them is dead.
        v = ctx.View(keep);
        for (int i = 0; i < 4096 / 40 + 2; i++)
        {
            ctx.Allocate(t.Node);
        }

        AssertExpired(v, t);

        // A large object's pages too.
        v = ctx.View(keep);
        ctx.AllocateArray(t.Longs, 1000);
        AssertExpired(v, t);

        // The collection itself: views made before it are dead, the handle leads to the moved object.
        v = ctx.View(keep);
        v.Set(t.Value, 77);
        heap.Collect();
        AssertExpired(v, t);
        Assert.Equal(77, ctx.View(keep).Get(t.Value));
    }

    [Fact]
    public void StrictViewsMakeEveryAllocationASafepoint()
    {
        using var heap = TestHeaps.Create(GcBackend.Copy, configure: o => o.StrictViews = true);
        var t = new ListTypes(heap);
        using var m = heap.AttachCurrentThread();
        var ctx = m.GetContext();
        var a = ctx.Allocate(t.Node);
        var b = ctx.Allocate(t.Node); // same buffer, but strict: a is dead
        AssertExpired(a, t);
        Assert.True(b.IsValid);

        // The classic bug this catches: allocating while holding a view.
        var ex = Throws<GcInvalidHandleException>(ctx, c =>
        {
            var parent = c.Allocate(t.Node);
            parent.SetRef(t.Next, c.Allocate(t.Node));
        });
        Assert.Equal(GcHandleProblem.ViewExpired, ex.Problem);

        // Without strict mode, the same allocation inside the buffer keeps earlier views.
        using var lax = TestHeaps.Create(GcBackend.Copy);
        var t2 = new ListTypes(lax);
        using var m2 = lax.AttachCurrentThread();
        var c2 = m2.GetContext();
        c2.Safepoint();
        c2.Allocate(t2.Node); // the first allocation takes a fresh buffer
        var x = c2.Allocate(t2.Node);
        var y = c2.Allocate(t2.Node);
        Assert.True(x.IsValid);
        x.SetRef(t2.Next, y);
        Assert.True(x.GetRef(t2.Next).IsSameObject(y));
    }

    [Theory]
    [MemberData(nameof(TestHeaps.AllBackends), MemberType = typeof(TestHeaps))]
    public void AllocationsInsideAReservationAreNotSafepoints(GcBackend backend)
    {
        using var heap = TestHeaps.Create(backend, configure: o => o.StrictViews = true); // every other allocation would expire views
        var t = new ListTypes(heap);
        using var m = heap.AttachCurrentThread();
        var ctx = m.GetContext();
        int size = t.Node.InstanceSize;
        long kept = 0;
        for (int round = 0; round < 200; round++)
        {
            // A 10-node list built with views only: the reservation keeps every view valid.
            ctx.Reserve(10 * size);
            var head = ctx.Allocate(t.Node);
            head.Set(t.Value, round);
            var prev = head;
            for (int i = 1; i < 10; i++)
            {
                var n = ctx.Allocate(t.Node);
                n.Set(t.Value, i);
                prev.SetRef(t.Next, n);
                prev = n;
            }

            Assert.True(head.IsValid);
            long sum = 0;
            for (var p = head; !p.IsNull; p = p.GetRef(t.Next))
            {
                sum += p.Get(t.Value);
            }

            Assert.Equal(round + 45, sum);
            if (round % 50 == 0)
            {
                kept++;
                var h = head.ToHandle();   // views first, then Mutator calls (each is a safepoint)
                m.CreateRoot(h);           // never disposed: these lists must survive every collection
                Assert.True(heap.Collect().Verified);
                ctx = m.GetContext();
            }

            // One allocation past the reservation is an ordinary one again (strict: a safepoint).
            var before = ctx.Allocate(t.Node);
            ctx.Allocate(t.Node);
            Assert.False(before.IsValid);
        }

        // Arrays count too; a reservation is at most one buffer.
        ctx.Reserve((int)t.Longs.ArraySize(100));
        var arr = ctx.AllocateArray(t.Longs, 100);
        Assert.True(arr.IsValid);
        Throws<ArgumentOutOfRangeException>(ctx, c => c.Reserve(4097));
        Throws<ArgumentOutOfRangeException>(ctx, c => c.Reserve(-1));
        Assert.Throws<InvalidOperationException>(() => t.Node.ArraySize(1));
        Assert.Equal(kept, heap.Verify().ReachableObjects / 10);
    }

    [Theory]
    [MemberData(nameof(TestHeaps.AllBackends), MemberType = typeof(TestHeaps))]
    public void AReservationEndsAtTheThreadsNextOtherSafepoint(GcBackend backend)
    {
        using var heap = TestHeaps.Create(backend, configure: o => o.StrictViews = true); // an allocation outside a reservation expires views
        var t = new ListTypes(heap);
        using var m = heap.AttachCurrentThread();
        int size = t.Node.InstanceSize;

        // A Mutator call ends it: the handle API allocates from the same buffer.
        var ctx = m.GetContext();
        ctx.Reserve(8 * size);
        GcRef keep = ctx.Allocate(t.Node).ToHandle();
        m.Allocate(t.Node);
        m.AllocateArray(t.Longs, 200);
        ctx = m.GetContext();
        var a = ctx.Allocate(t.Node);
        ctx.Allocate(t.Node);
        Assert.False(a.IsValid);

        // So does an allocation it does not cover (a large object here), and ctx.Safepoint().
        ctx.Reserve(8 * size);
        ctx.AllocateArray(t.Longs, 1_000);
        a = ctx.Allocate(t.Node);
        ctx.Allocate(t.Node);
        Assert.False(a.IsValid);
        ctx.Reserve(8 * size);
        ctx.Safepoint();
        a = ctx.Allocate(t.Node);
        ctx.Allocate(t.Node);
        Assert.False(a.IsValid);

        // A whole buffer's worth, the rest of the current buffer first: every view stays valid.
        ctx.Reserve(4096);
        var first = ctx.Allocate(t.Node);
        var views = 1;
        while ((views + 1) * size <= 4096)
        {
            ctx.Allocate(t.Node).Set(t.Value, views++);
        }

        Assert.True(first.IsValid);

        // Inside a safe region a reserved allocation is refused (another thread collects meanwhile),
        // and a view from before the region is dead after it.
        ctx.Reserve(8 * size);
        var before = ctx.Allocate(t.Node);
        using (m.EnterSafeRegion())
        {
            Throws<GcThreadStateException>(ctx, c => c.Allocate(t.Node));
            Throws<GcThreadStateException>(ctx, c => c.AllocateArray(t.Longs, 2));
            var collector = new Thread(() => heap.Collect());
            collector.Start();
            collector.Join();
        }

        Assert.False(before.IsValid);
        Assert.Equal(GcHandleProblem.ViewExpired, Throws<GcInvalidHandleException>(before, v => v.Set(t.Value, 1)).Problem);
        ctx = m.GetContext();
        ctx.View(keep).Set(t.Value, 7);
        Assert.Equal(7, m.Get(keep, t.Value));
        Assert.True(heap.Verify().IsValid);
    }

    [Fact]
    public void BadViewsThrowTheDocumentedExceptions()
    {
        using var heap = TestHeaps.Create(GcBackend.StopTheWorld);
        using var other = TestHeaps.Create(GcBackend.StopTheWorld);
        var t = new ListTypes(heap);
        var tOther = new ListTypes(other);
        using var m = heap.AttachCurrentThread();
        using var mo = other.AttachCurrentThread();

        var ctx = m.GetContext();
        var node = ctx.Allocate(t.Node);

        // Null view where an object is needed.
        Assert.Equal(GcHandleProblem.Null, Throws<GcInvalidHandleException>(GcContext.Null, v => v.Get(t.Value)).Problem);
        Assert.Equal(GcHandleProblem.Null, Throws<GcInvalidHandleException>(default(GcView), v => _ = v.Type).Problem);
        Assert.Equal(GcHandleProblem.Null, Throws<GcInvalidHandleException>(node, v => v.GetRef(t.Next).Set(t.Value, 1)).Problem);

        // A field of another type, or of another heap's identical type; array calls on an object.
        Throws<GcFieldAccessException>(node, v => v.Set(t.OtherX, 5));
        Throws<GcFieldAccessException>(node, v => v.Get(tOther.Value));
        Throws<GcFieldAccessException>(node, v => v.GetItem<long>(0));
        Throws<GcFieldAccessException>(node, v => _ = v.Length);

        // Storing another heap's object into this heap.
        var foreign = Throws<GcInvalidHandleException>(node, v => v.SetRef(t.Next, mo.GetContext().Allocate(tOther.Node)));
        Assert.Equal(GcHandleProblem.Foreign, foreign.Problem);

        // Storing an expired view.
        var stale = ctx.Allocate(t.Node);
        ctx.Safepoint();
        node = ctx.Allocate(t.Node);
        Assert.Equal(GcHandleProblem.ViewExpired, Throws<GcInvalidHandleException>(node, stale, (v, s) => v.SetRef(t.Next, s)).Problem);
        Assert.True(node.IsValid);

        // Bounds.
        var arr = ctx.AllocateArray(t.Longs, 4);
        Throws<ArgumentOutOfRangeException>(arr, v => v.SetItem(4, 1L));
        Throws<ArgumentOutOfRangeException>(arr, v => v.ReadItems(2, new long[3]));

        // Allocation with another heap's type, an array type, a negative length, a default context.
        Throws<ArgumentException>(ctx, c => c.Allocate(tOther.Node));
        Throws<ArgumentException>(ctx, c => c.Allocate(t.Longs));
        Throws<ArgumentException>(ctx, c => c.AllocateArray(t.Node, 3));
        Throws<ArgumentOutOfRangeException>(ctx, c => c.AllocateArray(t.Longs, -1));
        Throws<GcThreadStateException>(default, c => c.Allocate(t.Node));

        // Inside a safe region the context refuses to hand out views.
        var keep = node.ToHandle();
        using (m.EnterSafeRegion())
        {
            Assert.Throws<GcThreadStateException>(() => m.GetContext());
            Throws<GcThreadStateException>(ctx, c => c.Allocate(t.Node));
            Throws<GcThreadStateException>(ctx, c => c.View(keep));
        }

        // The heap still works after every refusal.
        var v = m.GetContext().Allocate(t.Node);
        v.Set(t.Value, 3);
        Assert.Equal(3, v.Get(t.Value));
        Assert.True(heap.Verify().IsValid);
    }

    [Fact]
    public void ViewsOfADisposedHeapOrMutatorThrowInsteadOfTouchingFreedMemory()
    {
        var heap = TestHeaps.Create(GcBackend.Move);
        var t = new ListTypes(heap);
        var m = heap.AttachCurrentThread();
        var ctx = m.GetContext();
        ctx.Reserve(4096); // outstanding at disposal: its bytes are unmapped with the heap
        var v = ctx.Allocate(t.Node);
        heap.Dispose(); // the memory is unmapped: the view must not reach it
        Assert.Equal(GcHandleProblem.ViewExpired, Throws<GcInvalidHandleException>(v, x => x.Get(t.Value)).Problem);
        Throws<GcHeapDisposedException>(ctx, c => c.Allocate(t.Node));
        Throws<GcHeapDisposedException>(ctx, c => c.AllocateArray(t.Longs, 4));
        m.Dispose();

        using var heap2 = TestHeaps.Create(GcBackend.Move);
        var t2 = new ListTypes(heap2);
        var m2 = heap2.AttachCurrentThread();
        var ctx2 = m2.GetContext();
        var w = ctx2.Allocate(t2.Node);
        m2.Dispose();
        Assert.Equal(GcHandleProblem.ViewExpired, Throws<GcInvalidHandleException>(w, x => x.Get(t2.Value)).Problem);
        Throws<GcHeapDisposedException>(ctx2, c => c.Allocate(t2.Node));
    }

    [Theory]
    [InlineData("class Holder { GcView v; }", "CS8345")]                                   // a field of a class
    [InlineData("class Holder { GcContext c; }", "CS8345")]
    [InlineData("class C { object Box(GcView v) => v; }", "CS0029")]                        // boxing
    [InlineData("class C { System.Func<bool> F(GcView v) => () => v.IsNull; }", "CS9108")]  // a parameter captured by a lambda
    [InlineData("class C { System.Func<bool> F(Mutator m) { var v = m.GetContext().View(default); return () => v.IsNull; } }", "CS8175")] // a local
    [InlineData("class C { async System.Threading.Tasks.Task F(GcContext c) { await System.Threading.Tasks.Task.Yield(); } }", "CS4012")] // async parameter
    [InlineData("class C { System.Collections.Generic.List<GcView> L; }", "CS9244")]         // a type argument that does not allow ref structs
    [InlineData("class Holder { GcReferenceArrayView a; }", "CS8345")]                      // the array views too
    [InlineData("class Holder { GcArrayView<long> a; }", "CS8345")]
    [InlineData("class C { object Box(GcArrayView<long> a) => a; }", "CS0029")]
    public void TheCompilerKeepsViewsOnTheirThreadsStack(string code, string expectedError)
    {
        Assert.True(typeof(GcView).IsByRefLike);
        Assert.True(typeof(GcContext).IsByRefLike);
        Assert.True(typeof(GcReferenceArrayView).IsByRefLike);
        Assert.True(typeof(GcArrayView<long>).IsByRefLike);
        var errors = Compile("using GcHeap;\n" + code);
        Assert.Contains(expectedError, errors);
        Assert.Empty(Compile("using GcHeap;\nclass Ok { long F(Mutator m, GcRef h, GcField<long> f) { var c = m.GetContext(); return c.View(h).Get(f); } }"));
    }

    private static List<string> Compile(string source)
    {
        var refs = ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!).Split(Path.PathSeparator)
            .Select(p => Microsoft.CodeAnalysis.MetadataReference.CreateFromFile(p))
            .Append(Microsoft.CodeAnalysis.MetadataReference.CreateFromFile(typeof(GcView).Assembly.Location));
        var compilation = Microsoft.CodeAnalysis.CSharp.CSharpCompilation.Create(
            "ViewEscape",
            [Microsoft.CodeAnalysis.CSharp.CSharpSyntaxTree.ParseText(source)],
            refs,
            new Microsoft.CodeAnalysis.CSharp.CSharpCompilationOptions(Microsoft.CodeAnalysis.OutputKind.DynamicallyLinkedLibrary));
        return [.. compilation.GetDiagnostics()
            .Where(d => d.Severity == Microsoft.CodeAnalysis.DiagnosticSeverity.Error)
            .Select(d => d.Id)];
    }

    /// <summary>
    /// Threads build, rewire and shrink linked lists with views only (handles just for list heads
    /// kept across safepoints) while collections run, each checking its lists against a .NET
    /// model after every collection.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestHeaps.AllBackends), MemberType = typeof(TestHeaps))]
    public void ThreadsMutatingThroughViewsKeepTheirGraphsThroughConcurrentCollections(GcBackend backend)
    {
        const int Threads = 2;
        const int Lists = 16;
        using var heap = TestHeaps.Create(backend, configure: o => o.SweepDelayMicros = 300);
        var t = new ListTypes(heap);
        var errors = new List<Exception>();
        int stop = 0;
        long checks = 0;
        using var started = new CountdownEvent(Threads);

        var threads = Enumerable.Range(0, Threads).Select(i => TestHeaps.StartMutator(heap, $"views-{i}", m =>
        {
            var rnd = new Random(17 + i);
            bool arrayViews = i % 2 == 1; // odd threads reach the list heads through GcReferenceArrayView
            var model = new List<long>[Lists];
            for (int l = 0; l < Lists; l++)
            {
                model[l] = [];
            }

            GcRoot heads;
            using (m.OpenScope())
            {
                heads = m.CreateRoot(m.AllocateArray(heap.Types.ReferenceArray, Lists));
            }

            started.Signal();
            long nextValue = 1;
            int lastChecked = -1;
            while (Volatile.Read(ref stop) == 0)
            {
                var ctx = m.GetContext();
                for (int step = 0; step < 200; step++)
                {
                    int l = rnd.Next(Lists);
                    switch (rnd.Next(4))
                    {
                        case 0:
                        case 1:
                        {
                            // Push: allocate first (a safepoint may happen), then take views.
                            var node = ctx.Allocate(t.Node);
                            long value = nextValue++;
                            node.Set(t.Value, value);
                            if (arrayViews)
                            {
                                var av = ctx.View(heads).AsReferenceArray();
                                node.SetRef(t.Next, av[l]);
                                av[l] = node;
                            }
                            else
                            {
                                var arr = ctx.View(heads);
                                node.SetRef(t.Next, arr.GetElement(l));
                                arr.SetElement(l, node);
                            }

                            model[l].Insert(0, value);
                            break;
                        }

                        case 2:
                        {
                            // Pop.
                            if (arrayViews)
                            {
                                var av = ctx.View(heads).AsReferenceArray();
                                var head = av[l];
                                if (!head.IsNull)
                                {
                                    av[l] = head.GetRef(t.Next);
                                    model[l].RemoveAt(0);
                                }
                            }
                            else
                            {
                                var arr = ctx.View(heads);
                                var head = arr.GetElement(l);
                                if (!head.IsNull)
                                {
                                    arr.SetElement(l, head.GetRef(t.Next));
                                    model[l].RemoveAt(0);
                                }
                            }

                            break;
                        }

                        default:
                        {
                            // Move the second node of list l to the front of list k, and bump values along list l.
                            int k = rnd.Next(Lists);
                            var arr = ctx.View(heads);
                            var first = arr.GetElement(l);
                            if (first.IsNull || first.GetRef(t.Next).IsNull || k == l)
                            {
                                break;
                            }

                            var second = first.GetRef(t.Next);
                            first.SetRef(t.Next, second.GetRef(t.Next));
                            if (arrayViews)
                            {
                                var av = arr.AsReferenceArray();
                                second.SetRef(t.Next, av[k]);
                                av[k] = second;
                            }
                            else
                            {
                                second.SetRef(t.Next, arr.GetElement(k));
                                arr.SetElement(k, second);
                            }
                            model[k].Insert(0, model[l][1]);
                            model[l].RemoveAt(1);
                            int n = 0;
                            for (var p = arr.GetElement(l); !p.IsNull && n < 8; p = p.GetRef(t.Next), n++)
                            {
                                p.Set(t.Value, p.Get(t.Value) + 1_000_000);
                                model[l][n] += 1_000_000;
                            }

                            break;
                        }
                    }

                    if (model[l].Count > 200)
                    {
                        ctx.View(heads).SetElement(l, GcContext.Null);
                        model[l].Clear();
                    }
                }

                ctx.Safepoint();
                int done = (int)heap.CollectionCount;
                if (done != lastChecked)
                {
                    lastChecked = done;
                    var arr = m.GetContext().View(heads);
                    for (int l = 0; l < Lists; l++)
                    {
                        int n = 0;
                        for (var p = arr.GetElement(l); !p.IsNull; p = p.GetRef(t.Next), n++)
                        {
                            if (n >= model[l].Count || p.Get(t.Value) != model[l][n])
                            {
                                throw new InvalidOperationException($"{m.Name}: list {l} differs from its model at node {n} after collection {done}");
                            }
                        }

                        if (n != model[l].Count)
                        {
                            throw new InvalidOperationException($"{m.Name}: list {l} has {n} nodes, its model {model[l].Count}");
                        }
                    }

                    Interlocked.Increment(ref checks);
                }
            }

            heads.Dispose();
        }, errors)).ToList();

        Assert.True(started.Wait(TimeSpan.FromSeconds(60)));
        for (int c = 0; c < 8 && errors.Count == 0; c++)
        {
            var st = heap.Collect();
            Assert.True(st.Verified);
            Thread.Sleep(20);
        }

        Volatile.Write(ref stop, 1);
        TestHeaps.JoinAll(threads, TimeSpan.FromSeconds(120));
        TestHeaps.ThrowFirst(errors);
        Assert.True(checks >= Threads, $"only {checks} model checks ran");
        Assert.True(heap.Verify().IsValid);
        if (backend != GcBackend.StopTheWorld)
        {
            Assert.True(heap.History.Sum(s => s.FaultsServed) > 0, "no mutator or verifier fault was served");
        }
    }

    private delegate void ViewAction(GcView v);

    private delegate void TwoViewAction(GcView v, GcView w);

    private delegate void ContextAction(GcContext c);

    // Lambdas cannot capture a ref struct, so the view or context is passed in.
    private static TEx Throws<TEx>(GcView v, ViewAction a)
        where TEx : Exception
    {
        try
        {
            a(v);
        }
        catch (TEx e)
        {
            return e;
        }

        throw new Xunit.Sdk.XunitException($"expected {typeof(TEx).Name}");
    }

    private static TEx Throws<TEx>(GcView v, GcView w, TwoViewAction a)
        where TEx : Exception
    {
        try
        {
            a(v, w);
        }
        catch (TEx e)
        {
            return e;
        }

        throw new Xunit.Sdk.XunitException($"expected {typeof(TEx).Name}");
    }

    private static TEx Throws<TEx>(GcContext c, ContextAction a)
        where TEx : Exception
    {
        try
        {
            a(c);
        }
        catch (TEx e)
        {
            return e;
        }

        throw new Xunit.Sdk.XunitException($"expected {typeof(TEx).Name}");
    }

    private static void AssertExpired(GcView v, ListTypes t)
    {
        Assert.False(v.IsValid);
        try
        {
            v.Get(t.Value);
            Assert.Fail("an expired view was usable");
        }
        catch (GcInvalidHandleException e)
        {
            Assert.Equal(GcHandleProblem.ViewExpired, e.Problem);
        }
    }
}
