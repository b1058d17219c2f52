namespace GcHeap.Tests;

/// <summary>
/// Regression: a sparse page whose live objects split across two compacted to-space pages with
/// many dense pages (moved whole) planned in between. The split's destination used to be stored
/// as a 16-bit gap, which overflowed from 16 whole pages on (found by the benchmarks and by the
/// multi-threaded tests); the plan now records the split page itself.
/// </summary>
public class PlannerRegressionTests
{
    public static TheoryData<GcBackend, int> Cases()
    {
        var d = new TheoryData<GcBackend, int>();
        foreach (var b in new[] { GcBackend.StopTheWorld, GcBackend.Copy, GcBackend.Move })
        {
            foreach (int dense in new[] { 15, 16, 40 })
            {
                d.Add(b, dense);
            }
        }

        return d;
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void SplitAcrossManyWholePagesForwardsEveryObject(GcBackend backend, int densePages)
    {
        using var heap = TestHeaps.Create(backend, configure: o => o.NurseryBytes = 0); // no nursery: the test stages page layouts, and the nursery packs every page it hands out
        var longArray = heap.Types.DefineDataArray<long>("long[]"); // long[16]: 136 bytes, 30 per page
        using var m = heap.AttachCurrentThread();
        using var outer = m.OpenScope();
        var live = new List<GcRef>();

        void Alloc(bool keep)
        {
            if (keep)
            {
                var a = m.AllocateArray(longArray, 16);
                m.SetItem(a, 0, (long)live.Count);
                m.SetItem(a, 15, -(long)live.Count);
                live.Add(a);
            }
            else
            {
                using var garbage = m.OpenScope();
                m.AllocateArray(longArray, 16);
            }
        }

        for (int i = 0; i < 30; i++)
        {
            Alloc(keep: i >= 10); // page A: 20 live: sparse, opens a compacted page
        }

        for (int i = 0; i < 30 * densePages; i++)
        {
            Alloc(keep: true); // dense pages: moved whole, each takes the next to-space page
        }

        for (int i = 0; i < 30; i++)
        {
            Alloc(keep: i < 15); // page Z: 15 live: 10 fit in the open page, 5 split far ahead
        }

        var stats = heap.Collect();
        Assert.True(stats.Verified);
        Assert.True(stats.PagesSparse >= 2 && stats.PagesDense >= densePages, stats.ToString());
        for (int i = 0; i < live.Count; i++)
        {
            Assert.Equal(i, m.GetItem<long>(live[i], 0));
            Assert.Equal(-i, m.GetItem<long>(live[i], 15));
        }
    }

    /// <summary>
    /// Dead large objects are planned from the page table alone (their memory is not read): runs
    /// of one to five pages, dead and live interleaved, in the nursery and above it. Every dead
    /// page is dropped and every live array keeps its contents.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestHeaps.AllBackends), MemberType = typeof(TestHeaps))]
    public void DeadLargeObjectsOfEverySizeAreDroppedWithoutReadingThem(GcBackend backend)
    {
        using var heap = TestHeaps.Create(backend, configure: o => o.NurseryBytes = 1 << 20); // 256 pages: the rest lands above
        using var m = heap.AttachCurrentThread();
        var live = new List<(GcRoot Root, int Pages, byte Fill)>();
        long deadPages = 0;
        for (int i = 0; i < 200; i++)
        {
            int pages = 1 + (i % 5);
            using var s = m.OpenScope();
            var a = m.AllocateArray(heap.Types.ByteArray, (pages * 4096) - 64);
            if (i % 3 == 0)
            {
                m.FillItems(a, 0, (pages * 4096) - 64, (byte)i);
                live.Add((m.CreateRoot(a), pages, (byte)i));
            }
            else
            {
                deadPages += pages;
            }
        }

        var st = heap.Collect();
        Assert.True(st.Verified);
        Assert.True(st.PagesEmpty >= deadPages, $"{st.PagesEmpty} pages dropped, {deadPages} dead: {st}");
        Assert.Equal(live.Sum(x => x.Pages), st.PagesLarge);
        foreach (var (root, pages, fill) in live)
        {
            var bytes = new byte[(pages * 4096) - 64];
            m.ReadItems<byte>(root.Ref, 0, bytes);
            Assert.All(bytes, b => Assert.Equal(fill, b));
            root.Dispose();
        }
    }
}
