using GcHeap.Model;
using GcHeap.Tests.Support;

namespace GcHeap.Tests;

/// <summary>
/// The address space changes under a running compaction, for real (issue 16, deliverable 3): a
/// fork() (the child walks the graph natively and reports through a pipe; the .NET runtime never
/// runs in it), a fork past the pthread_atfork handlers (as a raw clone), and madvise, munmap and
/// mremap of to-space by "other code". Each is staged after the flip with
/// <see cref="Collection.CollectorTestHooks.AfterFlip"/> while a throttled compaction runs. The
/// outcome is the documented one (docs/design.md section 6, "Events"), never a hang (every wait
/// is bounded and fails the test) and never a silent wrong value.
/// </summary>
[Collection(SerialTests.Name)]
public class NonCooperativeEventTests
{
    private const int PageSize = 4096;
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(60);

    [Fact]
    public void CollectorAsksForTheEventsTheKernelOffers()
    {
        using var heap = Create();
        Assert.True(heap.Capabilities.NonCooperativeEvents, heap.Capabilities.ToString());
        Assert.Equal(Interop.NativeConstants.FeatureEvents, heap.UffdFeatures & Interop.NativeConstants.FeatureEvents);

        using var off = Create(o => o.DisabledKernelFeatures = KernelFeatures.NonCooperativeEvents);
        Assert.False(off.Capabilities.NonCooperativeEvents);
        Assert.Contains("disabled", off.Capabilities.NonCooperativeEventsUnavailableReason, StringComparison.Ordinal);
        Assert.Equal(0UL, off.UffdFeatures & Interop.NativeConstants.FeatureEvents);
    }

    [Theory]
    [MemberData(nameof(TestHeaps.ConcurrentBackends), MemberType = typeof(TestHeaps))]
    public void ForkDuringCompactionWaitsForItAndTheChildReadsEveryObject(GcBackend backend)
    {
        using var heap = Create(o => o.Backend = backend);
        using var m = heap.AttachCurrentThread();
        using var graph = Build(heap, m, seed: 31);
        var expected = ForkedWalk.Here(heap, graph);
        Assert.Equal(0, expected.Status);

        var gateBefore = ForkedWalk.GateStats();
        Interop.NativeWalkResult child = default;
        bool stillCompacting = false;
        heap.Collector.TestHooks.AfterFlip = () =>
        {
            stillCompacting = MidCompaction(heap).PlannedPages > 0;
            child = ForkedWalk.InChild(heap, graph, bypassAtfork: false);
        };
        var stats = Collect(heap, m);
        heap.Collector.TestHooks.AfterFlip = null;

        Assert.True(stillCompacting);
        var gateAfter = ForkedWalk.GateStats();
        Assert.Equal(1UL, gateAfter.ForksWaited - gateBefore.ForksWaited); // fork() waited for the running compaction
        Assert.Equal(0UL, gateAfter.Running);
        Assert.Equal((0, 0, 0), (child.Status, child.ExitCode, child.Signal));
        Assert.Equal(expected.Objects, child.Objects);
        Assert.Equal(expected.Checksum, child.Checksum);

        // The fork happened after the last page went in but while to-space was still registered: its
        // FORK event was read and the child's uffd closed, nothing poisoned.
        Assert.Equal(1, stats.Events.Fork);
        Assert.Equal(1, stats.Events.ForkChildren);
        Assert.Equal(0, stats.Events.ChildPagesPoisoned);
        Assert.Equal(0, stats.Events.Destructive);

        var after = ForkedWalk.Here(heap, graph);
        Assert.Equal(expected.Checksum, after.Checksum);
        Assert.True(heap.Verify().IsValid);
        graph.Compare("after a fork during compaction");
    }

    [Fact]
    public void ForkBeforeTheFlipGivesTheChildThePreFlipGraph()
    {
        // To-space is registered before the flip: a fork then is reported to the fault thread before
        // it has a plan. The child has the roots unforwarded and an empty to-space it never reads.
        using var heap = Create();
        using var m = heap.AttachCurrentThread();
        using var graph = Build(heap, m, seed: 32);
        var expected = ForkedWalk.Here(heap, graph);
        Interop.NativeWalkResult child = default;
        heap.Collector.TestHooks.BeforeFlip = () => child = ForkedWalk.InChild(heap, graph, bypassAtfork: false);
        var stats = Collect(heap, m);
        heap.Collector.TestHooks.BeforeFlip = null;

        Assert.Equal((0, 0, 0), (child.Status, child.ExitCode, child.Signal));
        Assert.Equal(expected.Checksum, child.Checksum);
        Assert.Equal(1, stats.Events.Fork);
        Assert.Equal(1, stats.Events.ForkChildren);
        Assert.True(heap.Verify().IsValid);
        graph.Compare("after a fork before the flip");
    }

    [Fact]
    public void ForkPastTheAtforkHandlersGetsPoisonNotZerosOrAHang()
    {
        // _Fork() is fork() without the pthread_atfork handlers, as a raw clone(): the gate cannot
        // hold it, so the child shares a to-space with holes. The collector poisons every page the
        // child lacks: the child either dies with SIGBUS on one, or (had it touched none) reads right.
        using var heap = Create();
        using var m = heap.AttachCurrentThread();
        using var graph = Build(heap, m, seed: 33);
        var expected = ForkedWalk.Here(heap, graph);
        var gateBefore = ForkedWalk.GateStats();
        Interop.NativeWalkResult child = default;
        heap.Collector.TestHooks.AfterFlip = () =>
        {
            MidCompaction(heap);
            child = ForkedWalk.InChild(heap, graph, bypassAtfork: true);
        };
        var stats = Collect(heap, m);
        heap.Collector.TestHooks.AfterFlip = null;

        Assert.Equal(gateBefore.ForksWaited, ForkedWalk.GateStats().ForksWaited); // it never met the gate
        Assert.Equal(1, stats.Events.Fork);
        Assert.Equal(1, stats.Events.ForkChildren);
        Assert.True(stats.Events.ChildPagesPoisoned > 0, stats.Events.ToString());
        Assert.True(child.Signal == ForkedWalk.SigBus || (child.ExitCode == 0 && child.Checksum == expected.Checksum),
            $"child: status {child.Status}, exit {child.ExitCode}, signal {child.Signal}, checksum {child.Checksum:x} (expected {expected.Checksum:x})");
        Assert.Equal(ForkedWalk.SigBus, child.Signal); // with a 50 ms-per-page sweep the walk meets a missing page

        Assert.True(heap.Verify().IsValid); // the parent's compaction is unaffected
        Assert.Equal(expected.Checksum, ForkedWalk.Here(heap, graph).Checksum);
        graph.Compare("after a raw-clone child");
    }

    [Theory]
    [MemberData(nameof(TestHeaps.ConcurrentBackends), MemberType = typeof(TestHeaps))]
    public void MadviseOfPlannedToSpaceEndsTheCycleWithAFailure(GcBackend backend)
    {
        using var heap = Create(o => o.Backend = backend);
        using var m = heap.AttachCurrentThread();
        using var graph = Build(heap, m, seed: 34);
        int rc = -1;
        heap.Collector.TestHooks.AfterFlip = () =>
        {
            var r = MidCompaction(heap);
            rc = AddressSpace.Madvise(r.Base, 2 * PageSize, AddressSpace.MadvDontneed); // blocks until the event is read
        };
        var error = CollectExpectingFailure(heap, m);

        Assert.Equal(0, rc);
        Assert.True(error.ToString().Contains("UFFD_EVENT_REMOVE", StringComparison.Ordinal), error.ToString());
        var events = heap.Collector.LastEvents;
        Assert.Equal(1, events.Remove);
        Assert.Equal(0, events.Harmless);
        Assert.Throws<GcCollectionFailedException>(() => heap.Collect()); // the heap says so on every call
    }

    [Fact]
    public void MadviseOfRegisteredSlackIsHarmless()
    {
        using var heap = Create();
        using var m = heap.AttachCurrentThread();
        using var graph = Build(heap, m, seed: 35);
        var expected = ForkedWalk.Here(heap, graph);
        int rc = -1;
        heap.Collector.TestHooks.AfterFlip = () =>
        {
            var r = MidCompaction(heap);
            Assert.True(r.RegisteredPages > r.PlannedPages, $"no slack: {r}");
            rc = AddressSpace.Madvise(r.Base + ((nint)r.PlannedPages * PageSize), (long)(r.RegisteredPages - r.PlannedPages) * PageSize, AddressSpace.MadvDontneed);
        };
        var stats = Collect(heap, m);
        heap.Collector.TestHooks.AfterFlip = null;

        Assert.Equal(0, rc);
        Assert.Equal(1, stats.Events.Remove);
        Assert.Equal(1, stats.Events.Harmless);
        Assert.Equal(0, stats.Events.Destructive);
        Assert.True(heap.Verify().IsValid);
        Assert.Equal(expected.Checksum, ForkedWalk.Here(heap, graph).Checksum);
        graph.Compare("after an madvise of slack");
        heap.Collect(); // the heap goes on
    }

    [Fact]
    public void MunmapOfToSpaceEndsTheCycleWithAFailure()
    {
        using var heap = Create();
        using var m = heap.AttachCurrentThread();
        using var graph = Build(heap, m, seed: 36);
        int rc = -1;
        heap.Collector.TestHooks.AfterFlip = () =>
        {
            var r = MidCompaction(heap);
            rc = AddressSpace.Munmap(r.Base + PageSize, 2 * PageSize);
        };
        var error = CollectExpectingFailure(heap, m);

        Assert.Equal(0, rc);
        Assert.True(error.ToString().Contains("UFFD_EVENT_UNMAP", StringComparison.Ordinal), error.ToString());
        Assert.Equal(1, heap.Collector.LastEvents.Unmap);
    }

    [Fact]
    public void MremapOfToSpaceEndsTheCycleAndLeavesNothingWaitingAtTheNewAddress()
    {
        using var heap = Create();
        using var m = heap.AttachCurrentThread();
        using var graph = Build(heap, m, seed: 37);
        nint moved = 0;
        heap.Collector.TestHooks.AfterFlip = () =>
        {
            var r = MidCompaction(heap);
            moved = AddressSpace.MoveElsewhere(r.Base + ((nint)(r.PlannedPages - 2) * PageSize), 2 * PageSize);
        };
        var error = CollectExpectingFailure(heap, m);

        Assert.True(error.ToString().Contains("UFFD_EVENT_REMAP", StringComparison.Ordinal), error.ToString());
        var events = heap.Collector.LastEvents;
        Assert.Equal(1, events.Remap);
        Assert.Equal(1, events.Unmap); // mremap also unmaps the old range
        Assert.NotEqual(0, moved);

        // The new range was unregistered: reading a page that was missing there does not wait for a
        // uffd nobody reads any more (it would hang this thread for ever).
        long sum = 0;
        var reader = new Thread(() =>
        {
            unsafe
            {
                for (int p = 0; p < 2; p++)
                {
                    sum += *(long*)(moved + (p * PageSize) + 8);
                }
            }
        });
        reader.Start();
        Assert.True(reader.Join(Bound), "a read of the remapped range hung");
        Assert.Equal(0, AddressSpace.Munmap(moved, 2 * PageSize));
    }

    [Fact]
    public unsafe void EagainWhileAnEventIsUnreadIsRetriedOnceTheFaultThreadReadsIt()
    {
        // Staged for real: the fault thread is held inside a page build (it reads a from-space page,
        // all null references, that the test registered with a uffd of its own and serves late), while another thread's
        // madvise of registered slack raises REMOVE. The event stays unread until the fault thread
        // is let go; its install then answers EAGAIN without progress, and it must read the event
        // itself (nobody else reads the heap's uffd) before the retry can succeed.
        using var heap = Create();
        using var m = heap.AttachCurrentThread();
        using var graph = Build(heap, m, seed: 38);
        GcRoot array;
        using (m.OpenScope())
        {
            var a = m.AllocateArray(heap.Types.ReferenceArray, 3 * 512);
            m.SetElement(a, (2 * 512) + 7, GcRef.Null); // pages 0 and 2 touched; page 1 never: missing in from-space
            array = m.CreateRoot(a);
        }

        var expected = ForkedWalk.Here(heap, graph);
        nint fromArray = heap.Handles.Slots[array.Ref.Slot];
        int testUffd = -1;
        int madviseRc = -1;
        bool served = false, madviseBlocked = false;
        heap.Collector.TestHooks.AfterFlip = () =>
        {
            var r = MidCompaction(heap);
            // Marking read page 1 (all null references), which mapped the shared zero page there:
            // drop it (the contents stay zero) so the build's read of it is a missing fault.
            Assert.Equal(0, AddressSpace.Madvise(fromArray + PageSize, PageSize, AddressSpace.MadvDontneed));
            Assert.Equal(0, Interop.NativeMethods.UffdOpen(1, 0, out testUffd, out _, out _));
            Assert.Equal(0, Interop.NativeMethods.UffdRegister(testUffd, (ulong)(fromArray + PageSize), PageSize, Interop.NativeConstants.RegisterModeMissing, out _));
            nint toArray = heap.Handles.Slots[array.Ref.Slot];
            long read = -1;
            var reader = new Thread(() => read = *(long*)(toArray + PageSize + 8)); // a to-space fault on the array's page 1
            reader.Start();

            // The fault thread builds that page and blocks reading its from-space source.
            ulong addr;
            var deadline = DateTime.UtcNow + Bound;
            while (Interop.NativeMethods.UffdReadFaults(testUffd, &addr, 1) == 0)
            {
                Assert.True(DateTime.UtcNow < deadline, "the fault thread never reached the staged source page");
                Thread.Sleep(1);
            }

            var madviser = new Thread(() => madviseRc = AddressSpace.Madvise(r.Base + ((nint)r.PlannedPages * PageSize), PageSize, AddressSpace.MadvDontneed));
            madviser.Start();
            madviseBlocked = !madviser.Join(200); // REMOVE raised, unread: the only reader is held

            // Fill the source without waking, then close the test's uffd: that unregisters the
            // page and wakes the fault thread, which installs its window next.
            Assert.Equal(0, Interop.NativeMethods.UffdZeroPage(testUffd, (ulong)(fromArray + PageSize), PageSize, 1, out _));
            Assert.Equal(0, Interop.NativeMethods.Close(testUffd));
            served = madviser.Join(Bound) && reader.Join(Bound);
            Assert.Equal(0, read);
        };
        var stats = Collect(heap, m);
        heap.Collector.TestHooks.AfterFlip = null;

        Assert.True(madviseBlocked, "madvise returned before the event could be read");
        Assert.True(served, "the madvise or the faulting reader hung");
        Assert.Equal(0, madviseRc);
        Assert.Equal(1, stats.Events.Remove);
        Assert.Equal(1, stats.Events.Harmless);
        Assert.True(stats.Events.EagainEventWaits > 0, stats.Events.ToString());
        Assert.True(heap.Verify().IsValid);
        Assert.Equal(expected.Checksum, ForkedWalk.Here(heap, graph).Checksum);
        graph.Compare("after EAGAIN retries");
        array.Dispose();
    }

    /// <summary>Called first in every AfterFlip hook: the staged change must land while planned pages are still missing.</summary>
    private static (nint Base, int PlannedPages, int RegisteredPages) MidCompaction(Heap heap)
    {
        var r = heap.Collector.CompactionRange;
        long installed = heap.Collector.PagesInstalledSoFar;
        Assert.True(installed >= 0 && installed < r.PlannedPages, $"the compaction was not in progress: {installed} of {r.PlannedPages} pages installed");
        return r;
    }

    private static Heap Create(Action<HeapOptions>? configure = null) => TestHeaps.Create(GcBackend.Move, configure: o =>
    {
        o.DontForkHeap = false;  // the child really maps the heap
        o.VerifyHeap = false;    // the verifier's walk in the flip pause would install every page before the hook runs
        o.SweepDelayMicros = 50_000; // 50 ms a page: the staged change lands while pages are still missing
        configure?.Invoke(o);
    });

    private static MirroredGraph Build(Heap heap, Mutator m, int seed)
    {
        var graph = new MirroredGraph(m, new ModelTypes(heap), seed);
        graph.Grow(24, 300);
        return graph;
    }

    /// <summary>Collects on another thread, bounded: a hang fails the test instead of the run.</summary>
    private static CollectionStats Collect(Heap heap, Mutator m)
    {
        var (stats, error) = CollectBounded(heap, m);
        Assert.Null(error);
        return stats!;
    }

    private static GcCollectionFailedException CollectExpectingFailure(Heap heap, Mutator m)
    {
        var (_, error) = CollectBounded(heap, m);
        heap.Collector.TestHooks.AfterFlip = null;
        return Assert.IsType<GcCollectionFailedException>(error);
    }

    private static (CollectionStats? Stats, Exception? Error) CollectBounded(Heap heap, Mutator m)
    {
        CollectionStats? stats = null;
        Exception? error = null;
        var t = new Thread(() => error = Record.Exception(() => stats = heap.Collect())) { IsBackground = true };
        t.Start();
        bool done;
        using (m.EnterSafeRegion())
        {
            done = t.Join(Bound);
        }

        Assert.True(done, "the collection hung");
        return (stats, error);
    }
}
