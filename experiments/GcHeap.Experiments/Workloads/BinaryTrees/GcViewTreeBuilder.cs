namespace GcHeap.Experiments.Workloads.BinaryTrees;

/// <summary>
/// binary-trees on GcHeap objects through the fast path, as a runtime author would write it. A
/// subtree small enough for one allocation buffer is built after <see cref="GcContext.Reserve"/>,
/// children first as the benchmark's C# program does, with views only (no allocation in it is a
/// safepoint). Above that, an allocation may be a safepoint, so a node under construction is held
/// in a local handle used as a shadow-stack slot (one per tree level, re-pointed with
/// <see cref="GcContext.Set"/>, never created per node). The check walks views only (it does not
/// allocate, so no view expires during it).
/// </summary>
internal sealed class GcViewTreeBuilder : ITreeBuilder
{
    private readonly GcTrees _t;
    private readonly Mutator _m;
    private readonly GcRef[] _frames;
    private GcRoot? _longLived;

    public GcViewTreeBuilder(Heap heap, GcTrees trees)
    {
        _t = trees;
        _m = heap.AttachCurrentThread();
        _frames = new GcRef[64]; // outside any scope: they live as long as the mutator
        for (int i = 0; i < _frames.Length; i++)
        {
            _frames[i] = _m.GetContext().Allocate(_t.Node).ToHandle();
        }
    }

    public long BuildAndCheck(int depth)
    {
        var ctx = _m.GetContext();
        long check = Check(Bottom(ctx, depth));
        ClearFrames(ctx, depth);
        return check;
    }

    public void BuildLongLived(int depth)
    {
        var ctx = _m.GetContext();
        var tree = Bottom(ctx, depth).ToHandle();
        ClearFrames(ctx, depth);
        _longLived = _m.CreateRoot(tree);
    }

    /// <summary>The slots must not keep a dropped tree alive.</summary>
    private void ClearFrames(GcContext ctx, int depth)
    {
        for (int i = 1; i <= Math.Min(depth, _frames.Length - 1); i++)
        {
            ctx.Set(_frames[i], GcContext.Null);
        }
    }

    public long CheckLongLived() => Check(_m.GetContext().View(_longLived!.Ref));

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

    private GcView Bottom(GcContext ctx, int depth)
    {
        long subtree = ((2L << depth) - 1) * _t.Node.InstanceSize;
        if (subtree <= 4096)
        {
            ctx.Reserve((int)subtree);
            return BottomReserved(ctx, depth);
        }

        var node = ctx.Allocate(_t.Node);
        if (depth == 0)
        {
            return node;
        }

        GcRef frame = _frames[depth];
        ctx.Set(frame, node);                 // the children's allocations may move it
        var left = Bottom(ctx, depth - 1);
        ctx.View(frame).SetRef(_t.Left, left); // left is current: nothing allocated since it returned
        var right = Bottom(ctx, depth - 1);
        node = ctx.View(frame);
        node.SetRef(_t.Right, right);
        return node;
    }

    /// <summary>Inside a reservation covering the whole subtree: plain recursion on views.</summary>
    private GcView BottomReserved(GcContext ctx, int depth)
    {
        if (depth == 0)
        {
            return ctx.Allocate(_t.Node);
        }

        var left = BottomReserved(ctx, depth - 1);
        var right = BottomReserved(ctx, depth - 1);
        var node = ctx.Allocate(_t.Node);
        node.SetRef(_t.Left, left);
        node.SetRef(_t.Right, right);
        return node;
    }

    private long Check(GcView node)
    {
        var left = node.GetRef(_t.Left);
        return left.IsNull ? 1 : 1 + Check(left) + Check(node.GetRef(_t.Right));
    }
}
