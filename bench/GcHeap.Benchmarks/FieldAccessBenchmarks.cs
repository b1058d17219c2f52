using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;

namespace GcHeap.Benchmarks;

/// <summary>
/// Suite 2: field and element access through the handle API against plain .NET field and array
/// access. Each invocation touches <see cref="N"/> different objects (or the <see cref="N"/>
/// elements of one array) in a loop and results are per access (<c>OperationsPerInvoke = N</c>):
/// a single .NET field access is too cheap to tell apart from BenchmarkDotNet's empty method,
/// so it would get no ratio, and a loop over one object would let the JIT hoist the .NET load.
/// Both sides pay the same loop: walking a managed array of object references (.NET) or of
/// handles (GcHeap, 8 bytes each too) and summing or counting what they read.
/// <para>A GcHeap access is: a safepoint poll and the owning-thread check, resolving the handle
/// (bounds, version and segment checks, one load of the slot), the field's type check (or the
/// array's kind and bounds check), then the load or store itself.</para>
/// <para>Reading a reference creates a local handle, so it needs a handle scope: the
/// <c>_Batched</c> benchmarks read all <see cref="N"/> in one scope, <c>_ScopePerOp</c> opens and
/// closes a scope around every read, and <c>GcHeap_IsNullRef</c> reads the field without
/// creating a handle.</para>
/// <para>The <c>_View</c> benchmarks use the fast path (<see cref="GcContext"/>, <see cref="GcView"/>):
/// one context per invocation, then the N objects are reached through a GcHeap reference array
/// holding them (as the .NET side reaches them through its array), each access checked against
/// the thread's safepoint epoch and the field's type, with no handle and no per-access poll. The
/// <c>_ArrayView</c> benchmarks take the array once as a <see cref="GcReferenceArrayView"/> or a
/// <see cref="GcArrayView{T}"/> (<see cref="GcView.AsReferenceArray"/>, <see cref="GcView.AsArray{T}"/>),
/// whose kind is checked once there, as a runtime's loop over an array would: each element access
/// then checks only the index and the epoch.</para>
/// <para><c>ListWalk</c> follows a 256-node list (each load depends on the previous one) and sums a field:
/// there the checks of a view overlap with the load latency.</para>
/// <para>None of these allocate managed memory: the Allocated column must show "-". No
/// collection runs (nothing is allocated; background collection is off), so the write barrier
/// is off, as it is outside concurrent marking.</para>
/// </summary>
[MemoryDiagnoser]
[GroupBenchmarksBy(BenchmarkLogicalGroupRule.ByCategory)]
[CategoriesColumn]
public class FieldAccessBenchmarks
{
    /// <summary>Objects (and array elements) accessed per invocation.</summary>
    public const int N = 256;

    private Heap _heap = null!;
    private Mutator _m = null!;
    private GcRefField _next;
    private GcField<long> _value;
    private GcRef[] _objs = null!;
    private GcRef _target;
    private GcRef _longs;
    private GcRef _refs;
    private GcRef _nodes;

    private NetNode[] _nets = null!;
    private NetNode _netTarget = null!;
    private long[] _netLongs = null!;
    private NetNode[] _netRefs = null!;
    private NetNode _netList = null!;
    private GcRef _list;

    private long _v = 42;

    [GlobalSetup]
    public void Setup()
    {
        _heap = new Heap(new HeapOptions { MaxHeapBytes = 64L << 20, BackgroundCollection = false });
        var types = new GcTypes(_heap);
        _next = types.Next;
        _value = types.Value;
        _m = _heap.AttachCurrentThread("benchmark");

        // Local handles opened outside any scope: they stay valid for the whole run.
        _target = _m.Allocate(types.Node);
        _objs = new GcRef[N];
        for (int i = 0; i < N; i++)
        {
            _objs[i] = _m.Allocate(types.Node);
            _m.SetRef(_objs[i], _next, _target);
            _m.Set(_objs[i], _value, i);
        }

        _nodes = _m.AllocateArray(_heap.Types.ReferenceArray, N);
        for (int i = 0; i < N; i++)
        {
            _m.SetElement(_nodes, i, _objs[i]);
        }

        // A list of N nodes, built back to front as a runtime would cons it (each node allocated
        // before the one that points to it on both sides, so the walk goes the same way in memory).
        _list = GcRef.Null;
        for (int i = N - 1; i >= 0; i--)
        {
            var node = _m.Allocate(types.Node);
            _m.Set(node, _value, i);
            if (!_list.IsNull)
            {
                _m.SetRef(node, _next, _list);
            }

            _list = node;
        }

        _longs = _m.AllocateArray(types.LongArray, N);
        _refs = _m.AllocateArray(_heap.Types.ReferenceArray, N);
        for (int i = 0; i < N; i++)
        {
            _m.SetItem(_longs, i, (long)i);
            _m.SetElement(_refs, i, _target);
        }

        for (int i = N - 1; i >= 0; i--)
        {
            _netList = new NetNode { Next = _netList, Value = i };
        }

        _netTarget = new NetNode();
        _nets = new NetNode[N];
        _netLongs = new long[N];
        _netRefs = new NetNode[N];
        for (int i = 0; i < N; i++)
        {
            _nets[i] = new NetNode { Next = _netTarget, Value = i };
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

    [Benchmark(Baseline = true, OperationsPerInvoke = N), BenchmarkCategory("ReadLong")]
    public long Net_ReadLong()
    {
        long sum = 0;
        foreach (var n in _nets)
        {
            sum += n.Value;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("ReadLong")]
    public long GcHeap_ReadLong()
    {
        Mutator m = _m;
        GcField<long> value = _value;
        long sum = 0;
        foreach (var h in _objs)
        {
            sum += m.Get(h, value);
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("ReadLong")]
    public long GcHeap_ReadLong_View()
    {
        var ctx = _m.GetContext();
        var nodes = ctx.View(_nodes);
        GcField<long> value = _value;
        long sum = 0;
        for (int i = 0; i < N; i++)
        {
            sum += nodes.GetElement(i).Get(value);
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("ReadLong")]
    public long GcHeap_ReadLong_ArrayView()
    {
        var nodes = _m.GetContext().View(_nodes).AsReferenceArray();
        GcField<long> value = _value;
        long sum = 0;
        for (int i = 0; i < N; i++)
        {
            sum += nodes[i].Get(value);
        }

        return sum;
    }

    /// <summary>
    /// The floor for a checked read: the same loop written by hand on raw addresses with only the
    /// checks a view access cannot drop (the epoch, the element's null test, its type and heap
    /// against the field token) and nothing else. Not an API: it shows how much of the ratio the
    /// checks themselves cost.
    /// </summary>
    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("ReadLong")]
    public unsafe long Floor_ReadLong()
    {
        var nodes = _m.GetContext().View(_nodes);
        Mutator m = _m;
        nint a = nodes.Address;
        ulong epoch = nodes.Epoch, keyBase = nodes.KeyBase, key = _value.Key;
        nint offset = _value.Offset;
        long sum = 0;
        for (int i = 0; i < N; i++)
        {
            nint p = *(nint*)(a + 8 + ((nint)i * 8));
            if (m.ViewEpoch != epoch || p == 0 || (keyBase | *(uint*)p) != key)
            {
                throw new InvalidOperationException();
            }

            sum += *(long*)(p + offset);
        }

        return sum;
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = N), BenchmarkCategory("WriteLong")]
    public void Net_WriteLong()
    {
        long v = _v;
        foreach (var n in _nets)
        {
            n.Value = v;
        }
    }

    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("WriteLong")]
    public void GcHeap_WriteLong()
    {
        Mutator m = _m;
        GcField<long> value = _value;
        long v = _v;
        foreach (var h in _objs)
        {
            m.Set(h, value, v);
        }
    }

    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("WriteLong")]
    public void GcHeap_WriteLong_View()
    {
        var ctx = _m.GetContext();
        var nodes = ctx.View(_nodes);
        GcField<long> value = _value;
        long v = _v;
        for (int i = 0; i < N; i++)
        {
            nodes.GetElement(i).Set(value, v);
        }
    }

    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("WriteLong")]
    public void GcHeap_WriteLong_ArrayView()
    {
        var nodes = _m.GetContext().View(_nodes).AsReferenceArray();
        GcField<long> value = _value;
        long v = _v;
        for (int i = 0; i < N; i++)
        {
            nodes[i].Set(value, v);
        }
    }

    /// <summary>The floor for a checked write, as <see cref="Floor_ReadLong"/>.</summary>
    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("WriteLong")]
    public unsafe void Floor_WriteLong()
    {
        var nodes = _m.GetContext().View(_nodes);
        Mutator m = _m;
        nint a = nodes.Address;
        ulong epoch = nodes.Epoch, keyBase = nodes.KeyBase, key = _value.Key;
        nint offset = _value.Offset;
        long v = _v;
        for (int i = 0; i < N; i++)
        {
            nint p = *(nint*)(a + 8 + ((nint)i * 8));
            if (m.ViewEpoch != epoch || p == 0 || (keyBase | *(uint*)p) != key)
            {
                throw new InvalidOperationException();
            }

            *(long*)(p + offset) = v;
        }
    }

    // ------------------------------------------------------------ reference field

    [Benchmark(Baseline = true, OperationsPerInvoke = N), BenchmarkCategory("ReadRef")]
    public int Net_ReadRef()
    {
        int count = 0;
        foreach (var n in _nets)
        {
            if (n.Next is not null)
            {
                count++;
            }
        }

        return count;
    }

    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("ReadRef")]
    public int GcHeap_ReadRef_Batched()
    {
        Mutator m = _m;
        GcRefField next = _next;
        int count = 0;
        using var scope = m.OpenScope();
        foreach (var h in _objs)
        {
            if (!m.GetRef(h, next).IsNull)
            {
                count++;
            }
        }

        return count;
    }

    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("ReadRef")]
    public int GcHeap_ReadRef_ScopePerOp()
    {
        Mutator m = _m;
        GcRefField next = _next;
        int count = 0;
        foreach (var h in _objs)
        {
            using var scope = m.OpenScope();
            if (!m.GetRef(h, next).IsNull)
            {
                count++;
            }
        }

        return count;
    }

    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("ReadRef")]
    public int GcHeap_IsNullRef()
    {
        Mutator m = _m;
        GcRefField next = _next;
        int count = 0;
        foreach (var h in _objs)
        {
            if (!m.IsNullRef(h, next))
            {
                count++;
            }
        }

        return count;
    }

    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("ReadRef")]
    public int GcHeap_ReadRef_View()
    {
        var ctx = _m.GetContext();
        var nodes = ctx.View(_nodes);
        GcRefField next = _next;
        int count = 0;
        for (int i = 0; i < N; i++)
        {
            if (!nodes.GetElement(i).GetRef(next).IsNull)
            {
                count++;
            }
        }

        return count;
    }

    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("ReadRef")]
    public int GcHeap_ReadRef_ArrayView()
    {
        var nodes = _m.GetContext().View(_nodes).AsReferenceArray();
        GcRefField next = _next;
        int count = 0;
        for (int i = 0; i < N; i++)
        {
            if (!nodes[i].GetRef(next).IsNull)
            {
                count++;
            }
        }

        return count;
    }

    /// <summary>The floor for a checked reference read, as <see cref="Floor_ReadLong"/>.</summary>
    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("ReadRef")]
    public unsafe int Floor_ReadRef()
    {
        var nodes = _m.GetContext().View(_nodes);
        Mutator m = _m;
        nint a = nodes.Address;
        ulong epoch = nodes.Epoch, keyBase = nodes.KeyBase, key = _next.Key;
        nint offset = _next.Offset;
        int count = 0;
        for (int i = 0; i < N; i++)
        {
            nint p = *(nint*)(a + 8 + ((nint)i * 8));
            if (m.ViewEpoch != epoch || p == 0 || (keyBase | *(uint*)p) != key)
            {
                throw new InvalidOperationException();
            }

            if (*(nint*)(p + offset) != 0)
            {
                count++;
            }
        }

        return count;
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = N), BenchmarkCategory("WriteRef")]
    public void Net_WriteRef()
    {
        NetNode target = _netTarget;
        foreach (var n in _nets)
        {
            n.Next = target;
        }
    }

    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("WriteRef")]
    public void GcHeap_WriteRef()
    {
        Mutator m = _m;
        GcRefField next = _next;
        GcRef target = _target;
        foreach (var h in _objs)
        {
            m.SetRef(h, next, target);
        }
    }

    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("WriteRef")]
    public void GcHeap_WriteRef_View()
    {
        var ctx = _m.GetContext();
        var nodes = ctx.View(_nodes);
        var target = ctx.View(_target);
        GcRefField next = _next;
        for (int i = 0; i < N; i++)
        {
            nodes.GetElement(i).SetRef(next, target);
        }
    }

    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("WriteRef")]
    public void GcHeap_WriteRef_ArrayView()
    {
        var ctx = _m.GetContext();
        var nodes = ctx.View(_nodes).AsReferenceArray();
        var target = ctx.View(_target);
        GcRefField next = _next;
        for (int i = 0; i < N; i++)
        {
            nodes[i].SetRef(next, target);
        }
    }

    // ------------------------------------------------------------ long[] elements

    [Benchmark(Baseline = true, OperationsPerInvoke = N), BenchmarkCategory("ArrayGet")]
    public long Net_ArrayGet()
    {
        long[] array = _netLongs;
        long sum = 0;
        for (int i = 0; i < N; i++)
        {
            sum += array[i];
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("ArrayGet")]
    public long GcHeap_ArrayGet()
    {
        Mutator m = _m;
        GcRef array = _longs;
        long sum = 0;
        for (int i = 0; i < N; i++)
        {
            sum += m.GetItem<long>(array, i);
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("ArrayGet")]
    public long GcHeap_ArrayGet_View()
    {
        var array = _m.GetContext().View(_longs);
        long sum = 0;
        for (int i = 0; i < N; i++)
        {
            sum += array.GetItem<long>(i);
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("ArrayGet")]
    public long GcHeap_ArrayGet_ArrayView()
    {
        var array = _m.GetContext().View(_longs).AsArray<long>();
        long sum = 0;
        for (int i = 0; i < N; i++)
        {
            sum += array[i];
        }

        return sum;
    }

    [Benchmark(Baseline = true, OperationsPerInvoke = N), BenchmarkCategory("ArraySet")]
    public void Net_ArraySet()
    {
        long[] array = _netLongs;
        long v = _v;
        for (int i = 0; i < N; i++)
        {
            array[i] = v + i;
        }
    }

    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("ArraySet")]
    public void GcHeap_ArraySet()
    {
        Mutator m = _m;
        GcRef array = _longs;
        long v = _v;
        for (int i = 0; i < N; i++)
        {
            m.SetItem(array, i, v + i);
        }
    }

    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("ArraySet")]
    public void GcHeap_ArraySet_View()
    {
        var array = _m.GetContext().View(_longs);
        long v = _v;
        for (int i = 0; i < N; i++)
        {
            array.SetItem(i, v + i);
        }
    }

    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("ArraySet")]
    public void GcHeap_ArraySet_ArrayView()
    {
        var array = _m.GetContext().View(_longs).AsArray<long>();
        long v = _v;
        for (int i = 0; i < N; i++)
        {
            array[i] = v + i;
        }
    }

    // ------------------------------------------------------------ reference array elements (reads; stores are in the barrier suite)

    [Benchmark(Baseline = true, OperationsPerInvoke = N), BenchmarkCategory("RefArrayGet")]
    public int Net_RefArrayGet()
    {
        NetNode[] array = _netRefs;
        int count = 0;
        for (int i = 0; i < N; i++)
        {
            if (array[i] is not null)
            {
                count++;
            }
        }

        return count;
    }

    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("RefArrayGet")]
    public int GcHeap_RefArrayGet_Batched()
    {
        Mutator m = _m;
        GcRef array = _refs;
        int count = 0;
        using var scope = m.OpenScope();
        for (int i = 0; i < N; i++)
        {
            if (!m.GetElement(array, i).IsNull)
            {
                count++;
            }
        }

        return count;
    }

    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("RefArrayGet")]
    public int GcHeap_RefArrayGet_View()
    {
        var array = _m.GetContext().View(_refs);
        int count = 0;
        for (int i = 0; i < N; i++)
        {
            if (!array.GetElement(i).IsNull)
            {
                count++;
            }
        }

        return count;
    }

    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("RefArrayGet")]
    public int GcHeap_RefArrayGet_ArrayView()
    {
        var array = _m.GetContext().View(_refs).AsReferenceArray();
        int count = 0;
        for (int i = 0; i < N; i++)
        {
            if (!array[i].IsNull)
            {
                count++;
            }
        }

        return count;
    }

    // ------------------------------------------------------------ walking a linked list (pointer chasing)

    [Benchmark(Baseline = true, OperationsPerInvoke = N), BenchmarkCategory("ListWalk")]
    public long Net_ListWalk()
    {
        long sum = 0;
        for (var n = _netList; n is not null; n = n.Next)
        {
            sum += n.Value;
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("ListWalk")]
    public long GcHeap_ListWalk()
    {
        Mutator m = _m;
        GcField<long> value = _value;
        GcRefField next = _next;
        long sum = 0;
        using var scope = m.OpenScope();
        for (var h = _list; !h.IsNull; h = m.GetRef(h, next))
        {
            sum += m.Get(h, value);
        }

        return sum;
    }

    [Benchmark(OperationsPerInvoke = N), BenchmarkCategory("ListWalk")]
    public long GcHeap_ListWalk_View()
    {
        var ctx = _m.GetContext();
        GcField<long> value = _value;
        GcRefField next = _next;
        long sum = 0;
        for (var p = ctx.View(_list); !p.IsNull; p = p.GetRef(next))
        {
            sum += p.Get(value);
        }

        return sum;
    }
}
