namespace GcHeap.Tests;

/// <summary>
/// Handles and field tokens carry the identity of the heap that issued them, and it does not
/// repeat: type ids and slot numbers restart in every heap, so without it a token or handle of
/// one heap would address another heap's objects (issue 10, items 1, 2 and 9).
/// </summary>
public class HeapIdentityTests
{
    [Fact]
    public void FieldTokensOfAnotherHeapAreRejected()
    {
        // Heap A's type is much larger than heap B's, and both get the same type id.
        using var a = TestHeaps.Create(GcBackend.StopTheWorld, maxBytes: 4 << 20);
        var wide = a.Types.DefineObject("T", b =>
        {
            for (int i = 0; i < 12; i++)
            {
                b.Reference($"r{i}");
            }

            b.Value<long>("x").Bytes("b", 16);
        });
        using var b = TestHeaps.Create(GcBackend.StopTheWorld, maxBytes: 4 << 20);
        var small = b.Types.DefineObject("T", t => t.Value<long>("y"));
        Assert.Equal(wide.Id, small.Id);

        var x = wide.Field<long>("x");
        var lastRef = wide.RefField("r11");
        var bytes = wide.BytesField("b");
        var y = small.Field<long>("y");

        using var m = b.AttachCurrentThread();
        var first = m.Allocate(small);
        var second = m.Allocate(small);
        m.Set(first, y, 1);
        m.Set(second, y, 2);

        Assert.Throws<GcFieldAccessException>(() => m.Set(first, x, 99));
        Assert.Throws<GcFieldAccessException>(() => m.Get(first, x));
        Assert.Throws<GcFieldAccessException>(() => m.SetRef(first, lastRef, second));
        Assert.Throws<GcFieldAccessException>(() => m.GetRef(first, lastRef));
        Assert.Throws<GcFieldAccessException>(() => m.IsNullRef(first, lastRef));
        Assert.Throws<GcFieldAccessException>(() => m.WriteBytes(first, bytes, new byte[16]));
        Assert.Throws<GcFieldAccessException>(() => m.ReadBytes(first, bytes, new byte[16]));
        var ex = Assert.Throws<GcFieldAccessException>(() => m.Set(first, x, 99));
        Assert.Contains("another heap", ex.Message);

        // Nothing was written, and the heap goes on.
        Assert.Equal(1, m.Get(first, y));
        Assert.Equal(2, m.Get(second, y));
        using var root = m.CreateRoot(second);
        b.Collect();
        Assert.Equal(2, m.Get(root.Ref, y));
        Assert.True(b.Verify().IsValid);
    }

    [Fact]
    public void TokensOfEqualFieldsOfTwoHeapsDiffer()
    {
        using var a = TestHeaps.Create(GcBackend.StopTheWorld, maxBytes: 1 << 20);
        using var b = TestHeaps.Create(GcBackend.StopTheWorld, maxBytes: 1 << 20);
        var ta = a.Types.DefineObject("T", t => t.Reference("r").Value<long>("v").Bytes("b", 4));
        var tb = b.Types.DefineObject("T", t => t.Reference("r").Value<long>("v").Bytes("b", 4));
        Assert.NotEqual(ta.RefField("r"), tb.RefField("r"));
        Assert.NotEqual(ta.Field<long>("v"), tb.Field<long>("v"));
        Assert.NotEqual(ta.BytesField("b"), tb.BytesField("b"));
        Assert.Equal(ta.Field<long>("v"), ta.Field<long>(1));
    }

    [Fact]
    public void HandlesOfAHeapAreForeignToEveryLaterHeap()
    {
        // Heap tags used to be 8 bits: the 255th heap after A reused A's tag, and A's handles
        // then read and wrote that heap's objects. Other tests create heaps in parallel, so
        // go round more than twice.
        using var a = TestHeaps.Create(GcBackend.StopTheWorld, maxBytes: 1 << 20, configure: o => o.HandlesPerSegmentLog2 = 10);
        var typeA = a.Types.DefineObject("T", t => t.Value<long>("v"));
        using var ma = a.AttachCurrentThread();
        var local = ma.Allocate(typeA);
        using var root = ma.CreateRoot(local);

        for (int i = 0; i < 600; i++)
        {
            using var b = TestHeaps.Create(GcBackend.StopTheWorld, maxBytes: 1 << 20, configure: o =>
            {
                o.HandlesPerSegmentLog2 = 10;
                o.VerifyHeap = false;
            });
            var typeB = b.Types.DefineObject("T", t => t.Value<long>("v"));
            var v = typeB.Field<long>("v");
            using var mb = b.AttachCurrentThread();
            using var rootB = mb.CreateRoot(mb.Allocate(typeB)); // same slots and versions as A's

            var ex = Assert.Throws<GcInvalidHandleException>(() => mb.Set(root.Ref, v, 1));
            Assert.Equal(GcHandleProblem.Foreign, ex.Problem);
            ex = Assert.Throws<GcInvalidHandleException>(() => mb.Get(local, v));
            Assert.Equal(GcHandleProblem.Foreign, ex.Problem);
            Assert.Equal(0, mb.Get(rootB.Ref, v));
        }

        Assert.Equal(0, ma.Get(root.Ref, typeA.Field<long>("v")));
    }

    [Fact]
    public void ReleasedHandlesStayStaleAfterTheirSlotIsReused16MillionTimes()
    {
        // Versions used to count reuses in 24 bits (0 skipped): after 2^24 - 1 uses of a slot, a
        // released handle matched the slot again and silently reached whatever it held then.
        const int Reuses = (1 << 24) - 2;
        using var heap = TestHeaps.Create(GcBackend.StopTheWorld, maxBytes: 1 << 20, configure: o => o.VerifyHeap = false);
        var type = heap.Types.DefineObject("T", t => t.Value<long>("v"));
        var v = type.Field<long>("v");
        using var m = heap.AttachCurrentThread();
        using var keep = m.CreateRoot(m.Allocate(type));

        GcRef staleLocal;
        using (m.OpenScope())
        {
            staleLocal = m.Duplicate(keep.Ref);
        }

        for (int i = 0; i < Reuses; i++)
        {
            using var s = m.OpenScope();
            m.Duplicate(keep.Ref);
        }

        var released = m.CreateRoot(keep.Ref);
        var staleRoot = released.Ref;
        released.Dispose();
        for (int i = 0; i < Reuses; i++)
        {
            using var r = m.CreateRoot(keep.Ref); // the freed slot is reused first
        }

        using var reused = m.CreateRoot(keep.Ref); // the slot of staleRoot, in use again
        var ex = Assert.Throws<GcInvalidHandleException>(() => m.Get(staleRoot, v));
        Assert.Equal(GcHandleProblem.Stale, ex.Problem);
        using (m.OpenScope())
        {
            var live = m.Duplicate(keep.Ref); // the slot of staleLocal, in use again
            ex = Assert.Throws<GcInvalidHandleException>(() => m.Get(staleLocal, v));
            Assert.Equal(GcHandleProblem.Stale, ex.Problem);
            Assert.Equal(0, m.Get(live, v));
        }

        Assert.True(heap.Verify().IsValid);
    }

    [Fact]
    public void HeapTagsAreNeverReused()
    {
        // 2^32 - 1 heaps cannot be created in a test; a source that starts near the end shows
        // that running out throws rather than wrapping to a tag in use.
        var tags = new Roots.HeapTagSource(uint.MaxValue - 2);
        Assert.Equal(uint.MaxValue - 1, tags.Next());
        Assert.Equal(uint.MaxValue, tags.Next());
        Assert.Throws<GcHeapException>(() => tags.Next());
        Assert.Throws<GcHeapException>(() => tags.Next());
    }
}
