using System.CommandLine;
using GcHeap.Experiments.Compare;
using GcHeap.Experiments.Results;
using GcHeap.Experiments.Workloads;

namespace GcHeap.Experiments.Cli;

/// <summary>The compare and demo commands.</summary>
internal static class CompareCommands
{
    public static Command Compare()
    {
        var command = new Command("compare", "Move, Continue, Copy and StopTheWorld (and optionally .NET) side by side on fragmented heaps of several live sizes, in one run");
        var sizes = new Option<string>("--sizes") { Description = "Live heap sizes in MiB, comma separated", DefaultValueFactory = _ => "64,256,1024" };
        var backends = new Option<string>("--backends") { Description = "Backends, comma separated, from move, continue, copy, stw, dotnet", DefaultValueFactory = _ => "move,copy,stw" };
        var common = new CaseOptions(command, collectionsDefault: 3);
        command.Options.Add(sizes);
        command.Options.Add(backends);
        command.Validators.Add(r =>
        {
            if (ParseSizes(r.GetValue(sizes)) is null)
            {
                r.AddError("--sizes must be positive integers separated by commas");
            }

            if (ParseBackends(r.GetValue(backends)) is null)
            {
                r.AddError("--backends must be names from move, continue, copy, stw, dotnet separated by commas");
            }
        });
        command.SetAction(p =>
        {
            var s = common.Read(p) with { SizesMb = ParseSizes(p.GetValue(sizes))!, Backends = ParseBackends(p.GetValue(backends))! };
            var report = CompareRunner.Run(s, "compare");
            CompareTable.Print(report);
            common.WriteJson(p, report);
            return report.Cases.Any(c => c.Error is not null || c.Verified == false) ? 3 : 0;
        });
        return command;
    }

    public static Command Demo()
    {
        var command = new Command("demo", "A short run that shows concurrent compaction: a fragmented heap collected with Move, Continue, Copy and StopTheWorld while a mutator runs");
        var live = new Option<int>("--live-mb") { Description = "Live heap size in MiB", DefaultValueFactory = _ => 256 };
        RunOptions.Positive(live, 1);
        var common = new CaseOptions(command, collectionsDefault: 3);
        command.Options.Add(live);
        command.SetAction(p =>
        {
            var s = common.Read(p) with { SizesMb = [p.GetValue(live)], Backends = [RunBackend.Move, RunBackend.Continue, RunBackend.Copy, RunBackend.Stw] };
            var report = CompareRunner.Run(s, "demo");
            DemoTable.Print(report);
            common.WriteJson(p, report);
            return report.Cases.Any(c => c.Error is not null || c.Verified == false) ? 3 : 0;
        });
        return command;
    }

    private static int[]? ParseSizes(string? text)
    {
        var parts = (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var sizes = parts.Select(x => int.TryParse(x, System.Globalization.CultureInfo.InvariantCulture, out int v) && v > 0 ? v : -1).ToArray();
        return sizes.Length == 0 || sizes.Any(v => v <= 0) ? null : sizes;
    }

    private static RunBackend[]? ParseBackends(string? text)
    {
        var parts = (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var list = new List<RunBackend>();
        foreach (string x in parts)
        {
            if (!Enum.TryParse<RunBackend>(x, ignoreCase: true, out var b) || !Enum.IsDefined(b))
            {
                return null;
            }

            list.Add(b);
        }

        return list.Count == 0 ? null : [.. list];
    }

    /// <summary>Options compare and demo share.</summary>
    private sealed class CaseOptions
    {
        private readonly Option<int> _threads = new("--threads", "-t") { Description = "Mutator threads running during the collections", DefaultValueFactory = _ => 1 };
        private readonly Option<int> _collections;
        private readonly Option<double> _drop = Commands.DropOption();
        private readonly Option<int> _seed = new("--seed") { Description = "Random seed", DefaultValueFactory = _ => 42 };
        private readonly Option<double> _heapFactor = new("--heap-factor") { Description = "Heap limit as a multiple of the live size (at least 256 MiB)", DefaultValueFactory = _ => 3 };
        private readonly Option<bool> _verify = new("--verify") { Description = "Verify the heap after every collection" };
        private readonly Option<bool> _quiet = new("--quiet", "-q") { Description = "No progress display" };
        private readonly Option<string?> _json = new("--json") { Description = "Write the report as JSON to this file" };
        private readonly Option<string[]> _heapOptions = HeapOptionOverrides.CreateOption();

        public CaseOptions(Command command, int collectionsDefault)
        {
            _collections = new Option<int>("--collections") { Description = "Collections per case", DefaultValueFactory = _ => collectionsDefault };
            RunOptions.Positive(_threads, 0);
            RunOptions.Positive(_collections, 1);
            _heapFactor.Validators.Add(r =>
            {
                if (r.GetValueOrDefault<double>() < 1.5)
                {
                    r.AddError("--heap-factor must be at least 1.5");
                }
            });
            foreach (var o in new Option[] { _threads, _collections, _drop, _seed, _heapFactor, _verify, _quiet, _json, _heapOptions })
            {
                command.Options.Add(o);
            }
        }

        public CompareSettings Read(ParseResult p) => new()
        {
            Threads = p.GetValue(_threads),
            Collections = p.GetValue(_collections),
            Drop = p.GetValue(_drop),
            Seed = p.GetValue(_seed),
            HeapFactor = p.GetValue(_heapFactor),
            Verify = p.GetValue(_verify),
            Quiet = p.GetValue(_quiet),
            HeapOverrides = HeapOptionOverrides.Parse(p.GetValue(_heapOptions)),
        };

        public void WriteJson(ParseResult p, CompareReport report)
        {
            if (p.GetValue(_json) is string path)
            {
                Json.Write(path, report);
                Terminal.Term.Info($"report written to {path}");
            }
        }
    }
}
