using GcHeap.Memory;

namespace GcHeap.Tests;

/// <summary>
/// The allocation prefault thread populates pages ahead of the mutators, never leaves a page
/// behind in a space that becomes to-space (a present page there would make MOVE/COPY answer
/// EEXIST and fail the collection), and keeps RSS within one window of what was allocated.
/// </summary>
public class AllocationPrefaultTests
{
    private const int Window = 64;

    [Theory]
    [MemberData(nameof(TestHeaps.AllBackends), MemberType = typeof(TestHeaps))]
    public void PagesArePopulatedAheadAndGoneWhenTheSpaceIsDiscarded(GcBackend backend)
    {
        // Without a nursery, so that every buffer comes from bump allocation (NurseryTests covers
        // the nursery, whose pages are mapped already and never prefaulted).
        using var heap = TestHeaps.Create(backend, configure: o =>
        {
            o.AllocationPrefaultPages = Window;
            o.NurseryBytes = 0;
        });
        var node = heap.Types.DefineObject("Node", b => b.Reference("next").Value<long>("v"));
        var next = node.RefField("next");
        using var m = heap.AttachCurrentThread();
        using var keep = m.CreateRoot(m.AllocateArray(heap.Types.ReferenceArray, 1));

        for (int cycle = 0; cycle < 4; cycle++)
        {
            // About 300 pages of small objects, a list kept alive, plus large arrays (page runs).
            var ctx = m.GetContext();
            var head = ctx.View(keep).GetElement(0).ToHandle();
            for (int i = 0; i < 300 * 100; i++)
            {
                var n = ctx.Allocate(node);
                n.SetRef(next, ctx.View(head));
                if (i % 8 == 0)
                {
                    head = n.ToHandle();
                }
            }

            ctx.View(keep).SetElement(0, ctx.View(head));
            for (int i = 0; i < 20; i++)
            {
                m.AllocateArray(heap.Types.ByteArray, 3 * 4096);
            }

            Space alloc = heap.AllocationSpace;
            int hw = alloc.HighWater;
            Assert.True(alloc.PopulatedTo > hw, $"nothing populated ahead (populated to {alloc.PopulatedTo}, high water {hw})");
            Assert.True(alloc.PopulatedTo <= hw + Window + 3, $"populated {alloc.PopulatedTo - hw} pages ahead, the window is {Window}");

            var st = heap.Collect();
            Assert.True(st.Verified);
            Assert.Equal(0, st.Eexist);

            // The space just left is empty: every page it had, populated ahead or allocated, is gone.
            Space old = heap.OtherSpace(heap.AllocationSpace);
            Assert.Equal(0, old.ResidentPages());
            Assert.Equal(0, old.PopulatedTo);
        }

        var stats = heap.AllocationPrefault;
        Assert.NotNull(stats);
        Assert.True(stats.PagesPopulated > 0);
        Assert.True(stats.Requests > 0);
        Assert.Null(stats.StoppedBy);
        Assert.Null(heap.AllocationPrefaultUnavailableReason);
    }

    [Fact]
    public void OffByOptionNothingIsPopulatedAndTheReasonSaysSo()
    {
        using var heap = TestHeaps.Create(GcBackend.Move, configure: o => o.AllocationPrefaultPages = 0);
        using var m = heap.AttachCurrentThread();
        using (m.OpenScope())
        {
            for (int i = 0; i < 50; i++)
            {
                m.AllocateArray(heap.Types.ByteArray, 4000);
            }
        }

        Assert.Null(heap.AllocationPrefault);
        Assert.Contains("AllocationPrefaultPages = 0", heap.AllocationPrefaultUnavailableReason);
        Assert.Equal(heap.AllocationSpace.NurseryPages, heap.AllocationSpace.PopulatedTo); // nothing above the nursery
        Assert.True(heap.Collect().Verified);
    }

    [Fact]
    public void StatisticsStayReadableAfterDisposal()
    {
        var heap = TestHeaps.Create(GcBackend.Copy, configure: o =>
        {
            o.AllocationPrefaultPages = Window;
            o.NurseryBytes = 0; // the arrays would come from the nursery, which is never prefaulted
        });
        using (var m = heap.AttachCurrentThread())
        using (m.OpenScope())
        {
            for (int i = 0; i < 200; i++)
            {
                m.AllocateArray(heap.Types.ByteArray, 4000);
            }
        }

        heap.Dispose();
        var stats = heap.AllocationPrefault;
        Assert.NotNull(stats);
        Assert.True(stats.Requests > 0);
    }

    [Fact]
    public void AnOutOfRangeWindowIsRejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new Heap(new HeapOptions { AllocationPrefaultPages = -1 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => new Heap(new HeapOptions { AllocationPrefaultPages = 1 << 20 }));
    }
}
