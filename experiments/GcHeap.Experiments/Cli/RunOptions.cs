using System.CommandLine;
using GcHeap.Experiments.Workloads;

namespace GcHeap.Experiments.Cli;

/// <summary>The options every workload command takes, and reading them back as <see cref="RunSettings"/>.</summary>
internal sealed class RunOptions
{
    private readonly Option<string> _backend = new("--backend", "-b")
    {
        Description = "Where objects live: move, continue, copy, stw (GcHeap backends) or dotnet (.NET objects and .NET's GC)",
        DefaultValueFactory = _ => "move",
    };

    private readonly Option<int> _threads = new("--threads", "-t") { Description = "Mutator threads", DefaultValueFactory = _ => 1 };

    private readonly Option<int> _liveMb = new("--live-mb") { Description = "Live data to build, in MiB", DefaultValueFactory = _ => 64 };

    private readonly Option<double> _seconds = new("--seconds", "-s") { Description = "How long the mutators run", DefaultValueFactory = _ => 10 };

    private readonly Option<int> _seed = new("--seed") { Description = "Random seed: the same seed gives the same work", DefaultValueFactory = _ => 42 };

    private readonly Option<string?> _json = new("--json") { Description = "Write the result as JSON to this file" };

    private readonly Option<int?> _heapMb = new("--heap-mb") { Description = "GcHeap limit in MiB (default max(256, 3 x live))" };

    private readonly Option<bool> _verify = new("--verify") { Description = "Verify the heap after every collection (HeapOptions.VerifyHeap)" };

    private readonly Option<string> _api = new("--api")
    {
        Description = "How the workload reaches GcHeap objects: views (the fast path, GcContext/GcView) or handles (every access through a GcRef)",
        DefaultValueFactory = _ => "views",
    };

    private readonly Option<bool> _quiet = new("--quiet", "-q") { Description = "No progress display and no summary on standard error" };

    private readonly Option<bool> _traceSuspensions = new("--trace-suspensions")
    {
        Description = "Record the .NET runtime's own suspensions (any reason) and tier-1 JIT work next to GcHeap's pauses, in-process; the JSON says how much of each pause they cover",
    };

    private readonly Option<bool> _logDotnetGcs = new("--log-dotnet-gcs")
    {
        Description = "Log every .NET collection of the process during a GcHeap run (generation, reason, the thread that started it) and sampled large allocations, to the JSON and standard error",
    };

    private readonly Option<string[]> _heapOptions = HeapOptionOverrides.CreateOption();

    private readonly Option<bool> _child = new("--child") { Hidden = true };

    private readonly Option<string?> _childResult = new("--child-result") { Hidden = true };

    public RunOptions()
    {
        _backend.AcceptOnlyFromAmong("move", "continue", "copy", "stw", "dotnet");
        _api.AcceptOnlyFromAmong("views", "handles");
        Positive(_threads, 1);
        Positive(_liveMb, 1);
        _seconds.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double>() < 0)
            {
                r.AddError("--seconds must not be negative");
            }
        });
        _heapMb.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is < 1)
            {
                r.AddError("--heap-mb must be at least 1");
            }
        });
    }

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { _backend, _threads, _liveMb, _seconds, _seed, _json, _heapMb, _verify, _api, _quiet, _traceSuspensions, _logDotnetGcs, _heapOptions, _child, _childResult })
        {
            command.Options.Add(o);
        }
    }

    public RunSettings Read(ParseResult p) => new()
    {
        Backend = Enum.Parse<RunBackend>(p.GetValue(_backend)!, ignoreCase: true),
        Threads = p.GetValue(_threads),
        LiveMb = p.GetValue(_liveMb),
        Seconds = p.GetValue(_seconds),
        Seed = p.GetValue(_seed),
        JsonPath = p.GetValue(_json),
        HeapMb = p.GetValue(_heapMb),
        Verify = p.GetValue(_verify),
        Api = Enum.Parse<RunApi>(p.GetValue(_api)!, ignoreCase: true),
        Quiet = p.GetValue(_quiet),
        TraceSuspensions = p.GetValue(_traceSuspensions),
        LogDotnetGcs = p.GetValue(_logDotnetGcs),
        HeapOverrides = HeapOptionOverrides.Parse(p.GetValue(_heapOptions)),
        Child = p.GetValue(_child),
        ChildResultPath = p.GetValue(_childResult),
    };

    internal static void Positive(Option<int> option, int min) => option.Validators.Add(r =>
    {
        if (r.GetValueOrDefault<int>() < min)
        {
            r.AddError($"{option.Name} must be at least {min}");
        }
    });
}
