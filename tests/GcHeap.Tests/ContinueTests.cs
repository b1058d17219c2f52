using GcHeap.Diagnostics;
using GcHeap.Interop;
using GcHeap.Model;

namespace GcHeap.Tests;

/// <summary>
/// The Continue backend's own paths, forced for real: the kernel's answers to UFFDIO_CONTINUE,
/// installs counted by kind, minor faults, from-space punched out of its memfd, fallback when the
/// feature is missing, and what a fork means for shared memory.
/// </summary>
public class ContinueTests
{
    private const int Efault = 14, Eexist = 17, Eagain = 11;

    /// <summary>
    /// The errno table's CONTINUE rows, as the running kernel answers them on a scratch memfd: a
    /// page never written in the collector view is refused with EFAULT (shmem_get_folio with
    /// SGP_NOALLOC finds a hole and mfill_atomic_pte_continue turns its ENOENT into EFAULT), an
    /// already mapped page with EEXIST, and a run that stops at a hole reports partial progress
    /// (EAGAIN, `mapped` one page) before the compactor's loop meets the EFAULT.
    /// </summary>
    [Fact]
    public void TheKernelAnswersContinueAsTheErrnoTableSays()
    {
        Assert.Equal(0, NativeMethods.ContinueAnswersProbe(out var a));
        Assert.Equal(-Efault, a.Hole);
        Assert.Equal(0, a.Written);
        Assert.Equal(-Eexist, a.Again);
        Assert.Equal(-Eagain, a.RunFirst);
        Assert.Equal(4096, a.RunMapped);
        Assert.Equal(-Efault, a.RunRest);
        Assert.Equal(4096UL, a.RunDone);
        Assert.Equal(1, a.ValueOk);
    }

    /// <summary>
    /// Every to-space page goes in by UFFDIO_CONTINUE in runs (far fewer ioctls than pages), every
    /// whole page is copied once into the collector view, and from-space leaves the page cache
    /// (MADV_REMOVE punches its memfd): what stays resident is to-space.
    /// </summary>
    [Fact]
    public void EveryPageGoesInByContinueInRunsAndFromSpaceIsPunched()
    {
        // No nursery: it would pack (and keep) most of these pages; the test is about long runs of
        // whole pages and from-space punched out of the page cache.
        using var heap = TestHeaps.Create(GcBackend.Continue, configure: o => o.NurseryBytes = 0);
        Assert.Equal(GcBackend.Continue, heap.Backend);
        using var m = heap.AttachCurrentThread();
        using var graph = new MirroredGraph(m, new ModelTypes(heap), seed: 5);
        graph.Grow(24, 600);
        using (m.OpenScope())
        {
            // Enough whole pages that the runs, not the number of sweeper threads splitting a
            // handful of pages into chunks, decide the ioctl count (6 pages went in by 2 ioctls
            // once, failing the ratio below).
            var keep = m.AllocateArray(heap.Types.ReferenceArray, 2000);
            for (int i = 0; i < 2000; i++)
            {
                m.SetElement(keep, i, m.AllocateArray(heap.Types.ByteArray, 100));
            }

            _ = m.CreateRoot(keep);
        }

        var from = heap.AllocationSpace;
        Assert.True(from.IsShared);
        long residentBefore = from.ResidentPages();
        Assert.True(residentBefore > 0);

        var stats = heap.Collect();

        Assert.True(stats.Verified);
        Assert.True(stats.PagesInstalled > 0);
        Assert.Equal(stats.PagesInstalled, stats.PagesContinued);
        Assert.Equal(0, stats.PagesMoved + stats.PagesCopied + stats.EbusyFallbacks + stats.Eexist);
        Assert.Equal(stats.PagesWhole, stats.PagesWholeCopied);
        Assert.Equal(0, stats.PagesZeroCopy); // a whole page is copied once into the collector view
        Assert.Equal(1.0, stats.ZeroCopyShare); // ... but no install copied anything
        Assert.True(stats.PagesContinued >= 50, $"{stats.PagesContinued} pages");
        Assert.True(stats.ContinueIoctls * 4 < stats.PagesContinued, $"runs too short: {stats.ContinueIoctls} ioctls for {stats.PagesContinued} pages");
        Assert.Equal(0, from.ResidentPages()); // punched: not in the memfd's page cache any more
        Assert.NotSame(from, heap.AllocationSpace);
        Assert.True(heap.ResidentBytes <= stats.HeapBytesAfter + (1 << 20), $"resident {heap.ResidentBytes} vs heap {stats.HeapBytesAfter}");
        graph.Compare("after a Continue collection");
    }

    /// <summary>
    /// A mutator touching a page that is already in to-space's page cache (the sweeper populated
    /// its chunk in the collector view) but not yet mapped in the mutator view takes a minor fault,
    /// which the native fault thread serves with UFFDIO_CONTINUE. The sweeper is throttled so the
    /// mutator gets there first.
    /// </summary>
    [Fact]
    public void TouchingABuiltButUnmappedPageIsAMinorFault()
    {
        using var heap = TestHeaps.Create(GcBackend.Continue, configure: o =>
        {
            o.VerifyHeap = false;       // no checksum walk of to-space inside the flip
            o.FaultAroundPages = 0;     // one page per fault: the rest stay unmapped
            o.SweepDelayMicros = 5000;  // the sweeper installs a page every 5 ms
            o.BatchPages = 1024;        // one chunk: its pages are populated before any is built
        });
        using var m = heap.AttachCurrentThread();
        var roots = new List<(GcRoot Root, byte Value)>();
        using (m.OpenScope())
        {
            for (int i = 0; i < 400; i++)
            {
                var a = m.AllocateArray(heap.Types.ByteArray, 1500);
                m.FillItems<byte>(a, 0, 1500, (byte)i);
                roots.Add((m.CreateRoot(a), (byte)i));
            }
        }

        CollectionStats? stats = null;
        var collector = new Thread(() => stats = heap.Collect());
        collector.Start();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (heap.Phase != CollectionPhase.Compacting && collector.IsAlive && DateTime.UtcNow < deadline)
        {
            m.Safepoint();
            Thread.Yield();
        }

        Assert.Equal(CollectionPhase.Compacting, heap.Phase);
        var to = heap.AllocationSpace;
        while (to.ResidentPages() < 150 && DateTime.UtcNow < deadline)
        {
            Thread.Sleep(1); // the sweeper populates its chunk in the collector view
        }

        using (m.OpenScope())
        {
            foreach (var (root, value) in roots)
            {
                Assert.Equal(value, m.GetItem<byte>(m.Duplicate(root.Ref), 1499));
            }
        }

        using (m.EnterSafeRegion())
        {
            Assert.True(collector.Join(TimeSpan.FromSeconds(60)));
        }

        Assert.NotNull(stats);
        Assert.True(stats.FaultsMinor > 0, $"no minor fault: {stats}");
        Assert.True(stats.FaultsServed >= stats.FaultsMinor);
        Assert.Equal(stats.PagesInstalled, stats.PagesContinued);
        foreach (var (root, _) in roots)
        {
            root.Dispose();
        }
    }

    /// <summary>A kernel without minor faults on shared memory (forced here) falls back to Move, then Copy, and says why.</summary>
    [Fact]
    public void WithoutContinueTheHeapFallsBackAndSaysWhy()
    {
        var caps = UffdCapabilities.Probe();
        Assert.True(caps.Continue, caps.ToString());
        Assert.Null(caps.ContinueUnavailableReason);
        Assert.Contains("CONTINUE on shared memory (minor faults, Continue backend) yes", caps.ToString());

        using (var heap = new Heap(new HeapOptions { Backend = GcBackend.Continue, DisabledKernelFeatures = KernelFeatures.Continue, VerifyHeap = true }))
        {
            Assert.Equal(GcBackend.Move, heap.Backend);
            Assert.Contains("Continue requested", heap.BackendReason);
            Assert.Contains("disabled by HeapOptions.DisabledKernelFeatures", heap.BackendReason);
            Assert.False(heap.SpaceA.IsShared);
            Assert.True(heap.Collect().Verified);
        }

        using (var heap = new Heap(new HeapOptions { Backend = GcBackend.Continue, DisabledKernelFeatures = KernelFeatures.Continue | KernelFeatures.Move }))
        {
            Assert.Equal(GcBackend.Copy, heap.Backend);
            Assert.Contains("using Copy", heap.BackendReason);
        }

        Assert.Throws<GcBackendUnavailableException>(() =>
            new Heap(new HeapOptions { Backend = GcBackend.Continue, RequireBackend = true, DisabledKernelFeatures = KernelFeatures.Continue }));
    }

    /// <summary>
    /// After fork() a child maps the spaces MAP_SHARED: it shares the very page-cache pages, not
    /// copies, so nothing like Move's EBUSY happens (CONTINUE maps page-cache pages whoever else
    /// maps them), and punching from-space takes its pages away from the child too.
    /// </summary>
    [Fact]
    public void AForkedChildSharingTheSpacesChangesNothingForContinue()
    {
        using var heap = TestHeaps.Create(GcBackend.Continue, configure: o => o.DontForkHeap = false);
        using var m = heap.AttachCurrentThread();
        using var graph = new MirroredGraph(m, new ModelTypes(heap), seed: 19);
        graph.Grow(24, 300);
        var from = heap.AllocationSpace;
        CollectionStats stats;
        using (ForkedPageHolder.Start())
        {
            stats = heap.Collect();
            Assert.Equal(stats.NurseryPagesReused, from.ResidentPages()); // gone from the page cache while the child still maps them (the nursery's stay, zeroed)
        }

        Assert.True(stats.Verified);
        Assert.Equal(0, stats.EbusyFallbacks);
        Assert.Equal(0, stats.PagesCopied);
        Assert.Equal(stats.PagesInstalled, stats.PagesContinued);
        graph.Compare("after a Continue collection with a forked child sharing the spaces");
    }
}

/// <summary>The Continue backend on 2 MiB hugetlbfs pages (<see cref="HeapOptions.ContinueHugePages"/>).</summary>
public class ContinueHugePageTests
{
    /// <summary>
    /// Collections on hugetlbfs spaces: every unit of 512 to-pages goes in with one 2 MiB
    /// UFFDIO_CONTINUE, the graph matches its model after each one. Needs 32 free 2 MiB pages
    /// (<c>vm.nr_hugepages</c>); skipped with the reason otherwise (the project does not change sysctls).
    /// </summary>
    [HugePagesFact(pagesNeeded: 32)]
    public void CollectionsOnHugePagesKeepTheGraph()
    {
        using var heap = TestHeaps.Create(GcBackend.Continue, maxBytes: 32 << 20, configure: o => o.ContinueHugePages = true);
        Assert.True(heap.ContinueHugePages, heap.BackendReason);
        Assert.Contains("2 MiB hugetlbfs pages", heap.BackendReason);
        using var m = heap.AttachCurrentThread();
        using var graph = new MirroredGraph(m, new ModelTypes(heap), seed: 23);
        for (int round = 0; round < 3; round++)
        {
            graph.Grow(16, 400);
            for (int k = 0; k < 1500; k++)
            {
                graph.Step(); // drops roots, rewires slots, makes garbage
            }

            var s = heap.Collect();
            Assert.True(s.Verified);
            Assert.Equal(s.PagesInstalled, s.PagesContinued);
            Assert.True(s.ContinueIoctls <= ((s.PagesInstalled + 511) / 512) + s.FaultsServed, $"not one CONTINUE per 2 MiB unit: {s}");
            graph.Compare($"after collection {s.Cycle} on 2 MiB pages");
        }
    }

    /// <summary>
    /// Asking for 2 MiB pages where there are not enough (none configured, or fewer free than the
    /// spaces need) gives a heap on 4 KiB pages whose reason says why; it collects as usual.
    /// </summary>
    [Fact]
    public void WithoutEnoughHugePagesTheHeapUsesSmallPagesAndSaysWhy()
    {
        var caps = UffdCapabilities.Probe();
        long tooMany = (caps.HugePagesFree + 1) * (2L << 20); // each space alone needs more than is free
        using var heap = TestHeaps.Create(GcBackend.Continue, maxBytes: Math.Max(32L << 20, tooMany), configure: o => o.ContinueHugePages = true);
        Assert.False(heap.ContinueHugePages);
        Assert.Equal(GcBackend.Continue, heap.Backend);
        Assert.Contains("with 4 KiB pages", heap.BackendReason);
        if (!caps.ContinueHugePages)
        {
            Assert.Contains(caps.ContinueHugePagesUnavailableReason!, heap.BackendReason);
        }
        else
        {
            Assert.Contains("could not be reserved", heap.BackendReason);
        }

        using var m = heap.AttachCurrentThread();
        using var graph = new MirroredGraph(m, new ModelTypes(heap), seed: 29);
        graph.Grow(8, 100);
        Assert.True(heap.Collect().Verified);
        graph.Compare("after a collection on 4 KiB pages");
    }
}

/// <summary>A fact that runs only when the 2 MiB page pool has enough free pages, and says so when skipped.</summary>
public sealed class HugePagesFactAttribute : FactAttribute
{
    public HugePagesFactAttribute(int pagesNeeded)
    {
        var caps = UffdCapabilities.Probe();
        if (!caps.ContinueHugePages)
        {
            Skip = $"2 MiB pages for the Continue backend are unavailable: {caps.ContinueHugePagesUnavailableReason}";
        }
        else if (caps.HugePagesFree < pagesNeeded)
        {
            Skip = $"{pagesNeeded} free 2 MiB pages needed, {caps.HugePagesFree} free (vm.nr_hugepages)";
        }
    }
}
