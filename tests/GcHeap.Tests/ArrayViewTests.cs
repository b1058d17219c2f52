namespace GcHeap.Tests;

/// <summary>
/// The array views (<see cref="GcReferenceArrayView"/>, <see cref="GcArrayView{T}"/>): they read
/// and write what the handle API and <see cref="GcView"/> read and write, check the array's kind
/// once when made and the index and the epoch on every access, die at every safepoint of their
/// thread like any view, and refuse bad input with the documented exceptions.
/// </summary>
public class ArrayViewTests
{
    [Fact]
    public void ArrayViewsReadAndWriteWhatTheHandleApiSees()
    {
        using var heap = TestHeaps.Create(GcBackend.Move);
        var node = heap.Types.DefineObject("Node", b => b.Reference("next").Value<long>("value"));
        var value = node.Field<long>("value");
        var longsType = heap.Types.DefineDataArray<long>("long[]");
        var bytesType = heap.Types.DefineDataArray<byte>("bytes");
        using var m = heap.AttachCurrentThread();

        var ctx = m.GetContext();
        var nodes = ctx.AllocateArray(heap.Types.ReferenceArray, 5).ToHandle();
        var longs = ctx.AllocateArray(longsType, 100).ToHandle();
        var bytes = ctx.AllocateArray(bytesType, 7).ToHandle();
        for (int i = 0; i < 5; i++)
        {
            var n = ctx.Allocate(node); // may refill the buffer: views are taken after it
            n.Set(value, 10 + i);
            if (i != 2)
            {
                ctx.View(nodes).AsReferenceArray()[i] = n;
            }
        }

        var refs = ctx.View(nodes).AsReferenceArray();
        var ls = ctx.View(longs).AsArray<long>();
        var bs = ctx.View(bytes).AsArray<byte>();
        Assert.Equal(5, refs.Length);
        Assert.Equal(100, ls.Length);
        Assert.Equal(7, bs.Length);
        Assert.True(refs.IsValid);
        Assert.True(refs[2].IsNull);
        Assert.Equal(13, refs[3].Get(value));
        Assert.True(refs[3].IsSameObject(ctx.View(nodes).GetElement(3)));
        Assert.True(refs.View.IsSameObject(ctx.View(nodes)));
        for (int i = 0; i < 100; i++)
        {
            ls[i] = i * 3L;
        }

        bs[6] = 0xAB;
        ls.WriteItems(10, [7L, 8L, 9L]);
        Span<long> buf = stackalloc long[4];
        ls.ReadItems(9, buf);
        Assert.Equal([27L, 7L, 8L, 9L], buf.ToArray());
        refs[4] = GcContext.Null;

        // The handle API and GcView see the same.
        Assert.Equal(297, m.GetItem<long>(longs, 99));
        Assert.Equal(8, m.GetItem<long>(longs, 11));
        Assert.Equal(0xAB, m.GetItem<byte>(bytes, 6));
        using (m.OpenScope())
        {
            Assert.True(m.GetElement(nodes, 4).IsNull);
            Assert.Equal(11, m.Get(m.GetElement(nodes, 1), value));
        }

        // After a collection, new views of the moved arrays read the same values.
        heap.Collect();
        ctx = m.GetContext();
        refs = ctx.View(nodes).AsReferenceArray();
        ls = ctx.View(longs).AsArray<long>();
        Assert.Equal(10, refs[0].Get(value));
        Assert.Equal(13, refs[3].Get(value));
        Assert.True(refs[2].IsNull && refs[4].IsNull);
        Assert.Equal(9, ls[12]);
        Assert.Equal(297, ls[99]);
        Assert.True(heap.Verify().IsValid);
    }

    [Fact]
    public void AnArrayViewDiesAtASafepointAndNeverReachesMemoryAfterIt()
    {
        using var heap = TestHeaps.Create(GcBackend.Move);
        var longsType = heap.Types.DefineDataArray<long>("long[]");
        using var m = heap.AttachCurrentThread();

        var ctx = m.GetContext();
        var refsHandle = ctx.AllocateArray(heap.Types.ReferenceArray, 4).ToHandle();
        var longsHandle = ctx.AllocateArray(longsType, 4).ToHandle();
        var refs = ctx.View(refsHandle).AsReferenceArray();
        var longs = ctx.View(longsHandle).AsArray<long>();
        heap.Collect(); // moves both arrays; the views still hold the old addresses

        Assert.False(refs.IsValid);
        Assert.False(longs.IsValid);
        Assert.Equal(GcHandleProblem.ViewExpired, Capture(() => _ = ExpiredRefs(m, refsHandle).Length).Problem);
        Assert.Equal(GcHandleProblem.ViewExpired, Capture(() => _ = ExpiredLongs(m, longsHandle).Length).Problem);
        Assert.Equal(GcHandleProblem.ViewExpired, Capture(() => _ = ExpiredRefs(m, refsHandle)[0].IsNull).Problem);
        Assert.Equal(GcHandleProblem.ViewExpired, Capture(() => _ = ExpiredLongs(m, longsHandle)[1]).Problem);
        Assert.Equal(GcHandleProblem.ViewExpired, Capture(() => { var l = ExpiredLongs(m, longsHandle); l[1] = 5; }).Problem);
        Assert.Equal(GcHandleProblem.ViewExpired, Capture(() => ExpiredLongs(m, longsHandle).ReadItems(0, new long[2])).Problem);
        Assert.Equal(GcHandleProblem.ViewExpired, Capture(() => _ = ExpiredLongs(m, longsHandle).View).Problem);

        // Out of range on an expired view says expired: the index cannot be judged against a moved array.
        Assert.Equal(GcHandleProblem.ViewExpired, Capture(() => _ = ExpiredLongs(m, longsHandle)[99]).Problem);

        // Storing an expired view through a fresh array view.
        var stale = ExpiredView(m, refsHandle);
        var fresh = m.GetContext().View(refsHandle).AsReferenceArray();
        try
        {
            fresh[0] = stale;
            Assert.Fail("an expired view was stored");
        }
        catch (GcInvalidHandleException e)
        {
            Assert.Equal(GcHandleProblem.ViewExpired, e.Problem);
        }

        Assert.True(fresh[0].IsNull);
        Assert.True(heap.Verify().IsValid);
    }

    [Fact]
    public void BadArrayViewsThrowTheDocumentedExceptions()
    {
        using var heap = TestHeaps.Create(GcBackend.StopTheWorld);
        using var other = TestHeaps.Create(GcBackend.StopTheWorld);
        var node = heap.Types.DefineObject("Node", b => b.Value<long>("value"));
        var longsType = heap.Types.DefineDataArray<long>("long[]");
        var otherNode = other.Types.DefineObject("Node", b => b.Value<long>("value"));
        using var m = heap.AttachCurrentThread();
        using var mo = other.AttachCurrentThread();

        var ctx = m.GetContext();
        var obj = ctx.Allocate(node).ToHandle();
        var longs = ctx.AllocateArray(longsType, 3).ToHandle();
        var refs = ctx.AllocateArray(heap.Types.ReferenceArray, 3).ToHandle();

        // The wrong kind of object, or the wrong element type.
        Assert.Throws<GcFieldAccessException>(() => m.GetContext().View(obj).AsReferenceArray());
        Assert.Throws<GcFieldAccessException>(() => m.GetContext().View(longs).AsReferenceArray());
        Assert.Throws<GcFieldAccessException>(() => m.GetContext().View(obj).AsArray<long>());
        Assert.Throws<GcFieldAccessException>(() => m.GetContext().View(refs).AsArray<long>());
        Assert.Throws<GcFieldAccessException>(() => m.GetContext().View(longs).AsArray<int>());
        Assert.Throws<GcFieldAccessException>(() => m.GetContext().View(longs).AsArray<ulong>());

        // A null view, and default array views.
        Assert.Equal(GcHandleProblem.Null, Assert.Throws<GcInvalidHandleException>(() => GcContext.Null.AsReferenceArray()).Problem);
        Assert.Equal(GcHandleProblem.Null, Assert.Throws<GcInvalidHandleException>(() => GcContext.Null.AsArray<long>()).Problem);
        Assert.Equal(GcHandleProblem.Null, Assert.Throws<GcInvalidHandleException>(() => _ = default(GcReferenceArrayView)[0].IsNull).Problem);
        Assert.Equal(GcHandleProblem.Null, Assert.Throws<GcInvalidHandleException>(() => _ = default(GcArrayView<long>)[0]).Problem);
        Assert.Equal(GcHandleProblem.Null, Assert.Throws<GcInvalidHandleException>(() => _ = default(GcArrayView<long>).View).Problem);
        Assert.Equal(GcHandleProblem.Null, Assert.Throws<GcInvalidHandleException>(() => default(GcArrayView<long>).ReadItems(0, [])).Problem);
        Assert.Equal(0, default(GcArrayView<long>).Length);
        Assert.Equal(0, default(GcReferenceArrayView).Length);
        Assert.False(default(GcReferenceArrayView).IsValid);

        // Indexes and ranges.
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = m.GetContext().View(longs).AsArray<long>()[3]);
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = m.GetContext().View(longs).AsArray<long>()[-1]);
        Assert.Throws<ArgumentOutOfRangeException>(() => { var a = m.GetContext().View(longs).AsArray<long>(); a[int.MinValue] = 1; });
        Assert.Throws<ArgumentOutOfRangeException>(() => _ = m.GetContext().View(refs).AsReferenceArray()[3].IsNull);
        Assert.Throws<ArgumentOutOfRangeException>(() => { var a = m.GetContext().View(refs).AsReferenceArray(); a[-1] = GcContext.Null; });
        Assert.Throws<ArgumentOutOfRangeException>(() => m.GetContext().View(longs).AsArray<long>().ReadItems(2, new long[2]));
        Assert.Throws<ArgumentOutOfRangeException>(() => m.GetContext().View(longs).AsArray<long>().WriteItems(-1, [1L]));

        // Storing another heap's object.
        var foreign = Assert.Throws<GcInvalidHandleException>(() =>
        {
            var a = m.GetContext().View(refs).AsReferenceArray();
            a[0] = mo.GetContext().Allocate(otherNode);
        });
        Assert.Equal(GcHandleProblem.Foreign, foreign.Problem);

        // Nothing was written by any refusal, and the heap still works.
        var ok = m.GetContext().View(longs).AsArray<long>();
        Assert.Equal(0, ok[0] + ok[1] + ok[2]);
        Assert.True(m.GetContext().View(refs).AsReferenceArray()[0].IsNull);
        Assert.True(heap.Verify().IsValid);
    }

    private static GcInvalidHandleException Capture(Action a) => Assert.Throws<GcInvalidHandleException>(a);

    // An array view made, then a safepoint: returned expired (a lambda cannot capture a ref struct).
    private static GcReferenceArrayView ExpiredRefs(Mutator m, GcRef array)
    {
        var v = m.GetContext().View(array).AsReferenceArray();
        m.GetContext().Safepoint();
        return v;
    }

    private static GcArrayView<long> ExpiredLongs(Mutator m, GcRef array)
    {
        var v = m.GetContext().View(array).AsArray<long>();
        m.GetContext().Safepoint();
        return v;
    }

    private static GcView ExpiredView(Mutator m, GcRef obj)
    {
        var v = m.GetContext().View(obj);
        m.GetContext().Safepoint();
        return v;
    }
}
