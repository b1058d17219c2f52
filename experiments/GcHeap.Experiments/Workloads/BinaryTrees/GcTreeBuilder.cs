namespace GcHeap.Experiments.Workloads.BinaryTrees;

/// <summary>The node type of binary-trees on a GcHeap.</summary>
internal sealed class GcTrees
{
    public GcTrees(Heap heap)
    {
        Node = heap.Types.TryGet("TreeNode", out var t) ? t : heap.Types.DefineObject("TreeNode", b => b.Reference("left").Reference("right"));
        Left = Node.RefField("left");
        Right = Node.RefField("right");
    }

    public GcType Node { get; }

    public GcRefField Left { get; }

    public GcRefField Right { get; }
}

/// <summary>binary-trees on GcHeap objects: one mutator per thread, a handle scope per tree level.</summary>
internal sealed class GcTreeBuilder : ITreeBuilder
{
    private readonly GcTrees _t;
    private readonly Mutator _m;
    private GcRoot? _longLived;

    public GcTreeBuilder(Heap heap, GcTrees trees)
    {
        _t = trees;
        _m = heap.AttachCurrentThread();
    }

    public long BuildAndCheck(int depth)
    {
        using var scope = _m.OpenScope();
        return Check(Bottom(depth));
    }

    public void BuildLongLived(int depth)
    {
        using var scope = _m.OpenScope();
        _longLived = _m.CreateRoot(Bottom(depth));
    }

    public long CheckLongLived()
    {
        using var scope = _m.OpenScope();
        return Check(_longLived!.Ref);
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
        _m.Dispose();
    }

    private GcRef Bottom(int depth)
    {
        if (depth == 0)
        {
            return _m.Allocate(_t.Node);
        }

        var scope = _m.OpenScope();
        var left = Bottom(depth - 1);
        var right = Bottom(depth - 1);
        var node = _m.Allocate(_t.Node);
        _m.SetRef(node, _t.Left, left);
        _m.SetRef(node, _t.Right, right);
        return scope.Escape(node);
    }

    private long Check(GcRef node)
    {
        if (_m.IsNullRef(node, _t.Left))
        {
            return 1;
        }

        using var scope = _m.OpenScope();
        return 1 + Check(_m.GetRef(node, _t.Left)) + Check(_m.GetRef(node, _t.Right));
    }
}
