using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;

namespace GcHeap.Benchmarks;

/// <summary>
/// Suite 5: the operations a language runtime uses in bulk. <c>CopyElements</c> of a reference
/// array (the write barrier once per range) against <c>Array.Copy</c> of a .NET reference array,
/// per element (<c>OperationsPerInvoke = N</c>); allocation with initial references
/// (<c>Allocate(type, a, b)</c>: one call, no barrier) against <c>Allocate</c> plus two
/// <c>SetRef</c> and against .NET's <c>new</c> with an object initialiser, per allocation, in
/// batches of <see cref="N"/> inside one handle scope. No collection runs during the copies; the
/// allocations run with background collections as in the allocation suite. Identity: the stable
/// identity hash of an object that has one (<c>Mutator.IdentityHash</c>, a side-table lookup)
/// against <c>RuntimeHelpers.GetHashCode</c>; weak references: <c>GcWeakRef.Get</c> (a new local
/// handle) and <c>IsAlive</c> against <c>WeakReference&lt;T&gt;.TryGetTarget</c>, per object over
/// <see cref="N"/> distinct objects.
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class RuntimeApiBenchmarks
{
    /// <summary>Elements per copy and allocations per batch.</summary>
    public const int N = 1024;

    private Heap _heap = null!;
    private Mutator _m = null!;
    private GcTypes _types = null!;
    private GcRef _source;
    private GcRef _destination;
    private GcRef _x;
    private GcRef _y;
    private NetNode[] _netSource = null!;
    private NetNode[] _netDestination = null!;
    private NetNode _netX = null!;
    private NetNode _netY = null!;
    private GcRef[] _objects = null!;
    private GcWeakRef[] _weak = null!;
    private NetNode[] _netObjects = null!;
    private WeakReference<NetNode>[] _netWeak = null!;

    [GlobalSetup]
    public void Setup()
    {
        _heap = new Heap(new HeapOptions { MaxHeapBytes = 1L << 30, CollectionTriggerBytes = 64L << 20 });
        _types = new GcTypes(_heap);
        _m = _heap.AttachCurrentThread("benchmark");
        _x = _m.Allocate(_types.Node);
        _y = _m.Allocate(_types.Node);
        _source = _m.AllocateArray(_heap.Types.ReferenceArray, N);
        _destination = _m.AllocateArray(_heap.Types.ReferenceArray, N);
        _m.FillElements(_source, 0, N, _x);
        _netX = new NetNode();
        _netY = new NetNode();
        _netSource = new NetNode[N];
        Array.Fill(_netSource, _netX);
        _netDestination = new NetNode[N];
        _objects = new GcRef[N];
        _weak = new GcWeakRef[N];
        _netObjects = new NetNode[N];
        _netWeak = new WeakReference<NetNode>[N];
        for (int i = 0; i < N; i++)
        {
            _objects[i] = _m.Allocate(_types.Node); // local handles kept for the whole run
            _m.IdentityHash(_objects[i]);           // the id exists: the benchmark measures the lookup
            _weak[i] = _m.CreateWeak(_objects[i]);
            _netObjects[i] = new NetNode();
            _netWeak[i] = new WeakReference<NetNode>(_netObjects[i]);
        }
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _m.Dispose();
        _heap.Dispose();
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = N), BenchmarkCategory("CopyReferences")]
    public void Net_ArrayCopy() => Array.Copy(_netSource, _netDestination, N);

    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("CopyReferences")]
    public void GcHeap_CopyElements() => _m.CopyElements(_source, 0, _destination, 0, N);

    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("CopyReferences")]
    public void GcHeap_ElementByElement()
    {
        using var scope = _m.OpenScope();
        for (int i = 0; i < N; i++)
        {
            _m.SetElement(_destination, i, _m.GetElement(_source, i));
        }
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = N), BenchmarkCategory("IdentityHash")]
    public int Net_RuntimeHelpersGetHashCode()
    {
        int h = 0;
        for (int i = 0; i < N; i++)
        {
            h ^= System.Runtime.CompilerServices.RuntimeHelpers.GetHashCode(_netObjects[i]);
        }

        return h;
    }

    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("IdentityHash")]
    public int GcHeap_IdentityHash()
    {
        int h = 0;
        for (int i = 0; i < N; i++)
        {
            h ^= _m.IdentityHash(_objects[i]);
        }

        return h;
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = N), BenchmarkCategory("WeakGet")]
    public int Net_WeakReferenceTryGetTarget()
    {
        int alive = 0;
        for (int i = 0; i < N; i++)
        {
            alive += _netWeak[i].TryGetTarget(out _) ? 1 : 0;
        }

        return alive;
    }

    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("WeakGet")]
    public int GcHeap_WeakGet()
    {
        int alive = 0;
        using var scope = _m.OpenScope();
        for (int i = 0; i < N; i++)
        {
            alive += _weak[i].Get(_m).IsNull ? 0 : 1;
        }

        return alive;
    }

    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("WeakGet")]
    public int GcHeap_WeakIsAlive()
    {
        int alive = 0;
        for (int i = 0; i < N; i++)
        {
            alive += _weak[i].IsAlive(_m) ? 1 : 0;
        }

        return alive;
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = N), BenchmarkCategory("AllocateWithInit")]
    public NetNode Net_NewWithInitializer()
    {
        NetNode last = null!;
        for (int i = 0; i < N; i++)
        {
            last = new NetNode { Next = _netX, Other = _netY };
        }

        return last;
    }

    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("AllocateWithInit")]
    public void GcHeap_AllocateWithReferences()
    {
        using var scope = _m.OpenScope();
        for (int i = 0; i < N; i++)
        {
            _m.Allocate(_types.Node, _x, _y);
        }
    }

    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("AllocateWithInit")]
    public void GcHeap_AllocateThenSetRefs()
    {
        using var scope = _m.OpenScope();
        for (int i = 0; i < N; i++)
        {
            var n = _m.Allocate(_types.Node);
            _m.SetRef(n, _types.Next, _x);
            _m.SetRef(n, _types.Other, _y);
        }
    }
}
