using System.CommandLine;
using GcHeap.Experiments.Cli;

namespace GcHeap.Experiments;

internal static class Program
{
    private static int Main(string[] args)
    {
        CommandLine.Arguments = args;
        var root = new RootCommand("GcHeap experiment runner: workloads on GcHeap backends and on .NET, backend comparison, demo, live counters.");
        foreach (var command in Commands.All())
        {
            root.Subcommands.Add(command);
        }

        return root.Parse(args).Invoke();
    }
}
