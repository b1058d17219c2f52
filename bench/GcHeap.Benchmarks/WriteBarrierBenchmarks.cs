using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;

namespace GcHeap.Benchmarks;

/// <summary>
/// Suite 3: the reference write path and its SATB write barrier ("the barrier costs nothing
/// measurable when marking is off, and little when it is on").
/// <para>Each invocation stores <see cref="Batch"/> references into the same field (or array
/// element), alternating between two targets so that every store overwrites a non-null
/// reference: with the barrier on, every store is logged. Results are per store.</para>
/// <list type="bullet">
/// <item><c>Net_*</c> (baseline): a plain .NET reference store; it includes the CLR's own GC
/// write barrier (a card-table check and mark), so it is not free either.</item>
/// <item><c>GcHeap_*_BarrierOff</c>: the store as a program pays it outside concurrent marking:
/// poll, two handle resolutions, the field's type check (array: kind and bounds check), one
/// load of <c>Mutator.BarrierActive</c> and the store.</item>
/// <item><c>GcHeap_SetLong_SameLoop</c>: the same loop storing a long field instead (no value
/// handle to resolve, no barrier): SetRef_BarrierOff minus this is what a reference store adds
/// (resolving the value handle, the null test and the barrier flag test).</item>
/// <item><c>GcHeap_*_BarrierOn</c>: the same with <c>BarrierActive</c> set, as during concurrent
/// marking: each store also loads the old value and appends it to the thread's SATB buffer (1,024
/// entries); a full buffer is published to the collector's queue and a fresh one taken from the
/// pool. No marker runs here, so each invocation ends by handing the published buffers back to
/// the pool itself (the marker's job), which keeps memory flat and the Allocated column at 0; that
/// recycling (about one buffer per 1,024 stores) is included in the number, the marker's work
/// of greying the logged references is not. The off variants run the same (empty) recycling.</item>
/// </list>
/// <para>The flag is set in [GlobalSetup] (BenchmarkDotNet runs every benchmark in its own
/// process) and no collection runs (background collection off, nothing allocated), so nothing
/// else turns it off.</para>
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class WriteBarrierBenchmarks
{
    /// <summary>Stores per invocation (results are per store).</summary>
    public const int Batch = 1024;

    private const int ArrayLength = 64;

    private Heap _heap = null!;
    private Mutator _m = null!;
    private GcRefField _next;
    private GcField<long> _value;
    private GcRef _obj;
    private GcRef _a;
    private GcRef _b;
    private GcRef _refs;

    private NetNode _net = null!;
    private NetNode _netA = null!;
    private NetNode _netB = null!;
    private NetNode[] _netRefs = null!;
    private int _index = 17;

    [GlobalSetup]
    public void Setup()
    {
        _heap = new Heap(new HeapOptions { MaxHeapBytes = 64L << 20, BackgroundCollection = false });
        var types = new GcTypes(_heap);
        _next = types.Next;
        _value = types.Value;
        _m = _heap.AttachCurrentThread("benchmark");
        _obj = _m.Allocate(types.Node);
        _a = _m.Allocate(types.Node);
        _b = _m.Allocate(types.Node);
        _refs = _m.AllocateArray(_heap.Types.ReferenceArray, ArrayLength);
        _m.SetRef(_obj, _next, _b);
        _m.SetElement(_refs, _index, _b);

        _netA = new NetNode();
        _netB = new NetNode();
        _net = new NetNode { Next = _netB };
        _netRefs = new NetNode[ArrayLength];
        _netRefs[_index] = _netB;
    }

    [GlobalSetup(Targets = [nameof(GcHeap_SetRef_BarrierOn), nameof(GcHeap_SetElement_BarrierOn)])]
    public void SetupBarrierOn()
    {
        Setup();
        _m.BarrierActive = true;
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _m.BarrierActive = false;
        RecycleSatb();
        _m.Dispose();
        _heap.Dispose();
    }

    // ------------------------------------------------------------ reference field

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch), BenchmarkCategory("SetRef")]
    public void Net_SetRef()
    {
        NetNode node = _net, x = _netA, y = _netB;
        for (int i = 0; i < Batch; i++)
        {
            node.Next = x;
            (x, y) = (y, x);
        }
    }

    [Benchmark(OperationsPerInvoke = Batch), BenchmarkCategory("SetRef")]
    public void GcHeap_SetRef_BarrierOff() => SetRefLoop();

    /// <summary>Reference point: the same loop storing a long field with Set&lt;long&gt; (no value handle, no barrier).</summary>
    [Benchmark(OperationsPerInvoke = Batch), BenchmarkCategory("SetRef")]
    public void GcHeap_SetLong_SameLoop()
    {
        Mutator m = _m;
        GcRef obj = _obj;
        GcField<long> value = _value;
        long x = 1, y = 2;
        for (int i = 0; i < Batch; i++)
        {
            m.Set(obj, value, x);
            (x, y) = (y, x);
        }

        RecycleSatb();
    }

    [Benchmark(OperationsPerInvoke = Batch), BenchmarkCategory("SetRef")]
    public void GcHeap_SetRef_BarrierOn() => SetRefLoop();

    // ------------------------------------------------------------ reference array element

    [Benchmark(Baseline = true, OperationsPerInvoke = Batch), BenchmarkCategory("SetElement")]
    public void Net_SetElement()
    {
        NetNode[] array = _netRefs;
        NetNode x = _netA, y = _netB;
        int index = _index;
        for (int i = 0; i < Batch; i++)
        {
            array[index] = x;
            (x, y) = (y, x);
        }
    }

    [Benchmark(OperationsPerInvoke = Batch), BenchmarkCategory("SetElement")]
    public void GcHeap_SetElement_BarrierOff() => SetElementLoop();

    [Benchmark(OperationsPerInvoke = Batch), BenchmarkCategory("SetElement")]
    public void GcHeap_SetElement_BarrierOn() => SetElementLoop();

    private void SetRefLoop()
    {
        Mutator m = _m;
        GcRef obj = _obj, x = _a, y = _b;
        GcRefField next = _next;
        for (int i = 0; i < Batch; i++)
        {
            m.SetRef(obj, next, x);
            (x, y) = (y, x);
        }

        RecycleSatb();
    }

    private void SetElementLoop()
    {
        Mutator m = _m;
        GcRef array = _refs, x = _a, y = _b;
        int index = _index;
        for (int i = 0; i < Batch; i++)
        {
            m.SetElement(array, index, x);
            (x, y) = (y, x);
        }

        RecycleSatb();
    }

    /// <summary>What the marker does with published SATB buffers, minus greying: give them back to the pool.</summary>
    private unsafe void RecycleSatb()
    {
        var queue = _heap.Collector.Satb;
        while (queue.TryTake(out var buffer, out _))
        {
            queue.Return(buffer);
        }
    }
}
