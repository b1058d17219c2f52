using System.CommandLine;
using GcHeap.Experiments.Harness;
using GcHeap.Experiments.Reporting;
using GcHeap.Experiments.Results;
using GcHeap.Experiments.Workloads;

namespace GcHeap.Experiments.Cli;

/// <summary>A command that runs one workload on the chosen backend and reports it.</summary>
internal static class WorkloadCommand
{
    /// <summary>Creates the command; <paramref name="configure"/> adds the workload's own options and returns how to build it.</summary>
    public static Command Create(string name, string description, Func<Command, Func<ParseResult, IWorkload>> configure)
    {
        var command = new Command(name, description);
        var common = new RunOptions();
        common.AddTo(command);
        var make = configure(command);
        command.SetAction(p =>
        {
            var settings = common.Read(p);
            var workload = make(p);
            return Execute(workload, settings, CommandLine.Arguments);
        });
        return command;
    }

    private static int Execute(IWorkload workload, RunSettings s, IReadOnlyList<string> commandLine)
    {
        RunResult result;
        if (s.Backend == RunBackend.Dotnet)
        {
            if (s.Child)
            {
                result = DotnetHarness.Run(workload, s);
                Json.Write(s.ChildResultPath ?? throw new InvalidOperationException("--child needs --child-result"), result);
                return 0;
            }

            result = DotnetParentHarness.Run(workload, s, commandLine);
        }
        else
        {
            result = GcHeapHarness.Run(workload, s);
        }

        if (s.JsonPath is not null)
        {
            Json.Write(s.JsonPath, result);
        }

        if (!s.Quiet)
        {
            RunSummary.Print(result, s.JsonPath);
        }

        return result.Verified == false ? 3 : 0;
    }
}
