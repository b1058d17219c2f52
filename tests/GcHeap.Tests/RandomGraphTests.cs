using CsCheck;
using GcHeap.Model;

namespace GcHeap.Tests;

/// <summary>
/// Random graphs (cycles, shared subgraphs, arrays, large objects, garbage) compared with a
/// plain .NET model after every collection, on every backend, verifier on. The operation
/// sequences come from CsCheck, so a failure shrinks to a minimal sequence of operations and
/// collections (printed with the seed that reproduces it); the seed and the number of samples
/// are fixed, so every run checks the same sequences. To reproduce a failure and shrink it
/// further, run the failing case with CsCheck_Seed set to the printed seed and CsCheck_Time to a
/// number of seconds (CsCheck keeps the smallest failing sequence it finds in that time).
/// </summary>
public class RandomGraphTests
{
    /// <summary>Where every run starts; CsCheck derives each sample's sequence from it.</summary>
    private const string Seed = "0000000000001";

    private static readonly Gen<GraphOp> Ops = Gen.Frequency(
        (3, Gen.Int[0, 15].Select(r => new GraphOp(GraphOpKind.DropRoot, Root: r))),
        (6, Gen.Int[0, 1 << 20].Select(s => new GraphOp(GraphOpKind.AddRoot, Seed: s))),
        (39, Gen.Select(Gen.Int[0, 15], Gen.Int[0, 7], Gen.Int[0, 15], Gen.Enum<GraphTarget>(), Gen.Int[0, 1 << 20], (r, d, sl, t, s) => new GraphOp(GraphOpKind.SetSlot, r, d, sl, t, s))),
        (15, Gen.Select(Gen.Int[0, 15], Gen.Int[0, 7], Gen.Int[0, 15], Gen.Int[0, 1 << 20], (r, d, sl, s) => new GraphOp(GraphOpKind.MoveRef, r, d, sl, Seed: s))),
        (20, Gen.Select(Gen.Int[0, 15], Gen.Int[0, 7], Gen.Int[0, 1 << 16], Gen.Int[0, 1 << 20], (r, d, sl, s) => new GraphOp(GraphOpKind.WriteData, r, d, sl, Seed: s))),
        (17, Gen.Int[0, 1 << 20].Select(s => new GraphOp(GraphOpKind.Garbage, Seed: s))));

    /// <summary>Sequences of operations with a collection now and then (one step in 25).</summary>
    internal static readonly Gen<GraphStep[]> Sequences = Gen.Frequency(
        (24, Ops.Select(o => new GraphStep(o))),
        (1, Gen.Const(GraphStep.Collect))).Array[1, 400];

    [Theory]
    [MemberData(nameof(TestHeaps.AllBackends), MemberType = typeof(TestHeaps))]
    public void GraphMatchesModelAfterEveryCollection(GcBackend backend)
    {
        var totals = new List<CollectionStats>();
        Sequences.Sample(
            steps => totals.AddRange(RunSequence(backend, steps)),
            seed: Environment.GetEnvironmentVariable("CsCheck_Seed") ?? Seed,
            iter: Environment.GetEnvironmentVariable("CsCheck_Time") is null ? 100 : -1,
            threads: 1,
            print: steps => string.Join(", ", steps));

        Assert.Contains(totals, s => s.PagesEmpty + s.PagesSparse > 0); // garbage was really collected
        if (backend == GcBackend.Move)
        {
            Assert.True(totals.Sum(s => s.PagesZeroCopy) > 0, "Move never moved a page zero-copy");
        }

        if (backend == GcBackend.Copy)
        {
            Assert.Equal(0, totals.Sum(s => s.PagesZeroCopy));
            Assert.True(totals.Sum(s => s.PagesCopied) > 0);
        }

        if (backend == GcBackend.Continue)
        {
            // Every page went in by UFFDIO_CONTINUE; none by MOVE or COPY.
            Assert.Equal(totals.Sum(s => s.PagesInstalled), totals.Sum(s => s.PagesContinued));
            Assert.True(totals.Sum(s => s.PagesInstalled) > 0);
            Assert.Equal(0, totals.Sum(s => s.PagesMoved + s.PagesCopied));
            Assert.Equal(totals.Sum(s => s.PagesWhole), totals.Sum(s => s.PagesWholeCopied));
        }
    }

    /// <summary>
    /// Applies <paramref name="steps"/> to a fresh heap and its model; after every collection (and
    /// a last one at the end) the heap must verify, keep its graph checksum and match the model.
    /// </summary>
    internal static List<CollectionStats> RunSequence(GcBackend backend, IEnumerable<GraphStep> steps)
    {
        using var heap = TestHeaps.Create(backend, maxBytes: 32 << 20);
        using var m = heap.AttachCurrentThread();
        using var graph = new MirroredGraph(m, new ModelTypes(heap), seed: 0);
        var stats = new List<CollectionStats>();
        foreach (var step in steps.Append(GraphStep.Collect))
        {
            if (step.Op is { } op)
            {
                graph.Apply(op);
                continue;
            }

            var before = heap.Verify();
            Assert.True(before.IsValid, before.ToString());
            var s = heap.Collect();
            Assert.True(s.Verified);
            graph.Compare($"after collection {s.Cycle}");
            var after = heap.Verify();
            Assert.True(after.IsValid, after.ToString());
            Assert.Equal(before.GraphChecksum, after.GraphChecksum);
            Assert.Equal(before.ReachableObjects, after.ReachableObjects);
            Assert.Equal(0, m.LocalHandleCount);
            stats.Add(s);
        }

        return stats;
    }

    /// <summary>
    /// Run bridging (Move only): short gaps of sparse or empty pages between whole pages move
    /// whole when that makes a run long enough to MOVE; the graph is unchanged either way, and the
    /// other backends never bridge (they would only keep garbage).
    /// </summary>
    [Theory]
    [InlineData(GcBackend.Move, 4)]
    [InlineData(GcBackend.Move, 0)]
    [InlineData(GcBackend.Copy, 4)]
    [InlineData(GcBackend.Continue, 4)]
    public void ShortGapsAreBridgedOnlyWhereTheyMakeMovableRuns(GcBackend backend, int bridge)
    {
        // Every 10th page thinned to a tenth: one sparse page between dense stretches of 9.
        using var heap = TestHeaps.Create(backend, configure: o =>
        {
            o.RunBridgePages = bridge;
            o.RunBridgeBudget = 0.5;
            o.MinMovePages = 8;
            o.PackShortRuns = false;
            o.NurseryBytes = 0; // no nursery: the test stages page layouts, and the nursery packs every page it hands out
        });
        var (stats, thinned) = CollectThinned(heap, thinEvery: 10, keepEvery: 10);
        Assert.True(stats.PagesSparse + stats.PagesBridged >= thinned - 2, $"the thinned pages were not seen as sparse: {stats}");
        if (backend == GcBackend.Move && bridge > 0)
        {
            Assert.True(stats.PagesBridged >= thinned / 2, $"gaps of one sparse page between dense stretches were not bridged: {stats}");
        }
        else
        {
            Assert.Equal(0, stats.PagesBridged);
        }
    }

    /// <summary>
    /// Dense pages in runs too short to MOVE are packed (Move only, PackShortRuns): every 4th page
    /// emptied leaves runs of 3 dense pages, which MinMovePages = 8 would otherwise copy.
    /// </summary>
    [Theory]
    [InlineData(GcBackend.Move, true)]
    [InlineData(GcBackend.Move, false)]
    [InlineData(GcBackend.Copy, true)]
    [InlineData(GcBackend.Continue, true)]
    public void DensePagesInShortRunsArePackedWhenAsked(GcBackend backend, bool pack)
    {
        using var heap = TestHeaps.Create(backend, configure: o =>
        {
            o.RunBridgePages = 0;
            o.MinMovePages = 8;
            o.PackShortRuns = pack;
            o.NurseryBytes = 0; // no nursery: the test stages page layouts, and the nursery packs every page it hands out
        });
        var (stats, thinned) = CollectThinned(heap, thinEvery: 4, keepEvery: int.MaxValue);
        if (backend == GcBackend.Move && pack)
        {
            Assert.True(stats.PagesPackedShortRuns >= 2 * thinned, $"dense pages of 3-page runs were not packed: {stats}");
        }
        else
        {
            Assert.Equal(0, stats.PagesPackedShortRuns);
        }
    }

    /// <summary>
    /// Fills pages with small nodes (each referring to itself), empties all but one in
    /// <paramref name="keepEvery"/> objects on every <paramref name="thinEvery"/>-th page, collects
    /// once and checks every surviving node. Returns the stats and how many pages were thinned.
    /// </summary>
    internal static (CollectionStats Stats, int Thinned) CollectThinned(Heap heap, int thinEvery, int keepEvery)
    {
        var node = heap.Types.DefineObject("ThinNode", t => t.Reference("self").Value<long>("id"));
        var self = node.RefField("self");
        var id = node.Field<long>("id");
        using var m = heap.AttachCurrentThread();
        const int Count = 40_000;
        using var all = CreateNodes(m, heap, node, self, id, Count, out long[] pageOf);
        var pages = pageOf.Distinct().OrderBy(p => p).ToList();
        var thinned = pages.Where((p, k) => k % thinEvery == thinEvery / 2).ToHashSet();
        var kept = new List<int>();
        using (m.OpenScope())
        {
            for (int i = 0; i < Count; i++)
            {
                if (thinned.Contains(pageOf[i]) && i % keepEvery != 0)
                {
                    m.SetElement(all.Ref, i, GcRef.Null);
                }
                else
                {
                    kept.Add(i);
                }
            }
        }

        var stats = heap.Collect();
        Assert.True(stats.Verified);
        using (m.OpenScope())
        {
            foreach (int i in kept)
            {
                using var s = m.OpenScope();
                var n = m.GetElement(all.Ref, i);
                Assert.Equal(i, m.Get(n, id));
                Assert.True(m.IsSameObject(n, m.GetRef(n, self)));
            }
        }

        return (stats, thinned.Count);
    }

    private static GcRoot CreateNodes(Mutator m, Heap heap, GcType node, GcRefField self, GcField<long> id, int count, out long[] pageOf)
    {
        pageOf = new long[count];
        using var scope = m.OpenScope();
        var arr = m.AllocateArray(heap.Types.ReferenceArray, count);
        var all = m.CreateRoot(arr);
        for (int i = 0; i < count; i++)
        {
            using var s = m.OpenScope();
            var n = m.Allocate(node);
            m.Set(n, id, i);
            m.SetRef(n, self, n); // a reference to fix wherever the page goes
            m.SetElement(all.Ref, i, n);
            pageOf[i] = m.AddressOf(n) >> 12;
        }

        return all;
    }

    [Theory]
    [MemberData(nameof(TestHeaps.AllBackends), MemberType = typeof(TestHeaps))]
    public void GarbageIsReclaimedAndPagesGoBackToTheKernel(GcBackend backend)
    {
        using var heap = TestHeaps.Create(backend);
        var types = new ModelTypes(heap);
        using var m = heap.AttachCurrentThread();
        GcRoot keep;
        using (m.OpenScope())
        {
            var arr = m.AllocateArray(types.RefArray, 1000);
            keep = m.CreateRoot(arr);
            for (int i = 0; i < 100_000; i++)
            {
                using var s = m.OpenScope();
                var n = m.Allocate(types.Node);
                m.Set(n, types.Id, i);
                if (i % 100 == 0)
                {
                    m.SetElement(keep.Ref, i / 100, n);
                }
            }
        }

        long before = heap.BytesInUse;
        var stats = heap.Collect();
        Assert.True(stats.HeapBytesAfter < before / 10, $"heap {before} -> {stats.HeapBytesAfter}");
        Assert.Equal(1001, stats.LiveObjects);
        // With transparent huge pages the live pages' block is resident whole: up to 2 MiB more.
        long granule = heap.TransparentHugePages ? 2L << 20 : 0;
        // The nursery's pages stay mapped by design (zeroed in place for the next cycle here).
        long nursery = stats.NurseryPagesReused * 4096;
        Assert.True(heap.ResidentBytes - nursery < (before / 4) + granule, $"resident {heap.ResidentBytes} (nursery {nursery}) of {before} still mapped after the collection");
        using (m.OpenScope())
        {
            for (int i = 0; i < 1000; i++)
            {
                Assert.Equal(i * 100, m.Get(m.GetElement(keep.Ref, i), types.Id));
            }
        }

        keep.Dispose();
        Assert.Equal(0, heap.Collect().LiveObjects);
    }
}

/// <summary>One step of a generated sequence: an operation on the graph, or a collection.</summary>
internal readonly record struct GraphStep(GraphOp? Op)
{
    public static readonly GraphStep Collect = new((GraphOp?)null);

    public override string ToString() => Op?.ToString() ?? "Collect";
}

/// <summary>
/// Each flip registers a prefix of to-space with the uffd, which splits the space's VMA. The
/// pieces must merge again after UFFDIO_UNREGISTER, or boundaries of past cycles pile up:
/// multi-page ioctls across them fail, and the mapping count creeps towards vm.max_map_count.
/// Runs alone: it counts mappings, and other tests' mappings could land next to its own.
/// </summary>
[Collection(nameof(MappingTests))]
public class MappingTests
{
    [Fact]
    public unsafe void SpacesMergeBackAfterRegisterMoveUnregister()
    {
        const int Pages = 64;
        Assert.Equal(0, GcHeap.Interop.NativeMethods.UffdOpen((int)UffdOpenMethods.All, 1UL << 16, out int fd, out _, out _));
        using var uffd = new GcHeap.Interop.UffdSafeHandle(fd);
        {
            // The kernel behaviour: a fresh mapping split by REGISTER, whose pieces then get
            // anon_vmas of their own (one by MOVE, one by a fault), cannot merge back. Mapped
            // between guard pages: next to a plain anonymous mapping it could be merged into that
            // at mmap time and keep its anon_vma when madvise splits it off again.
            using var bare = new IsolatedMapping(Pages);
            Assert.Equal(2, RegisterMoveUnregister(fd, bare.Address));

            // A Space prepares its anon_vma up front, so its pieces share one and merge.
            using var space = new GcHeap.Memory.Space("T", Pages, dontFork: true);
            Assert.Equal(1, RegisterMoveUnregister(fd, (ulong)space.Base));
        }
    }

    private static unsafe int RegisterMoveUnregister(int fd, ulong region)
    {
        // Flags unlike the region's: mapped right next to it (where the address space has no
        // smaller hole above), a source with the same flags would merge into the region's VMA and
        // give it its anon_vma, and the bare region would then merge back like a Space.
        using var source = new GcHeap.Interop.NativeRegion(4096, dontFork: true, noHugePages: false, "source");
        *source.Pointer = 7;
        Assert.Equal(0, GcHeap.Interop.NativeMethods.UffdRegister(fd, region, 8 * 4096, 1, out _));
        Assert.Equal(0, GcHeap.Interop.NativeMethods.UffdMove(fd, region, source.Address, 4096, 0, out _));
        *(byte*)(region + (20 * 4096)) = 1; // a page past the registered prefix
        Assert.Equal(0, GcHeap.Interop.NativeMethods.UffdUnregister(fd, region, 8 * 4096));
        Assert.Equal(7, *(byte*)region);
        return CountMappings(region, 64 * 4096);
    }

    private static int CountMappings(ulong lo, ulong len) => File.ReadLines("/proc/self/maps")
        .Select(l => l[..l.IndexOf(' ', StringComparison.Ordinal)].Split('-'))
        .Count(p => Convert.ToUInt64(p[0], 16) < lo + len && Convert.ToUInt64(p[1], 16) > lo);

    /// <summary>A fresh anonymous mapping with a NativeRegion's advice, between PROT_NONE guard pages that nothing merges with.</summary>
    private sealed unsafe class IsolatedMapping : IDisposable
    {
        private const int ProtNone = 0, ProtReadWrite = 3, MapPrivateAnonymous = 0x22, MapFixed = 0x10, MapNoReserve = 0x4000;
        private const int MadvDontFork = 10, MadvNoHugePage = 15;
        private readonly nint _reservation;
        private readonly nuint _length;

        public IsolatedMapping(int pages)
        {
            _length = (nuint)(pages + 2) * 4096;
            _reservation = MMap(0, _length, ProtNone, MapPrivateAnonymous | MapNoReserve, -1, 0);
            Assert.NotEqual(-1, _reservation);
            Address = (ulong)_reservation + 4096;
            Assert.Equal((nint)Address, MMap((nint)Address, (nuint)pages * 4096, ProtReadWrite, MapPrivateAnonymous | MapNoReserve | MapFixed, -1, 0));
            Assert.Equal(0, MAdvise((nint)Address, (nuint)pages * 4096, MadvNoHugePage));
            Assert.Equal(0, MAdvise((nint)Address, (nuint)pages * 4096, MadvDontFork));
        }

        public ulong Address { get; }

        public void Dispose() => _ = MUnmap(_reservation, _length);

        [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "mmap")]
        private static extern nint MMap(nint addr, nuint length, int prot, int flags, int fd, long offset);

        [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "munmap")]
        private static extern int MUnmap(nint addr, nuint length);

        [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "madvise")]
        private static extern int MAdvise(nint addr, nuint length, int advice);
    }
}

/// <summary>Runs <see cref="MappingTests"/> with no other test in parallel.</summary>
[CollectionDefinition(nameof(MappingTests), DisableParallelization = true)]
public class MappingTestsCollection
{
}
