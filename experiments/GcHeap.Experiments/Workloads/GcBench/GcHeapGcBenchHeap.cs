namespace GcHeap.Experiments.Workloads.GcBench;

/// <summary>GCBench's node type (left, right, i, j) and double array type on a GcHeap.</summary>
internal sealed class GcBenchTypes
{
    public GcBenchTypes(Heap heap)
    {
        Node = heap.Types.DefineObject("GcBenchNode", b => b.Reference("left").Reference("right").Value<int>("i").Value<int>("j"));
        Doubles = heap.Types.DefineDataArray<double>("double[]");
        Left = Node.RefField("left");
        Right = Node.RefField("right");
    }

    public GcType Node { get; }

    public GcType Doubles { get; }

    public GcRefField Left { get; }

    public GcRefField Right { get; }
}

/// <summary>GCBench on GcHeap objects, one mutator per thread.</summary>
internal sealed class GcHeapGcBenchHeap(Heap heap, GcBenchTypes t) : IGcBenchHeap
{
    private readonly Mutator _m = heap.AttachCurrentThread();
    private GcRoot? _longLived;
    private GcRoot? _array;

    public void TopDownTree(int depth)
    {
        using var scope = _m.OpenScope();
        Populate(depth, _m.Allocate(t.Node));
    }

    public void BottomUpTree(int depth)
    {
        using var scope = _m.OpenScope();
        MakeTree(depth);
    }

    public void BuildLongLived(int treeDepth, int arraySize)
    {
        using var scope = _m.OpenScope();
        var root = _m.Allocate(t.Node);
        _longLived = _m.CreateRoot(root);
        Populate(treeDepth, root);
        var array = _m.AllocateArray(t.Doubles, arraySize);
        _array = _m.CreateRoot(array);
        for (int i = 0; i < arraySize / 2; i++)
        {
            _m.SetItem(array, i, 1.0 / i);
        }
    }

    public bool LongLivedIntact()
    {
        if (_longLived is null || _array is null)
        {
            return false;
        }

        using var scope = _m.OpenScope();
        return _m.GetLength(_array.Ref) > 1000 && _m.GetItem<double>(_array.Ref, 1000) == 1.0 / 1000;
    }

    public void WhileBlocked(Action wait)
    {
        using (_m.EnterSafeRegion())
        {
            wait();
        }
    }

    public void Dispose()
    {
        _longLived?.Dispose();
        _array?.Dispose();
        _m.Dispose();
    }

    private void Populate(int depth, GcRef node)
    {
        if (depth <= 0)
        {
            return;
        }

        using var scope = _m.OpenScope();
        var left = _m.Allocate(t.Node);
        var right = _m.Allocate(t.Node);
        _m.SetRef(node, t.Left, left);
        _m.SetRef(node, t.Right, right);
        Populate(depth - 1, left);
        Populate(depth - 1, right);
    }

    private GcRef MakeTree(int depth)
    {
        if (depth <= 0)
        {
            return _m.Allocate(t.Node);
        }

        var scope = _m.OpenScope();
        var left = MakeTree(depth - 1);
        var right = MakeTree(depth - 1);
        var node = _m.Allocate(t.Node);
        _m.SetRef(node, t.Left, left);
        _m.SetRef(node, t.Right, right);
        return scope.Escape(node);
    }
}
