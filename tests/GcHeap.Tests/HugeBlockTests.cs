using GcHeap.Model;

namespace GcHeap.Tests;

/// <summary>
/// Move on transparent huge pages: an aligned 2 MiB block of pages that all move whole goes to an
/// aligned to-space block (the planner pads with holes) and is moved by one UFFDIO_MOVE of its PMD.
/// The tests assert the paths taken (counters, and PAGEMAP_SCAN of the destination inside the
/// native collector), and that the graph is the same graph after every collection.
/// Transparent huge pages are experimental (off by default): these tests turn them on and run
/// alone (see <see cref="HeapOptions.TransparentHugePages"/>).
/// </summary>
[Collection(SerialTests.Name)]
public class HugeBlockTests
{
    private const int ArrayLength = 500; // 8 + 500 x 8 = 4,008 bytes: one dense page per array

    /// <summary>Tests that stage whole 2 MiB blocks run without a nursery, which packs every page it hands out.</summary>
    private static HeapOptions NoNursery(HeapOptions o)
    {
        o.NurseryBytes = 0;
        return o;
    }

    [ThpFact]
    public void WholeBlocksMoveByPmdAndStayHuge()
    {
        using var heap = TestHeaps.Create(GcBackend.Move, 128L << 20, o => NoNursery(o).MinMovePages = 48, thp: true);
        Assert.True(heap.TransparentHugePages, heap.BackendReason);
        using var m = heap.AttachCurrentThread();

        // A leading sparse page, then 24 MiB of dense pages, every page live.
        using var chain = BuildChain(m, heap, 6144, out var smallRoot);
        var first = heap.Collect();
        AssertPmdMoved(first, "first collection");
        CheckChain(m, chain.Ref, 6144);

        // Blocks moved by PMD arrive huge, so the next collection moves them by PMD again.
        var second = heap.Collect();
        AssertPmdMoved(second, "second collection");
        Assert.True(second.PagesPmdMoved >= first.PagesPmdMoved - 512, $"fewer blocks stayed huge: {first.PagesPmdMoved} then {second.PagesPmdMoved} ({second})");
        CheckChain(m, chain.Ref, 6144);
        smallRoot.Dispose();
    }

    /// <summary>
    /// Small heaps on huge pages: two sweepers and the fault thread (the verifier reads to-space while
    /// the compactor runs) move pages out of the same transparent huge page at once. On Linux 6.18
    /// one of two such MOVEs can complete and answer EEXIST (experiments/kernel-costs/thp_move_race.c);
    /// before the compactor checked such answers, this test failed with "EEXIST in UFFDIO_MOVE" in
    /// one of three runs (more often in a fresh process; it is a race, so it catches a regression
    /// often, not always). Every collection must succeed and keep the graph.
    /// </summary>
    [ThpFact]
    public void MovesRacingOutOfOneHugePageNeverFailACollection()
    {
        for (int round = 0; round < 40; round++)
        {
            using var heap = TestHeaps.Create(GcBackend.Move, thp: true, configure: o => o.CompactorThreads = 2);
            Assert.True(heap.TransparentHugePages, heap.BackendReason);
            using var m = heap.AttachCurrentThread();
            using var graph = new MirroredGraph(m, new ModelTypes(heap), seed: 8 + round);
            graph.Grow(8, 2000);
            for (int i = 0; i < 3; i++)
            {
                var s = heap.Collect();
                Assert.True(s.Verified);
                graph.Compare($"round {round}, collection {i} ({s.MovesMisreported} pages moved despite EEXIST)");
            }
        }
    }

    [ThpFact]
    public void GarbageBetweenBlocksIsCollectedAndTheRestStaysAligned()
    {
        using var heap = TestHeaps.Create(GcBackend.Move, 128L << 20, o => NoNursery(o).MinMovePages = 48, thp: true);
        using var m = heap.AttachCurrentThread();
        using var chain = BuildChain(m, heap, 4096, out var smallRoot);

        // Garbage of about 300 pages, then more live blocks: the pages after the garbage shift
        // by an amount that is not a multiple of 512 unless holes restore it.
        using (m.OpenScope())
        {
            for (int i = 0; i < 300; i++)
            {
                _ = m.AllocateArray(heap.Types.ReferenceArray, ArrayLength);
            }
        }

        using var tail = BuildChain(m, heap, 3072, out var smallRoot2);
        var stats = heap.Collect();
        AssertPmdMoved(stats, "after garbage");
        Assert.True(stats.HugeBlocksPlanned >= 10, $"the live blocks were not planned aligned: {stats}");
        Assert.True(stats.PagesHoles > 0, $"the blocks after the garbage needed padding: {stats}");
        CheckChain(m, chain.Ref, 4096);
        CheckChain(m, tail.Ref, 3072);
        smallRoot.Dispose();
        smallRoot2.Dispose();
    }

    [ThpFact]
    public void FaultsInsideAHugeBlockWaitForTheWholeBlock()
    {
        // The verifier reads to-space right after the flip while the sweeper is held back, so most
        // pages it touches are faults; in a huge block the fault's window is the block.
        using var heap = TestHeaps.Create(GcBackend.Move, 128L << 20, o =>
        {
            NoNursery(o).MinMovePages = 48;
            o.SweepDelayMicros = 200;
        }, thp: true);
        using var m = heap.AttachCurrentThread();
        using var chain = BuildChain(m, heap, 4096, out var smallRoot);
        var stats = heap.Collect();
        Assert.True(stats.FaultsServed > 0, $"no fault was served: {stats}");
        AssertPmdMoved(stats, "with faults");
        CheckChain(m, chain.Ref, 4096);
        smallRoot.Dispose();
    }

    [Fact]
    public void WithoutHugePagesNothingIsPaddedOrMovedByPmd()
    {
        using var heap = TestHeaps.Create(GcBackend.Move, 64L << 20, o =>
        {
            NoNursery(o).MinMovePages = 48;
            o.TransparentHugePages = false;
        });
        Assert.False(heap.TransparentHugePages);
        using var m = heap.AttachCurrentThread();
        using var chain = BuildChain(m, heap, 2048, out var smallRoot);
        var stats = heap.Collect();
        Assert.Equal(0, stats.PagesPmdMoved);
        Assert.Equal(0, stats.HugeBlocksMoved);
        Assert.Equal(0, stats.PagesHoles);
        Assert.True(stats.PagesZeroCopy > 0, $"nothing was moved: {stats}");
        CheckChain(m, chain.Ref, 2048);
        smallRoot.Dispose();
    }

    [Theory]
    [InlineData(GcBackend.Copy)]
    [InlineData(GcBackend.StopTheWorld)]
    public void OtherBackendsUseHugePagesWithoutHoles(GcBackend backend)
    {
        using var heap = TestHeaps.Create(backend, 64L << 20, thp: true);
        using var m = heap.AttachCurrentThread();
        using var chain = BuildChain(m, heap, 2048, out var smallRoot);
        var stats = heap.Collect();
        Assert.Equal(0, stats.PagesHoles);
        Assert.Equal(0, stats.PagesPmdMoved);
        Assert.True(stats.Verified);
        CheckChain(m, chain.Ref, 2048);
        smallRoot.Dispose();
    }

    private static void AssertPmdMoved(CollectionStats s, string when)
    {
        Assert.True(s.Verified, when);
        Assert.True(s.HugeBlocksMoved > 0, $"{when}: no huge block was moved as one run: {s}");
        Assert.True(s.PagesPmdMoved > 0, $"{when}: no page arrived mapped by a PMD: {s}");
        Assert.Equal(0, s.PagesPmdMoved % 512);
        Assert.True(s.PagesPmdMoved <= s.PagesZeroCopy, $"{when}: PMD-moved pages must be zero-copy pages: {s}");
    }

    /// <summary>
    /// One small sparse object (rooted) first, then <paramref name="count"/> reference arrays of one
    /// page each, each pointing at the one before (every page has a reference to fix).
    /// </summary>
    private static GcRoot BuildChain(Mutator m, Heap heap, int count, out GcRoot small)
    {
        using var scope = m.OpenScope();
        small = m.CreateRoot(m.AllocateArray(heap.Types.ByteArray, 100));
        var keep = m.CreateRoot(m.AllocateArray(heap.Types.ReferenceArray, ArrayLength));
        for (int i = 1; i < count; i++)
        {
            using var inner = m.OpenScope();
            var a = m.AllocateArray(heap.Types.ReferenceArray, ArrayLength);
            m.SetElement(a, 0, keep.Ref);
            keep.Set(m, a);
        }

        return keep;
    }

    private static void CheckChain(Mutator m, GcRef head, int count)
    {
        using var scope = m.OpenScope();
        var cur = head;
        int n = 0;
        while (!cur.IsNull)
        {
            Assert.Equal(ArrayLength, m.GetLength(cur));
            cur = m.GetElement(cur, 0);
            n++;
        }

        Assert.Equal(count, n);
    }
}

/// <summary>A fact that runs only where the kernel gives transparent huge pages to a MADV_HUGEPAGE range.</summary>
public sealed class ThpFactAttribute : FactAttribute
{
    public ThpFactAttribute()
    {
        string mode;
        try
        {
            mode = File.ReadAllText("/sys/kernel/mm/transparent_hugepage/enabled").Trim();
        }
        catch (IOException e)
        {
            Skip = $"no transparent huge pages: {e.Message}";
            return;
        }

        if (!mode.Contains("[always]", StringComparison.Ordinal) && !mode.Contains("[madvise]", StringComparison.Ordinal))
        {
            Skip = $"transparent huge pages are off ({mode})";
        }
    }
}
