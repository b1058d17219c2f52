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
            try
            {
                result = GcHeapHarness.Run(workload, s);
            }
            catch (Exception e) when (e is GcHeapException or ObjectDisposedException)
            {
                // A failure of GcHeap itself (for example a collection that failed): say so and
                // leave a result that records it instead of figures.
                Terminal.Term.Info($"{workload.Name} on {RunSettings.Name(s.Backend)} failed inside GcHeap: {e}");
                var failed = GcHeapHarness.NewResult(workload, s);
                failed.Error = $"{e.GetType().Name}: {e.Message}";
                if (s.JsonPath is not null)
                {
                    Json.Write(s.JsonPath, failed);
                }

                return 4;
            }
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
