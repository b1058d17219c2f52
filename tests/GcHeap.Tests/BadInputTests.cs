namespace GcHeap.Tests;

/// <summary>Every misuse gets a specific, documented exception; none crashes the process.</summary>
public class BadInputTests
{
    private static (Heap Heap, GcType Node, GcRefField Next, GcField<long> Value) NewHeap(GcBackend backend = GcBackend.Move)
    {
        var heap = TestHeaps.Create(backend, maxBytes: 8 << 20);
        var node = heap.Types.DefineObject("Node", b => b.Reference("next").Value<long>("value").Value<int>("small"));
        return (heap, node, node.RefField("next"), node.Field<long>("value"));
    }

    [Fact]
    public void DisposedHeapThrowsDisposed()
    {
        var (heap, node, _, value) = NewHeap();
        var m = heap.AttachCurrentThread();
        var obj = m.Allocate(node);
        var root = m.CreateRoot(obj);
        heap.Dispose();
        Assert.Throws<GcHeapDisposedException>(() => m.Get(obj, value));
        Assert.Throws<GcHeapDisposedException>(() => m.Allocate(node));
        Assert.Throws<GcHeapDisposedException>(() => heap.Collect());
        Assert.Throws<GcHeapDisposedException>(() => heap.AttachCurrentThread());
        root.Dispose(); // no-op after the heap is gone, never a crash
        m.Dispose();
        heap.Dispose(); // twice is fine
    }

    [Fact]
    public void HandlesAreValidatedNullStaleForeignAndOtherThread()
    {
        var (heap, node, _, value) = NewHeap();
        using var h = heap;
        using var m = heap.AttachCurrentThread();

        var ex = Assert.Throws<GcInvalidHandleException>(() => m.Get(GcRef.Null, value));
        Assert.Equal(GcHandleProblem.Null, ex.Problem);

        GcRef stale;
        using (m.OpenScope())
        {
            stale = m.Allocate(node);
        }

        ex = Assert.Throws<GcInvalidHandleException>(() => m.Get(stale, value));
        Assert.Equal(GcHandleProblem.Stale, ex.Problem);

        var root = m.CreateRoot(m.Allocate(node));
        var rootRef = root.Ref;
        root.Dispose();
        ex = Assert.Throws<GcInvalidHandleException>(() => m.Get(rootRef, value));
        Assert.Equal(GcHandleProblem.Stale, ex.Problem);

        // A local handle of another thread (which stays attached until it has been tried).
        GcRef othersLocal = default;
        using var allocated = new ManualResetEventSlim();
        using var tried = new ManualResetEventSlim();
        var owner = new Thread(() =>
        {
            using var om = heap.AttachCurrentThread("owner");
            othersLocal = om.Allocate(node);
            using (om.EnterSafeRegion())
            {
                allocated.Set();
                tried.Wait();
            }
        });
        owner.Start();
        using (m.EnterSafeRegion())
        {
            allocated.Wait();
        }

        var ex2 = Record.Exception(() => m.Get(othersLocal, value));
        tried.Set();
        owner.Join();
        Assert.Equal(GcHandleProblem.OtherThread, Assert.IsType<GcInvalidHandleException>(ex2).Problem);
    }

    [Fact]
    public void ForeignHandleIsReportedAsForeign()
    {
        var (a, nodeA, _, valueA) = NewHeap();
        var (b, nodeB, _, _) = NewHeap();
        using (a)
        using (b)
        {
            GcRoot fromB;
            using (var mb = b.AttachCurrentThread())
            {
                fromB = mb.CreateRoot(mb.Allocate(nodeB));
            }

            GcRef handleOfB = fromB.Ref;
            Exception? caught = null;
            var t = new Thread(() =>
            {
                using var ma = a.AttachCurrentThread();
                caught = Record.Exception(() => ma.Get(handleOfB, valueA));
            });
            t.Start();
            t.Join();
            var ex = Assert.IsType<GcInvalidHandleException>(caught);
            Assert.Equal(GcHandleProblem.Foreign, ex.Problem);
        }
    }

    [Fact]
    public void WrongFieldIndexKindAndTypeAreRejected()
    {
        var (heap, node, next, value) = NewHeap();
        using var _ = heap;
        var other = heap.Types.DefineObject("Other", b => b.Value<long>("x").Reference("y"));
        using var m = heap.AttachCurrentThread();
        var obj = m.Allocate(node);

        Assert.Throws<ArgumentOutOfRangeException>(() => node.GetField(7));
        Assert.Throws<ArgumentOutOfRangeException>(() => node.RefField(-1));
        Assert.Throws<GcFieldAccessException>(() => node.GetField("missing"));
        Assert.Throws<GcFieldAccessException>(() => node.Field<long>("next")); // a reference, not a long
        Assert.Throws<GcFieldAccessException>(() => node.Field<int>("value")); // a long, not an int
        Assert.Throws<GcFieldAccessException>(() => node.RefField("value"));
        Assert.Throws<GcFieldAccessException>(() => m.Get(obj, other.Field<long>("x"))); // field of another type
        Assert.Throws<GcFieldAccessException>(() => m.SetRef(obj, other.RefField("y"), GcRef.Null));
        Assert.Throws<GcFieldAccessException>(() => m.Get(obj, default(GcField<long>))); // uninitialised token

        var arr = m.AllocateArray(heap.Types.ReferenceArray, 3);
        var bytes = m.AllocateArray(heap.Types.ByteArray, 3);
        Assert.Throws<ArgumentOutOfRangeException>(() => m.GetElement(arr, 3));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.SetElement(arr, -1, obj));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.ReadItems<byte>(bytes, 2, new byte[2]));
        Assert.Throws<GcFieldAccessException>(() => m.GetElement(bytes, 0)); // not a reference array
        Assert.Throws<GcFieldAccessException>(() => m.GetItem<int>(bytes, 0)); // bytes, not ints
        Assert.Throws<GcFieldAccessException>(() => m.GetLength(obj)); // not an array
        Assert.Throws<ArgumentException>(() => m.Allocate(heap.Types.ByteArray)); // array type
        Assert.Throws<ArgumentException>(() => m.AllocateArray(node, 3)); // object type
        Assert.Throws<ArgumentOutOfRangeException>(() => m.AllocateArray(heap.Types.ByteArray, -1));
        Assert.Throws<ArgumentException>(() => heap.Types.DefineObject("Node", b => b.Reference("z"))); // name taken
        Assert.Throws<ArgumentException>(() => heap.Types.DefineObject("Dup", b => b.Reference("z").Value<int>("z")));
        Assert.Throws<ArgumentException>(() => heap.Types.DefineObject("Bad", b => b.Value<decimal>("d")));

        // Sizes that would wrap around a 32-bit offset are refused, not laid out over the next object.
        Assert.Throws<ArgumentException>(() => heap.Types.DefineObject("Huge", b => b.Bytes("a", int.MaxValue)));
        Assert.Throws<ArgumentException>(() => heap.Types.DefineObject("Huge2", b => b.Bytes("a", int.MaxValue).Bytes("b", int.MaxValue)));
        Assert.Throws<ArgumentException>(() => heap.Types.DefineObject("Huge3", b => b.Reference("r").Bytes("a", 1 << 30)));
        var big = heap.Types.DefineObject("Big", b => b.Bytes("a", 1 << 20).Bytes("b", 16));
        Assert.Equal((1 << 20) + 16 + 8, big.InstanceSize);
        var o = m.Allocate(big);
        m.WriteBytes(o, big.BytesField("b"), new byte[16]);
        Assert.True(heap.Verify().IsValid);
    }

    [Fact]
    public void TypesOfAnotherHeapAreRejected()
    {
        var (a, _, _, _) = NewHeap();
        var (b, nodeB, _, _) = NewHeap();
        using (a)
        using (b)
        {
            using var m = a.AttachCurrentThread();
            Assert.Throws<ArgumentException>(() => m.Allocate(nodeB));
        }
    }

    [Fact]
    public void ThreadRulesAreEnforced()
    {
        var (heap, node, _, value) = NewHeap();
        using var _ = heap;
        using var m = heap.AttachCurrentThread();
        Assert.Throws<GcThreadStateException>(() => heap.AttachCurrentThread()); // already attached
        var obj = m.Allocate(node);
        using (m.EnterSafeRegion())
        {
            Assert.Throws<GcThreadStateException>(() => m.Get(obj, value)); // inside a safe region
        }

        Exception? fromOtherThread = null;
        var t = new Thread(() => fromOtherThread = Record.Exception(() => m.Get(obj, value)));
        t.Start();
        t.Join();
        Assert.IsType<GcThreadStateException>(fromOtherThread);

        m.Dispose();
        Assert.Throws<GcHeapDisposedException>(() => m.Get(obj, value)); // detached mutator
        using var again = heap.AttachCurrentThread(); // re-attaching after detach works
    }

    [Theory]
    [MemberData(nameof(TestHeaps.AllBackends), MemberType = typeof(TestHeaps))]
    public void ExhaustionThrowsAndLeavesTheHeapUsable(GcBackend backend)
    {
        using var heap = TestHeaps.Create(backend, maxBytes: 1 << 20);
        var node = heap.Types.DefineObject("Node", b => b.Reference("next").Bytes("pad", 200));
        var next = node.RefField("next");
        using var m = heap.AttachCurrentThread();
        GcRoot head;
        using (m.OpenScope())
        {
            head = m.CreateRoot(m.Allocate(node));
        }

        var ex = Assert.Throws<GcHeapExhaustedException>((Action)(() =>
        {
            using var outer = m.OpenScope(); // the escaped handles below live here, and die with it
            var tail = m.Duplicate(head.Ref);
            while (true)
            {
                using var s = m.OpenScope();
                var n = m.Allocate(node);
                m.SetRef(n, next, tail);
                m.SetRef(head.Ref, next, n);
                tail = s.Escape(n);
            }
        }));
        Assert.Equal(1 << 20, ex.HeapLimitBytes);
        Assert.True(ex.LiveBytes > (1 << 20) / 2, $"live {ex.LiveBytes}");
        Assert.Throws<GcHeapExhaustedException>(() => m.AllocateArray(heap.Types.ByteArray, 2 << 20)); // larger than the heap

        head.Dispose(); // let it all go
        using (m.OpenScope())
        {
            for (int i = 0; i < 10_000; i++)
            {
                using var s = m.OpenScope();
                m.Allocate(node);
            }
        }

        Assert.True(heap.Verify().IsValid);
    }

    [Fact]
    public void TooManyLocalHandlesExplainsHandleScopes()
    {
        using var heap = TestHeaps.Create(GcBackend.StopTheWorld, configure: o => o.HandlesPerSegmentLog2 = 10);
        var node = heap.Types.DefineObject("Node", b => b.Value<long>("v"));
        using var m = heap.AttachCurrentThread();
        var ex = Assert.Throws<GcHandleLimitException>((Action)(() =>
        {
            for (int i = 0; i < 2000; i++)
            {
                m.Allocate(node);
            }
        }));
        Assert.Contains("HandleScope", ex.Message);
    }

    [Fact]
    public void InvalidOptionsAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Heap(new HeapOptions { MaxHeapBytes = 10 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Heap(new HeapOptions { BatchPages = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Heap(new HeapOptions { Backend = (GcBackend)42 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Heap(new HeapOptions { DensePageThreshold = double.NaN }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Heap(new HeapOptions { MaxHeapBytes = HeapOptions.MaxHeapBytesLimit + 1 })); // once silently capped
        Assert.Throws<ArgumentOutOfRangeException>(() => new Heap(new HeapOptions { StallSampleCapacity = int.MaxValue })); // once failed the first collection
        Assert.Throws<ArgumentOutOfRangeException>(() => new Heap(new HeapOptions { HistoryLength = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Heap(new HeapOptions { UffdOpenMethods = (UffdOpenMethods)64 }));
    }

    [Fact]
    public void ADisposedRootIsStale()
    {
        var (heap, node, _, value) = NewHeap();
        using var _ = heap;
        using var m = heap.AttachCurrentThread();
        var root = m.CreateRoot(m.Allocate(node));
        root.Dispose();
        Assert.True(root.IsDisposed);
        Assert.Equal(GcHandleProblem.Stale, Assert.Throws<GcInvalidHandleException>(() => m.Get(root.Ref, value)).Problem);
        Assert.Equal(GcHandleProblem.Stale, Assert.Throws<GcInvalidHandleException>(() => m.Duplicate(root)).Problem);
        var again = m.CreateRoot(m.Allocate(node)); // reuses the slot: the old handle stays stale
        Assert.Equal(GcHandleProblem.Stale, Assert.Throws<GcInvalidHandleException>(() => m.Get(root.Ref, value)).Problem);
        m.Set(again.Ref, value, 3);
        Assert.Equal(3, m.Get(again.Ref, value));
    }

    [Fact]
    public void ACopyOfAClosedScopeClosesNothingLater()
    {
        var (heap, node, _, value) = NewHeap();
        using var _ = heap;
        using var m = heap.AttachCurrentThread();
        var first = m.OpenScope();
        var copy = first;
        first.Dispose();
        var second = m.OpenScope(); // the same depth as the closed one
        var a = m.Allocate(node);
        m.Set(a, value, 42);
        copy.Dispose();
        Assert.Equal(GcRef.Null, copy.Escape(a));
        Assert.Equal(42, m.Get(a, value)); // still open: its handle is alive
        var escaped = second.Escape(a);
        Assert.Equal(42, m.Get(escaped, value));
        Assert.Equal(GcHandleProblem.Stale, Assert.Throws<GcInvalidHandleException>(() => m.Get(a, value)).Problem);
    }
}
