using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;

namespace GcHeap.Benchmarks;

/// <summary>
/// Suite 2: field and element access through the handle API against plain .NET field and array
/// access, one operation per benchmark invocation (BenchmarkDotNet subtracts the cost of its own
/// call). A GcHeap access is: a safepoint poll and the owning-thread check, resolving the handle
/// (bounds, version and segment checks, one load of the slot), the field's type check (or the
/// array's kind and bounds check), then the load or store itself.
/// <para>Reading a reference creates a local handle, so it needs a handle scope: the
/// <c>_Batched</c> benchmarks read <see cref="Batch"/> times in one scope (per-read result), the
/// <c>_ScopePerOp</c> one opens and closes a scope around every read, and
/// <c>GcHeap_IsNullRef</c> reads the field without creating a handle.</para>
/// <para>None of these allocate managed memory: the Allocated column must show "-".
/// No collection runs (nothing is allocated in the loop; background collection is off), so the
/// write barrier is off, as it is outside concurrent marking.</para>
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class FieldAccessBenchmarks
{
    /// <summary>Reference reads per handle scope in the batched benchmarks.</summary>
    public const int Batch = 256;

    private const int ArrayLength = 64;

    private Heap _heap = null!;
    private Mutator _m = null!;
    private GcTypes _types = null!;
    private GcRefField _next;
    private GcField<long> _value;
    private GcRef _obj;
    private GcRef _target;
    private GcRef _longs;
    private GcRef _refs;

    private NetNode _net = null!;
    private NetNode _netTarget = null!;
    private long[] _netLongs = null!;
    private NetNode[] _netRefs = null!;

    // Not constants, so that neither side gets its bounds check folded away.
    private int _index = 17;
    private long _v = 42;

    [GlobalSetup]
    public void Setup()
    {
        _heap = new Heap(new HeapOptions { MaxHeapBytes = 64L << 20, BackgroundCollection = false });
        _types = new GcTypes(_heap);
        _next = _types.Next;
        _value = _types.Value;
        _m = _heap.AttachCurrentThread("benchmark");

        // Local handles opened outside any scope: they stay valid for the whole run.
        _obj = _m.Allocate(_types.Node);
        _target = _m.Allocate(_types.Node);
        _m.SetRef(_obj, _next, _target);
        _m.Set(_obj, _value, 7);
        _longs = _m.AllocateArray(_types.LongArray, ArrayLength);
        _refs = _m.AllocateArray(_heap.Types.ReferenceArray, ArrayLength);
        for (int i = 0; i < ArrayLength; i++)
        {
            _m.SetItem(_longs, i, (long)i);
            _m.SetElement(_refs, i, _target);
        }

        _netTarget = new NetNode();
        _net = new NetNode { Next = _netTarget, Value = 7 };
        _netLongs = new long[ArrayLength];
        _netRefs = new NetNode[ArrayLength];
        for (int i = 0; i < ArrayLength; i++)
        {
            _netLongs[i] = i;
            _netRefs[i] = _netTarget;
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _m.Dispose();
        _heap.Dispose();
    }

    // ------------------------------------------------------------ long field

    [Benchmark(Baseline = true), BenchmarkCategory("ReadLong")]
    public long Net_ReadLong() => _net.Value;

    [Benchmark, BenchmarkCategory("ReadLong")]
    public long GcHeap_ReadLong() => _m.Get(_obj, _value);

    [Benchmark(Baseline = true), BenchmarkCategory("WriteLong")]
    public void Net_WriteLong() => _net.Value = _v;

    [Benchmark, BenchmarkCategory("WriteLong")]
    public void GcHeap_WriteLong() => _m.Set(_obj, _value, _v);

    // ------------------------------------------------------------ reference field

    [Benchmark(Baseline = true), BenchmarkCategory("ReadRef")]
    public NetNode? Net_ReadRef() => _net.Next;

    [Benchmark(OperationsPerInvoke = Batch), BenchmarkCategory("ReadRef")]
    public void GcHeap_ReadRef_Batched()
    {
        using var scope = _m.OpenScope();
        for (int i = 0; i < Batch; i++)
        {
            _m.GetRef(_obj, _next);
        }
    }

    [Benchmark, BenchmarkCategory("ReadRef")]
    public GcRef GcHeap_ReadRef_ScopePerOp()
    {
        using var scope = _m.OpenScope();
        return _m.GetRef(_obj, _next);
    }

    [Benchmark, BenchmarkCategory("ReadRef")]
    public bool GcHeap_IsNullRef() => _m.IsNullRef(_obj, _next);

    [Benchmark(Baseline = true), BenchmarkCategory("WriteRef")]
    public void Net_WriteRef() => _net.Next = _netTarget;

    [Benchmark, BenchmarkCategory("WriteRef")]
    public void GcHeap_WriteRef() => _m.SetRef(_obj, _next, _target);

    // ------------------------------------------------------------ long[] elements

    [Benchmark(Baseline = true), BenchmarkCategory("ArrayGet")]
    public long Net_ArrayGet() => _netLongs[_index];

    [Benchmark, BenchmarkCategory("ArrayGet")]
    public long GcHeap_ArrayGet() => _m.GetItem<long>(_longs, _index);

    [Benchmark(Baseline = true), BenchmarkCategory("ArraySet")]
    public void Net_ArraySet() => _netLongs[_index] = _v;

    [Benchmark, BenchmarkCategory("ArraySet")]
    public void GcHeap_ArraySet() => _m.SetItem(_longs, _index, _v);

    // ------------------------------------------------------------ reference array elements (reads; stores are in the barrier suite)

    [Benchmark(Baseline = true), BenchmarkCategory("RefArrayGet")]
    public NetNode Net_RefArrayGet() => _netRefs[_index];

    [Benchmark(OperationsPerInvoke = Batch), BenchmarkCategory("RefArrayGet")]
    public void GcHeap_RefArrayGet_Batched()
    {
        using var scope = _m.OpenScope();
        for (int i = 0; i < Batch; i++)
        {
            _m.GetElement(_refs, _index);
        }
    }
}
