namespace GcHeap.Experiments.Workloads.GcBench;

/// <summary>GCBench on ordinary .NET objects.</summary>
internal sealed class DotnetGcBenchHeap : IGcBenchHeap
{
    private Node? _longLived;
    private double[]? _array;

    public void TopDownTree(int depth)
    {
        var root = new Node();
        Populate(depth, root);
    }

    public void BottomUpTree(int depth) => MakeTree(depth);

    public void BuildLongLived(int treeDepth, int arraySize)
    {
        _longLived = new Node();
        Populate(treeDepth, _longLived);
        _array = new double[arraySize];
        for (int i = 0; i < arraySize / 2; i++)
        {
            _array[i] = 1.0 / i;
        }
    }

    public bool LongLivedIntact() => _longLived is not null && _array is not null && _array.Length > 1000 && _array[1000] == 1.0 / 1000;

    public void WhileBlocked(Action wait) => wait();

    public void Dispose()
    {
        _longLived = null;
        _array = null;
    }

    private static void Populate(int depth, Node node)
    {
        if (depth <= 0)
        {
            return;
        }

        node.Left = new Node();
        node.Right = new Node();
        Populate(depth - 1, node.Left);
        Populate(depth - 1, node.Right);
    }

    private static Node MakeTree(int depth) => depth <= 0 ? new Node() : new Node { Left = MakeTree(depth - 1), Right = MakeTree(depth - 1) };

    private sealed class Node
    {
        public Node? Left { get; set; }

        public Node? Right { get; set; }

        public int I { get; set; }

        public int J { get; set; }
    }
}
