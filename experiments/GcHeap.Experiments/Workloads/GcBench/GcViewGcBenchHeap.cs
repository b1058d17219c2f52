namespace GcHeap.Experiments.Workloads.GcBench;

/// <summary>
/// GCBench on GcHeap objects through the fast path (<see cref="GcContext"/>, <see cref="GcView"/>).
/// An allocation may be a safepoint, so whatever a recursion level must keep across one is held
/// in a local handle used as a shadow-stack slot (<see cref="GcContext.Set"/>): the handles are
/// created once per thread, never per node.
/// </summary>
internal sealed class GcViewGcBenchHeap : IGcBenchHeap
{
    private const int MaxDepth = 64;

    private readonly GcBenchTypes _t;
    private readonly Mutator _m;
    private readonly GcRef[] _a = new GcRef[MaxDepth];
    private readonly GcRef[] _b = new GcRef[MaxDepth];
    private GcRoot? _longLived;
    private GcRoot? _array;

    public GcViewGcBenchHeap(Heap heap, GcBenchTypes t)
    {
        _t = t;
        _m = heap.AttachCurrentThread();
        for (int i = 0; i < MaxDepth; i++)
        {
            // Outside any scope: these slots live as long as the mutator.
            _a[i] = _m.GetContext().Allocate(t.Node).ToHandle();
            _b[i] = _m.GetContext().Allocate(t.Node).ToHandle();
        }
    }

    public void TopDownTree(int depth)
    {
        var ctx = _m.GetContext();
        Populate(ctx, depth, ctx.Allocate(_t.Node));
        ClearFrames(ctx, depth);
    }

    public void BottomUpTree(int depth)
    {
        var ctx = _m.GetContext();
        MakeTree(ctx, depth);
        ClearFrames(ctx, depth);
    }

    /// <summary>The slots must not keep the dropped tree alive.</summary>
    private void ClearFrames(GcContext ctx, int depth)
    {
        for (int i = 0; i <= Math.Min(depth, MaxDepth - 1); i++)
        {
            ctx.Set(_a[i], GcContext.Null);
            ctx.Set(_b[i], GcContext.Null);
        }
    }

    public void BuildLongLived(int treeDepth, int arraySize)
    {
        var ctx = _m.GetContext();
        _longLived = _m.CreateRoot(ctx.Allocate(_t.Node).ToHandle());
        ctx = _m.GetContext();
        Populate(ctx, treeDepth, ctx.View(_longLived.Ref));
        ClearFrames(ctx, treeDepth);
        _array = _m.CreateRoot(_m.GetContext().AllocateArray(_t.Doubles, arraySize).ToHandle());
        var array = _m.GetContext().View(_array.Ref).AsArray<double>(); // the element type checked once for the loop
        for (int i = 0; i < arraySize / 2; i++)
        {
            array[i] = 1.0 / i;
        }
    }

    public bool LongLivedIntact()
    {
        if (_longLived is null || _array is null)
        {
            return false;
        }

        var array = _m.GetContext().View(_array.Ref);
        return array.Length > 1000 && array.GetItem<double>(1000) == 1.0 / 1000;
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

    /// <summary>Inside a reservation covering every node below: GCBench's Populate on views.</summary>
    private void PopulateReserved(GcContext ctx, int depth, GcView node)
    {
        if (depth <= 0)
        {
            return;
        }

        var left = ctx.Allocate(_t.Node);
        var right = ctx.Allocate(_t.Node);
        node.SetRef(_t.Left, left);
        node.SetRef(_t.Right, right);
        PopulateReserved(ctx, depth - 1, left);
        PopulateReserved(ctx, depth - 1, right);
    }

    /// <summary>Inside a reservation covering the whole subtree: GCBench's MakeTree on views.</summary>
    private GcView MakeTreeReserved(GcContext ctx, int depth)
    {
        if (depth <= 0)
        {
            return ctx.Allocate(_t.Node);
        }

        var left = MakeTreeReserved(ctx, depth - 1);
        var right = MakeTreeReserved(ctx, depth - 1);
        var node = ctx.Allocate(_t.Node);
        node.SetRef(_t.Left, left);
        node.SetRef(_t.Right, right);
        return node;
    }

    private void Populate(GcContext ctx, int depth, GcView node)
    {
        if (depth <= 0)
        {
            return;
        }

        GcRef frame = _a[depth];
        ctx.Set(frame, node);
        long below = ((2L << depth) - 2) * _t.Node.InstanceSize;
        if (below <= 4096)
        {
            ctx.Reserve((int)below); // a safepoint: the node comes back from its slot
            PopulateReserved(ctx, depth, ctx.View(frame));
            return;
        }

        var left = ctx.Allocate(_t.Node);
        ctx.View(frame).SetRef(_t.Left, left);
        var right = ctx.Allocate(_t.Node);
        ctx.View(frame).SetRef(_t.Right, right);
        Populate(ctx, depth - 1, ctx.View(frame).GetRef(_t.Left));
        Populate(ctx, depth - 1, ctx.View(frame).GetRef(_t.Right));
    }

    private GcView MakeTree(GcContext ctx, int depth)
    {
        long subtree = ((2L << Math.Max(depth, 0)) - 1) * _t.Node.InstanceSize;
        if (subtree <= 4096)
        {
            ctx.Reserve((int)subtree);
            return MakeTreeReserved(ctx, depth);
        }

        if (depth <= 0)
        {
            return ctx.Allocate(_t.Node);
        }

        ctx.Set(_a[depth], MakeTree(ctx, depth - 1));
        ctx.Set(_b[depth], MakeTree(ctx, depth - 1));
        var node = ctx.Allocate(_t.Node);
        node.SetRef(_t.Left, ctx.View(_a[depth]));
        node.SetRef(_t.Right, ctx.View(_b[depth]));
        return node;
    }
}
