using GcHeap.Diagnostics;
using GcHeap.Model;

namespace GcHeap.Tests;

/// <summary>
/// Forces the EBUSY path for real: a forked child shares the heap's pages copy-on-write, so
/// the kernel refuses UFFDIO_MOVE of every page the parent has not written since the fork
/// (the refusal outlives the child). Pages of pure data (byte arrays) are not written by
/// compaction, so they must go through UFFDIO_COPY + MADV_DONTNEED. No mocking of the kernel.
/// </summary>
public class ForkEbusyTests
{
    [Fact]
    public void MoveFallsBackToCopyWhenAForkedChildSharesThePages()
    {
        // DontForkHeap = false so the child really maps the heap.
        using var heap = TestHeaps.Create(GcBackend.Move, configure: o =>
        {
            o.DontForkHeap = false;
            o.NurseryBytes = 0; // no nursery: the test stages whole pages to move, and the nursery copies every page it hands out
        });
        using var m = heap.AttachCurrentThread();
        using var graph = new MirroredGraph(m, new ModelTypes(heap), seed: 17);
        graph.Grow(24, 300);

        // Dense pages of pure data, small and large, that compaction moves without writing.
        var arrays = new List<(GcRoot Root, byte[] Data)>();
        var rnd = new Random(3);
        using (m.OpenScope())
        {
            for (int i = 0; i < 400; i++)
            {
                var data = new byte[i % 10 == 0 ? 20000 : 1500];
                rnd.NextBytes(data);
                var a = m.AllocateArray(heap.Types.ByteArray, data.Length);
                m.WriteItems<byte>(a, 0, data);
                arrays.Add((m.CreateRoot(a), data));
            }
        }

        graph.Compare("before the fork");
        CollectionStats stats;
        using (ForkedPageHolder.Start())
        {
            stats = heap.Collect();
        }

        Assert.True(stats.EbusyFallbacks > 0, $"the kernel never answered EBUSY: {stats}");
        Assert.True(stats.PagesCopied >= stats.EbusyFallbacks);
        // Pages written since the fork (compacted buffers, pages whose references were fixed) are
        // exclusive again and still went in by UFFDIO_MOVE.
        Assert.True(stats.PagesInstalled - stats.PagesCopied > 0, $"nothing was moved: {stats}");
        Assert.True(stats.Verified);
        graph.Compare("after compaction with EBUSY fallbacks");
        using (m.OpenScope())
        {
            foreach (var (root, data) in arrays)
            {
                var got = new byte[data.Length];
                m.ReadItems<byte>(root.Ref, 0, got);
                Assert.Equal(data, got);
            }
        }

        // The fallback dropped its source pages: what is resident is what is live (plus slack).
        Assert.True(heap.ResidentBytes <= stats.HeapBytesAfter + (1 << 20), $"resident {heap.ResidentBytes} vs heap {stats.HeapBytesAfter}");

        // Once written by the parent again, pages are exclusive and move zero-copy.
        var next = heap.Collect();
        Assert.Equal(0, next.EbusyFallbacks);
        foreach (var (root, _) in arrays)
        {
            root.Dispose();
        }
    }

    /// <summary>
    /// A forked child shares only some pages of a long run: the pages written since the fork are
    /// exclusive again and must still go in by UFFDIO_MOVE, each shared page alone by COPY,
    /// within the same run (EBUSY is handled page by page, not by copying the rest of the run).
    /// </summary>
    [Fact]
    public void EbusyOnSomePagesOfARunCopiesOnlyThosePages()
    {
        using var heap = TestHeaps.Create(GcBackend.Move, configure: o =>
        {
            o.DontForkHeap = false;
            o.MinMovePages = 1; // every run by MOVE: any COPY below is an EBUSY fallback
            o.NurseryBytes = 0; // no nursery: the test stages whole pages to move, and the nursery copies every page it hands out
        });
        using var m = heap.AttachCurrentThread();

        // 200 large byte arrays of 5 pages each, allocated back to back: one long run of whole
        // pages that compaction moves without writing (no references to fix).
        var arrays = new List<(GcRoot Root, byte[] Data)>();
        var rnd = new Random(11);
        using (m.OpenScope())
        {
            for (int i = 0; i < 200; i++)
            {
                var data = new byte[5 * 4096 - 64];
                rnd.NextBytes(data);
                var a = m.AllocateArray(heap.Types.ByteArray, data.Length);
                m.WriteItems<byte>(a, 0, data);
                arrays.Add((m.CreateRoot(a), data));
            }
        }

        CollectionStats stats;
        using (ForkedPageHolder.Start())
        {
            // Every other array is written again after the fork: its pages are exclusive, the rest shared.
            for (int i = 0; i < arrays.Count; i += 2)
            {
                var (root, data) = arrays[i];
                for (int off = 0; off < data.Length; off += 4096)
                {
                    data[off] ^= 0xff;
                    m.WriteItems<byte>(root.Ref, off, data.AsSpan(off, 1));
                }
            }

            stats = heap.Collect();
        }

        Assert.True(stats.EbusyFallbacks >= 100 * 5, $"expected the shared arrays' pages to answer EBUSY: {stats}");
        Assert.Equal(stats.EbusyFallbacks, stats.PagesCopied); // nothing else was copied
        Assert.True(stats.PagesMoved >= 100 * 5, $"the exclusive pages of the same runs were not moved: {stats}");
        Assert.True(stats.RunsMoved < stats.EbusyFallbacks, $"runs restarted page by page instead of continuing: {stats}");
        Assert.True(stats.Verified);
        using (m.OpenScope())
        {
            foreach (var (root, data) in arrays)
            {
                var got = new byte[data.Length];
                m.ReadItems<byte>(root.Ref, 0, got);
                Assert.Equal(data, got);
                root.Dispose();
            }
        }
    }

    [Fact]
    public void DontForkHeapKeepsPagesExclusiveAcrossAFork()
    {
        using var heap = TestHeaps.Create(GcBackend.Move); // DontForkHeap defaults to true
        using var m = heap.AttachCurrentThread();
        using var graph = new MirroredGraph(m, new ModelTypes(heap), seed: 18);
        graph.Grow(24, 300);
        CollectionStats stats;
        using (ForkedPageHolder.Start())
        {
            stats = heap.Collect();
        }

        Assert.Equal(0, stats.EbusyFallbacks);
        graph.Compare("after a fork with MADV_DONTFORK heap");
    }
}
