namespace GcHeap.Tests;

/// <summary>
/// <see cref="HeapOptions.PackedPagesByCopy"/>: with Move, packed pages (built in a buffer) go in
/// by UFFDIO_COPY and whole pages by UFFDIO_MOVE; without it both move (tests run with
/// <see cref="HeapOptions.MinMovePages"/> 1, so every run moves). Every kept object is checked.
/// </summary>
public class PackedPagesByCopyTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void PackedPagesGoInByCopyAndWholePagesByMove(bool packedByCopy)
    {
        using var heap = TestHeaps.Create(GcBackend.Move, configure: o =>
        {
            o.BackgroundCollection = false;
            o.PackedPagesByCopy = packedByCopy;
            o.RunBridgePages = 0;
            o.NurseryBytes = 0; // no nursery: the test stages whole pages to move, and the nursery copies every page it hands out
        });
        // Every other page thinned to a tenth of its objects, no bridging: those pages are packed,
        // the rest move whole. The helper checks every kept object after the collection.
        var (stats, _) = RandomGraphTests.CollectThinned(heap, thinEvery: 2, keepEvery: 10);
        Assert.True(stats.PagesCompacted > 0 && stats.PagesWhole > 0, stats.ToString());
        Assert.Equal(0, stats.PagesZeroFilled);
        if (packedByCopy)
        {
            Assert.Equal(stats.PagesCompacted, stats.PagesCopied);
            Assert.Equal(stats.PagesInstalled - stats.PagesCompacted, stats.PagesMoved);
        }
        else
        {
            Assert.Equal(0, stats.PagesCopied);
            Assert.Equal(stats.PagesInstalled, stats.PagesMoved);
        }

        Assert.True(heap.Collect().Verified); // and the next cycle builds from those pages
    }
}
