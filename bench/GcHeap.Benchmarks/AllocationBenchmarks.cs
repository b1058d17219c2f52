using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;
using GcHeap.Interop;

namespace GcHeap.Benchmarks;

/// <summary>
/// Suite 1: allocation. GcHeap's <c>Allocate</c> / <c>AllocateArray</c> against <c>new</c> of the
/// equivalent .NET class or array.
/// <para>What a GcHeap number measures: one allocation (bump pointer in a one-page TLAB, or a page
/// run for objects over 2 KiB), the local handle it returns, and 1/<see cref="Batch"/> of opening
/// and closing the handle scope that frees those handles (the batched benchmarks: a scope per
/// batch of <see cref="Batch"/> allocations, <c>OperationsPerInvoke = Batch</c>, so the result is
/// per allocation). The <c>_ScopePerOp</c> variant opens and closes a scope around every single
/// allocation, the worst case for handle scopes.</para>
/// <para>Collections are included on both sides, as they would be in a program: .NET runs its
/// gen0 collections, GcHeap its background collections, started every
/// <see cref="TriggerBytes"/> allocated (the objects are garbage as soon as their scope closes, so
/// each collection finds at most one batch live). The nursery (<see cref="HeapOptions.NurseryBytes"/>)
/// is sized to the trigger, so allocation buffers come from pages already mapped, zeroed in place
/// by the collector; <see cref="Kernel_FirstTouchPage"/> shows what a fresh page would cost
/// instead. The heap is large enough that an allocation never waits for a full heap.</para>
/// <para>The Allocated column counts managed memory only (process-wide, the collector thread
/// included): GcHeap objects live in native memory, so it shows what the API costs the .NET heap.</para>
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class AllocationBenchmarks
{
    /// <summary>
    /// Allocations per handle scope in the batched GcHeap benchmarks: enough that the scope's cost
    /// per allocation is well under a nanosecond.
    /// </summary>
    public const int Batch = 256;

    /// <summary>Elements of the small array (long[16]: GcHeap 136 bytes, .NET 152 bytes).</summary>
    public const int SmallArrayLength = 16;

    /// <summary>Bytes of the large byte array: over GcHeap's 2 KiB small-object limit, one page with its header; .NET's small object heap.</summary>
    public const int LargeArrayBytes = 4000;

    /// <summary>Background collection trigger: a collection per 64 MiB allocated.</summary>
    public const long TriggerBytes = 64L << 20;

    /// <summary>Pages (64 MiB) of the region <see cref="Kernel_FirstTouchPage"/> touches.</summary>
    private const int FreshPages = 16384;

    private Heap _heap = null!;
    private Mutator _m = null!;
    private GcTypes _types = null!;
    private GcType _byteArray = null!;
    private NativeRegion? _fresh;
    private int _freshNext;

    [GlobalSetup]
    public void Setup()
    {
        _heap = new Heap(new HeapOptions
        {
            MaxHeapBytes = 1L << 30,
            BackgroundCollection = true,
            CollectionTriggerBytes = TriggerBytes,
            NurseryBytes = TriggerBytes, // a cycle's allocation fits: every buffer comes from mapped pages (docs/design.md, "The nursery")
        });
        _types = new GcTypes(_heap);
        _byteArray = _heap.Types.ByteArray;
        _m = _heap.AttachCurrentThread("benchmark");
        _fresh = new NativeRegion((ulong)FreshPages << 12, dontFork: true, noHugePages: true, "fresh pages");
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        var history = _heap.History;
        Console.WriteLine($"// GcHeap: backend {_heap.Backend}, {_heap.CollectionCount} collections, " +
            $"median cycle {ExtraStats.Median(history.Select(s => s.CycleMs)):F2} ms, median total pause {ExtraStats.Median(history.Select(s => s.TotalPauseMs)):F3} ms");
        if (_heap.LastCollection is { } last)
        {
            Console.WriteLine("// GcHeap last collection: " + last);
        }

        _m.Dispose();
        _heap.Dispose();
        _fresh?.Dispose();
    }

    // ------------------------------------------------------------ small object

    [Benchmark(Baseline = true), BenchmarkCategory("SmallObject")]
    public NetSmall Net_SmallObject() => new();

    [Benchmark(OperationsPerInvoke = Batch), BenchmarkCategory("SmallObject")]
    public void GcHeap_SmallObject()
    {
        using var scope = _m.OpenScope();
        for (int i = 0; i < Batch; i++)
        {
            _m.Allocate(_types.Small);
        }
    }

    /// <summary>The fast path: <see cref="GcContext.Allocate"/> returns a view, no handle, no per-call thread check.</summary>
    [Benchmark(OperationsPerInvoke = Batch), BenchmarkCategory("SmallObject")]
    public void GcHeap_SmallObject_View()
    {
        var ctx = _m.GetContext();
        GcType small = _types.Small;
        for (int i = 0; i < Batch; i++)
        {
            ctx.Allocate(small);
        }
    }

    [Benchmark, BenchmarkCategory("SmallObject")]
    public GcRef GcHeap_SmallObject_ScopePerOp()
    {
        using var scope = _m.OpenScope();
        return _m.Allocate(_types.Small);
    }

    // ------------------------------------------------------------ small array

    [Benchmark(Baseline = true), BenchmarkCategory("SmallArray")]
    public long[] Net_SmallArray() => new long[SmallArrayLength];

    [Benchmark(OperationsPerInvoke = Batch), BenchmarkCategory("SmallArray")]
    public void GcHeap_SmallArray()
    {
        using var scope = _m.OpenScope();
        for (int i = 0; i < Batch; i++)
        {
            _m.AllocateArray(_types.LongArray, SmallArrayLength);
        }
    }

    [Benchmark(OperationsPerInvoke = Batch), BenchmarkCategory("SmallArray")]
    public void GcHeap_SmallArray_View()
    {
        var ctx = _m.GetContext();
        GcType longs = _types.LongArray;
        for (int i = 0; i < Batch; i++)
        {
            ctx.AllocateArray(longs, SmallArrayLength);
        }
    }

    // ------------------------------------------------------------ large byte array

    [Benchmark(Baseline = true), BenchmarkCategory("LargeByteArray")]
    public byte[] Net_LargeByteArray() => new byte[LargeArrayBytes];

    [Benchmark(OperationsPerInvoke = Batch), BenchmarkCategory("LargeByteArray")]
    public void GcHeap_LargeByteArray()
    {
        using var scope = _m.OpenScope();
        for (int i = 0; i < Batch; i++)
        {
            _m.AllocateArray(_byteArray, LargeArrayBytes);
        }
    }

    [Benchmark(OperationsPerInvoke = Batch), BenchmarkCategory("LargeByteArray")]
    public void GcHeap_LargeByteArray_View()
    {
        var ctx = _m.GetContext();
        GcType bytes = _byteArray;
        for (int i = 0; i < Batch; i++)
        {
            ctx.AllocateArray(bytes, LargeArrayBytes);
        }
    }

    /// <summary>
    /// Reference point, not an allocator: the kernel's price for one fresh 4 KiB page, the floor
    /// under every GcHeap number here. Each op writes one byte to a page of anonymous memory that
    /// is not resident (page fault, the kernel zeroes a page and maps it); every 64 MiB the region
    /// is given back with MADV_DONTNEED, as GcHeap gives a space back after each collection. A
    /// GcHeap page holds one large array, 30 long[16] or 128 small objects, so divide accordingly.
    /// </summary>
    [Benchmark(OperationsPerInvoke = Batch), BenchmarkCategory("LargeByteArray")]
    public unsafe void Kernel_FirstTouchPage()
    {
        byte* p = _fresh!.Pointer;
        for (int i = 0; i < Batch; i++)
        {
            if (_freshNext == FreshPages)
            {
                _fresh.Discard(0, _fresh.Length);
                _freshNext = 0;
            }

            p[(long)_freshNext++ << 12] = 1;
        }
    }
}
