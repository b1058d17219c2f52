using System.CommandLine;
using GcHeap.Experiments.Workloads.BinaryTrees;
using GcHeap.Experiments.Workloads.GcBench;

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

        yield return WorkloadCommand.Create("gcbench", "Ellis/Kovac/Boehm GCBench (top-down and bottom-up trees, a long-lived tree and array)", c =>
        {
            var scale = new Option<int>("--scale") { Description = "Take this many levels off every tree depth (and divide the array by 2^scale); 0 = the classic sizes", DefaultValueFactory = _ => 0 };
            RunOptions.Positive(scale, 0);
            c.Options.Add(scale);
            return p => new GcBenchWorkload(GcBenchParameters.Scaled(p.GetValue(scale)), p.GetValue(scale));
        });
    }
}
