using GcHeap.Compaction;
using GcHeap.Model;
using GcHeap.Tests.Support;

namespace GcHeap.Tests;

/// <summary>
/// A failure before the flip that may go away (no thread can be created, the kernel is short of
/// memory) must not kill the heap: nothing has moved yet, so that cycle runs stop-the-world and
/// the heap goes on (issue 10, item 8). The failures are real: a seccomp filter installed on the
/// heap's collector thread (from a CollectionCompleted handler, which runs there) makes its
/// clone3 fail with EAGAIN, or its UFFDIO_REGISTER with ENOMEM.
/// </summary>
[Collection(SerialTests.Name)]
public class TransientFailureTests
{
    public static TheoryData<GcBackend, string> Cases() => new()
    {
        { GcBackend.Move, "clone3" },
        { GcBackend.Copy, "clone3" },
        { GcBackend.Move, "register" },
        { GcBackend.Copy, "register" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void CycleRunsStopTheWorldWhenTheCompactorCannotStart(GcBackend backend, string failing)
    {
        SyscallFailures.Rule rule = failing == "clone3"
            ? new(SyscallFailures.SysClone3, Interop.Errno.EAGAIN)
            : new(SyscallFailures.SysIoctl, Interop.Errno.ENOMEM, 1, SyscallFailures.UffdioRegister);
        using var heap = TestHeaps.Create(backend);
        bool filtered = false;
        heap.CollectionCompleted += _ =>
        {
            if (!filtered)
            {
                filtered = true;
                SyscallFailures.InstallOnCurrentThread([rule]);
            }
        };

        using var m = heap.AttachCurrentThread();
        using var graph = new MirroredGraph(m, new ModelTypes(heap), seed: 5);
        graph.Grow(12, 150);
        var first = heap.Collect(); // installs the filter on the collector thread afterwards
        Assert.Null(first.StopTheWorldFallbackReason);
        Assert.Equal(backend, first.Backend);

        for (int i = 1; i <= 3; i++)
        {
            for (int k = 0; k < 300; k++)
            {
                graph.Step();
            }

            var before = heap.Verify();
            var stats = heap.Collect();
            Assert.Equal(GcBackend.StopTheWorld, stats.Backend);
            Assert.Contains(failing == "clone3" ? "EAGAIN" : "ENOMEM", stats.StopTheWorldFallbackReason, StringComparison.Ordinal);
            Assert.True(stats.Verified);
            Assert.Equal(i, heap.StopTheWorldFallbacks);
            graph.Compare($"after fallback collection {i}");
            var after = heap.Verify();
            Assert.True(after.IsValid, after.ToString());
            Assert.Equal(before.GraphChecksum, after.GraphChecksum);
        }

        Assert.Equal(backend, heap.Backend); // the heap keeps its backend; each cycle tries it again
        Assert.True(heap.History.Skip(1).Any(s => s.PagesEmpty + s.PagesSparse > 0), "the fallback cycles collected nothing");
    }

    [Fact]
    public void CompactionPlanThatFailsPartWayReleasesItsTables()
    {
        // 2^28 pages: the first table (a byte a page) is 256 MiB of address space, the second (4
        // bytes a page, 1 GiB) cannot be reserved. Sizes nothing else in the process maps.
        const int Pages = 1 << 28;
        long before = ConstructionTests.VirtualSize();
        Exception? error = null;
        SyscallFailures.RunOnFilteredThread(
            [new(SyscallFailures.SysMmap, Interop.Errno.ENOMEM, 1, (ulong)Pages * 4)],
            () => error = Record.Exception(() => new CompactionPlan(Pages)));

        Assert.IsType<OutOfMemoryException>(error);
        long grown = ConstructionTests.VirtualSize() - before;
        Assert.True(grown < 128L << 20, $"the failed constructor left {grown >> 20} MiB of address space mapped");
    }
}
