using System.CommandLine;
using GcHeap.Experiments.Cli;

namespace GcHeap.Experiments;

internal static class Program
{
    private static int Main(string[] args)
    {
        // The usual command lines of the programs the workloads reproduce ("binary-trees 21",
        // GCPerfSim's switches) are read as the named options they stand for.
        var (translated, rewritten, error) = ReferenceCommandLines.Translate(args);
        if (error is not null)
        {
            Console.Error.WriteLine(error);
            return 2;
        }

        if (rewritten is not null && !args.Contains("-q") && !args.Contains("--quiet") && !args.Contains("--child"))
        {
            Console.Error.WriteLine($"read as: {rewritten}");
        }

        args = translated;
        CommandLine.Arguments = args;
        var root = new RootCommand("GcHeap experiment runner: workloads on GcHeap backends and on .NET, backend comparison, demo, live counters.");
        foreach (var command in Commands.All())
        {
            root.Subcommands.Add(command);
        }

        return root.Parse(args).Invoke();
    }
}
