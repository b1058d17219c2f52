using System.CommandLine;
using GcHeap.Experiments.Workloads.BinaryTrees;

namespace GcHeap.Experiments.Cli;

/// <summary>Every command of the runner.</summary>
internal static class Commands
{
    public static IEnumerable<Command> All()
    {
        yield return WorkloadCommand.Create("binary-trees", "The Benchmarks Game binary-trees program (same output)", c =>
        {
            var depth = new Option<int>("--depth", "-n") { Description = "Maximum tree depth n", DefaultValueFactory = _ => 10 };
            c.Options.Add(depth);
            return p => new BinaryTreesWorkload(p.GetValue(depth));
        });
    }
}
