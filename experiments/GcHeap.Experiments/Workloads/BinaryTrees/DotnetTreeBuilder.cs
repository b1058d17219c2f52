namespace GcHeap.Experiments.Workloads.BinaryTrees;

/// <summary>binary-trees on ordinary .NET objects, as the C# Benchmarks Game programs write it.</summary>
internal sealed class DotnetTreeBuilder : ITreeBuilder
{
    private TreeNode? _longLived;

    public long BuildAndCheck(int depth) => Bottom(depth).Check();

    public void BuildLongLived(int depth) => _longLived = Bottom(depth);

    public long CheckLongLived() => _longLived!.Check();

    public void WhileBlocked(Action wait) => wait();

    public void Dispose() => _longLived = null;

    private static TreeNode Bottom(int depth) =>
        depth > 0 ? new TreeNode(Bottom(depth - 1), Bottom(depth - 1)) : new TreeNode(null, null);

    private sealed class TreeNode(TreeNode? left, TreeNode? right)
    {
        public long Check() => left is null ? 1 : 1 + left.Check() + right!.Check();
    }
}
