using GcHeap.Model;
using GcHeap.Memory;

namespace GcHeap.Tests;

/// <summary>
/// The allocation nursery (<see cref="HeapOptions.NurseryBytes"/>): allocation buffers come from
/// pages the heap keeps mapped across collections; a collection packs the nursery's live objects
/// out (never moving its page frames) and zeroes its pages in place; nothing is lost.
/// </summary>
public class NurseryTests
{
    private const int Nodes = 20_000; // 24-byte nodes: about 120 pages

    [Theory]
    [MemberData(nameof(TestHeaps.AllBackends), MemberType = typeof(TestHeaps))]
    public void AllocationAfterACollectionWritesToMappedZeroedNurseryPages(GcBackend backend)
    {
        using var heap = TestHeaps.Create(backend);
        Assert.Equal(8L << 20, heap.NurseryBytes); // 32 MiB default, capped at an eighth of 64 MiB
        int nursery = heap.NurseryPages;
        var node = heap.Types.DefineObject("Node", b => b.Reference("next").Value<long>("v"));
        var next = node.RefField("next");
        var v = node.Field<long>("v");
        using var m = heap.AttachCurrentThread();
        using var keep = m.CreateRoot(m.AllocateArray(heap.Types.ReferenceArray, 1));

        long expectedSum = 0;
        for (int cycle = 0; cycle < 4; cycle++)
        {
            Space alloc = heap.AllocationSpace;
            int mappedBefore = ResidentNurseryPages(alloc);

            // A list of every 4th node kept (the rest garbage), prepended to what survived so far.
            var ctx = m.GetContext();
            var head = ctx.View(keep).GetElement(0).ToHandle();
            var first = ctx.Allocate(node);
            Assert.True(alloc.PageOf(first.Address) < nursery, $"cycle {cycle}: the first buffer after a collection is not a nursery page");
            for (int i = 0; i < Nodes; i++)
            {
                var n = ctx.Allocate(node);
                if (i % 4 == 0)
                {
                    n.Set(v, i);
                    n.SetRef(next, ctx.View(head));
                    head = n.ToHandle();
                    expectedSum += i;
                }
            }

            ctx.View(keep).SetElement(0, ctx.View(head));
            int taken = alloc.NurseryTaken;
            Assert.InRange(taken, Nodes * 24 / 4096, nursery);
            Assert.Equal(taken + alloc.HighWater - nursery, alloc.PagesInUse);
            if (cycle >= 2)
            {
                // This space's nursery was used two cycles ago: its pages were still mapped when
                // allocation began here (the point of it: no first-touch fault per page).
                Assert.True(mappedBefore >= taken, $"cycle {cycle}: {mappedBefore} nursery pages were mapped before allocation, {taken} were then used");
            }

            var st = heap.Collect();
            Assert.True(st.Verified);
            Assert.Equal(0, st.Eexist);
            Assert.Equal(taken, st.NurseryPagesReused);

            // The space just left kept its nursery pages, zeroed; everything above is gone.
            Space old = heap.OtherSpace(heap.AllocationSpace);
            Assert.Same(alloc, old);
            Assert.Equal(0, old.NurseryTaken);
            Assert.True(ResidentNurseryPages(old) >= taken, "the nursery pages were given back");
            Assert.Equal(ResidentNurseryPages(old), old.ResidentPages());
            Assert.True(IsZero(old.Base, taken), "a nursery page was not zeroed");

            Assert.Equal(expectedSum, SumList(m, keep, next, v));
        }
    }

    [Theory]
    [InlineData(GcBackend.Move)]
    [InlineData(GcBackend.Continue)]
    public void DenseLiveNurseryPagesArePackedNeverMovedByFrame(GcBackend backend)
    {
        // Every object stays live: the nursery's pages are dense, which would move them whole
        // (by their page frame with Move) anywhere else in the space.
        using var heap = TestHeaps.Create(backend);
        var node = heap.Types.DefineObject("Node", b => b.Reference("next").Value<long>("v"));
        var next = node.RefField("next");
        var v = node.Field<long>("v");
        using var m = heap.AttachCurrentThread();
        using var keep = m.CreateRoot(m.AllocateArray(heap.Types.ReferenceArray, 1));
        var ctx = m.GetContext();
        var head = default(GcRef);
        long sum = 0;
        for (int i = 0; i < Nodes; i++)
        {
            var n = ctx.Allocate(node);
            n.Set(v, i);
            n.SetRef(next, head.IsNull ? default : ctx.View(head));
            head = n.ToHandle();
            sum += i;
        }

        ctx.View(keep).SetElement(0, ctx.View(head));
        Space alloc = heap.AllocationSpace;
        int taken = alloc.NurseryTaken;
        Assert.True(taken > 100);
        Assert.Equal(alloc.NurseryPages, alloc.HighWater); // nothing allocated above the nursery

        var st = heap.Collect();
        Assert.True(st.Verified);
        Assert.Equal(0, st.PagesWhole);
        Assert.Equal(0, st.PagesZeroCopy); // no page frame left the nursery
        Assert.True(st.PagesCompacted >= taken - 1, $"{st.PagesCompacted} pages packed from {taken} dense nursery pages");
        Assert.True(ResidentNurseryPages(alloc) >= taken);
        Assert.Equal(sum, SumList(m, keep, next, v));
    }

    [Theory]
    [MemberData(nameof(TestHeaps.ConcurrentBackends), MemberType = typeof(TestHeaps))]
    public void NurseryPagesTakenWhileMarkingAreBlackAndKeepTheirFrames(GcBackend backend)
    {
        // A second thread allocates only while the collector lets it: once marking has begun the
        // collector lets it take 20 more nursery pages and waits for them: those are black
        // (allocated during marking), planned whole before the flip (not in its pause), and
        // installed by copy, so the nursery still has every frame afterwards. (Letting it allocate
        // all along made the test flaky: the nursery could be full before marking began, or the
        // heap fill up while the collector waited, so that no nursery page could come.)
        using var heap = TestHeaps.Create(backend);
        var node = heap.Types.DefineObject("Node", b => b.Reference("next").Value<long>("v"));
        var next = node.RefField("next");
        var v = node.Field<long>("v");
        using var stop = new ManualResetEventSlim();
        using var go = new ManualResetEventSlim();
        var errors = new List<Exception>();
        long kept = 0;
        var worker = TestHeaps.StartMutator(heap, "allocator", m =>
        {
            using var keep = m.CreateRoot(m.AllocateArray(heap.Types.ReferenceArray, 1));
            var ctx = m.GetContext();
            for (long i = 0; !stop.IsSet; i++)
            {
                if (!go.IsSet)
                {
                    using (m.EnterSafeRegion())
                    {
                        go.Wait(TimeSpan.FromMilliseconds(5));
                    }

                    ctx = m.GetContext();
                    i--;
                    continue;
                }

                var n = ctx.Allocate(node);
                if (i % 16 == 0)
                {
                    n.Set(v, i);
                    n.SetRef(next, ctx.View(keep).GetElement(0));
                    ctx.View(keep).SetElement(0, n);
                    kept += i;
                }

                if (i % 1024 == 0)
                {
                    ctx = m.GetContext(); // a poll: the handshakes of marking need it
                    m.Safepoint();
                }
            }

            long sum = 0;
            for (var cur = m.GetContext().View(keep).GetElement(0); !cur.IsNull; cur = cur.GetRef(next))
            {
                sum += cur.Get(v);
            }

            Assert.Equal(kept, sum);
        }, errors);

        using var m = heap.AttachCurrentThread();
        long black = 0;
        for (int cycle = 0; cycle < 3; cycle++)
        {
            Space alloc = heap.AllocationSpace;
            bool sawPages = false;
            int blackFirst = 0;
            Diagnostics.PageMapProbe.PageInfo[]? frames = null;
            heap.Collector.TestHooks.AfterMarkStart = () =>
            {
                int at = alloc.NurseryTaken;
                go.Set();
                var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
                while (alloc.NurseryTaken < Math.Min(at + 21, alloc.NurseryPages) && DateTime.UtcNow < deadline)
                {
                    Thread.Sleep(1);
                }

                go.Reset();

                sawPages = at + 21 <= alloc.NurseryPages && alloc.NurseryTaken >= at + 21;
                blackFirst = at;
                frames = Diagnostics.PageMapProbe.Read(alloc.PageAddress(at), 20); // the thread writes the 21st
            };
            var st = heap.Collect();
            heap.Collector.TestHooks.AfterMarkStart = null;
            Assert.True(st.Verified);
            Assert.Equal(0, st.Eexist);
            if (sawPages)
            {
                Assert.True(st.PagesBlack >= 20, $"the nursery pages taken while marking were not planned black: {st}");
                Assert.True(heap.Collector.NurseryPagesPlannedWhileRunning >= 20, $"{heap.Collector.NurseryPagesPlannedWhileRunning} black nursery pages planned before the flip: the pause planned the rest");
                if (backend != GcBackend.Continue)
                {
                    Assert.True(st.PagesNurseryCopied >= 20, $"{st.PagesNurseryCopied} black nursery pages installed by copy: {st}");
                }

                black += st.PagesBlack;

                // Each kept its page frame (pagemap's frame numbers; 0 where they are not readable).
                var after = Diagnostics.PageMapProbe.Read(alloc.PageAddress(blackFirst), 20);
                for (int i = 0; frames is not null && after is not null && i < 20; i++)
                {
                    Assert.True(frames[i].Pfn == 0 || frames[i].Pfn == after[i].Pfn, $"black nursery page {blackFirst + i} lost its frame ({frames[i].Pfn:x} -> {after[i].Pfn:x}): {st}");
                }
            }

            Assert.True(ResidentNurseryPages(alloc) >= st.NurseryPagesReused, $"a nursery page frame left the nursery: {ResidentNurseryPages(alloc)} resident, {st.NurseryPagesReused} used: {st}");
            Assert.True(IsZero(alloc.Base, (int)st.NurseryPagesReused), "a nursery page was not zeroed");
        }

        stop.Set();
        TestHeaps.JoinAll([worker], TimeSpan.FromSeconds(60));
        TestHeaps.ThrowFirst(errors);
        Assert.True(black > 0, "no cycle saw nursery pages taken while marking");
        Assert.True(heap.Verify().IsValid);
    }

    [Theory]
    [MemberData(nameof(TestHeaps.AllBackends), MemberType = typeof(TestHeaps))]
    public void LargeObjectsComeFromTheNurseryAndAreCopiedOutWhole(GcBackend backend)
    {
        using var heap = TestHeaps.Create(backend);
        using var m = heap.AttachCurrentThread();
        using var keep = m.CreateRoot(m.AllocateArray(heap.Types.ReferenceArray, 8));
        Space alloc = heap.AllocationSpace;
        var pages = new List<int>();
        for (int i = 0; i < 16; i++)
        {
            using var s = m.OpenScope();
            var a = m.AllocateArray(heap.Types.ByteArray, 3 * 4096); // a run of 4 pages
            int first = alloc.PageOf(m.AddressOf(a));
            Assert.True(first + 4 <= alloc.NurseryPages, $"array {i} at page {first}, above the nursery");
            m.FillItems(a, 0, 3 * 4096, (byte)(i + 1));
            if (i % 2 == 0)
            {
                m.SetElement(keep, i / 2, a);
                pages.AddRange(Enumerable.Range(first, 4));
            }
        }

        var frames = pages.Select(p => Diagnostics.PageMapProbe.Read(alloc.PageAddress(p), 1)?[0].Pfn ?? 0).ToArray();
        var st = heap.Collect();
        Assert.True(st.Verified);
        Assert.Equal(32, st.PagesLarge); // the live ones, whole
        Assert.Equal(0, st.PagesZeroCopy); // none moved by frame
        for (int i = 0; i < pages.Count; i++)
        {
            ulong after = Diagnostics.PageMapProbe.Read(alloc.PageAddress(pages[i]), 1)?[0].Pfn ?? 0;
            Assert.True(frames[i] == 0 || frames[i] == after, $"nursery page {pages[i]} lost its frame");
        }

        for (int i = 0; i < 8; i++)
        {
            var bytes = new byte[3 * 4096];
            m.ReadItems<byte>(m.GetElement(keep, i), 0, bytes);
            Assert.All(bytes, b => Assert.Equal((byte)((2 * i) + 1), b));
        }
    }

    [Theory]
    [InlineData(8L << 20, 0L)]
    [InlineData(0L, 8L << 20)]
    [InlineData(1L << 20, 8L << 20)]
    [InlineData(8L << 20, 1L << 20)]
    public void ASnapshotLoadsIntoAHeapWithAnotherNursery(long savedWith, long loadedWith)
    {
        // Objects sit in the saving heap's nursery (and above it); the loading heap's nursery may
        // cover more or less of those pages. It must load, collect and allocate without losing any.
        using var heap = TestHeaps.Create(GcBackend.Move, configure: o => o.NurseryBytes = savedWith);
        var types = new ModelTypes(heap);
        using var m = heap.AttachCurrentThread();
        using var graph = new MirroredGraph(m, types, seed: 31);
        graph.Grow(12, 400);
        var names = graph.NamedRoots("r").ToDictionary(x => x.Name, x => x.Root);
        var ms = new MemoryStream();
        heap.SaveSnapshot(ms, new SnapshotOptions { RootNames = names });

        ms.Position = 0;
        using var loaded = Heap.LoadSnapshot(ms, new HeapOptions { MaxHeapBytes = 64 << 20, VerifyHeap = true, BackgroundCollection = false, NurseryBytes = loadedWith });
        var h2 = loaded.Heap;
        Assert.Equal(loadedWith, h2.NurseryBytes);
        using var m2 = h2.AttachCurrentThread();
        var types2 = new ModelTypes(h2);
        graph.CompareWith(m2, types2, i => loaded.Root($"r{i}").Ref, "in the loaded heap");
        for (int cycle = 0; cycle < 3; cycle++)
        {
            using (m2.OpenScope())
            {
                for (int i = 0; i < 5000; i++)
                {
                    m2.Allocate(types2.Node); // garbage, from the new heap's nursery after a collection
                }
            }

            Assert.True(h2.Collect().Verified);
            graph.CompareWith(m2, types2, i => loaded.Root($"r{i}").Ref, $"after collection {cycle} of the loaded heap");
        }
    }

    [Fact]
    public void OffByOptionEveryPageGoesBack()
    {
        using var heap = TestHeaps.Create(GcBackend.Move, configure: o => o.NurseryBytes = 0);
        Assert.Equal(0, heap.NurseryBytes);
        using var m = heap.AttachCurrentThread();
        using (m.OpenScope())
        {
            for (int i = 0; i < 200; i++)
            {
                m.AllocateArray(heap.Types.ByteArray, 2000);
            }
        }

        Space alloc = heap.AllocationSpace;
        Assert.Equal(0, alloc.NurseryTaken);
        Assert.True(heap.Collect().Verified);
        Assert.Equal(0, alloc.ResidentPages());
        Assert.Equal(0, heap.History[^1].NurseryPagesReused);
    }

    [Theory]
    [InlineData(0L, 100)]
    [InlineData(1L << 20, 256)]
    [InlineData(3L << 20, 768)]
    [InlineData(64L << 20, 2048)] // capped at an eighth of the heap
    public void SizeIsCappedAndRounded(long bytes, int pages)
    {
        using var heap = TestHeaps.Create(GcBackend.StopTheWorld, configure: o => o.NurseryBytes = bytes + 100);
        Assert.Equal(pages == 100 ? 0 : pages, heap.NurseryPages);
    }

    [Fact]
    public void NegativeOrHugeSizesAreRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Heap(new HeapOptions { NurseryBytes = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Heap(new HeapOptions { NurseryBytes = 2L << 30 }));
    }

    [Fact]
    public void TheHeapLimitStillBoundsAllocation()
    {
        // 8 MiB limit: 1 MiB nursery; small arrays fill nursery and bump space, then it is full.
        using var heap = TestHeaps.Create(GcBackend.Move, maxBytes: 8 << 20);
        Assert.Equal(256, heap.NurseryPages);
        using var m = heap.AttachCurrentThread();
        using var keep = m.CreateRoot(m.AllocateArray(heap.Types.ReferenceArray, 4096));
        void Fill()
        {
            for (int i = 0; i < 4096; i++)
            {
                using var s = m.OpenScope();
                m.SetElement(keep, i, m.AllocateArray(heap.Types.ByteArray, 3000));
            }
        }

        var ex = Assert.Throws<GcHeapExhaustedException>(Fill);
        Assert.Equal(8L << 20, ex.HeapLimitBytes);
        Assert.True(heap.BytesInUse <= 8L << 20, $"{heap.BytesInUse} bytes in use");

        // A large object bigger than the heap outside the nursery says so.
        var big = Assert.Throws<GcHeapExhaustedException>(() => m.AllocateArray(heap.Types.ByteArray, (8 << 20) - (512 << 10)));
        Assert.Contains("nursery", big.Message, StringComparison.Ordinal);
    }

    private static long SumList(Mutator m, GcRoot keep, GcRefField next, GcField<long> v)
    {
        var ctx = m.GetContext();
        long sum = 0;
        var cur = ctx.View(keep).GetElement(0);
        while (!cur.IsNull)
        {
            sum += cur.Get(v);
            cur = cur.GetRef(next);
        }

        return sum;
    }

    private static int ResidentNurseryPages(Space s)
    {
        int n = 0;
        for (int p = 0; p < s.NurseryPages; p++)
        {
            if (GcHeap.Interop.NativeMethods.MemResidentPages((ulong)s.PageAddress(p), 4096, out ulong r) == 0 && r != 0)
            {
                n++;
            }
        }

        return n;
    }

    private static unsafe bool IsZero(nint a, int pages) => new ReadOnlySpan<byte>((void*)a, pages * 4096).IndexOfAnyExcept((byte)0) < 0;
}
