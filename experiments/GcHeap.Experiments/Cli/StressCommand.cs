using System.CommandLine;
using System.Text.Json;
using GcHeap.Experiments.Results;
using GcHeap.Experiments.Stress;

namespace GcHeap.Experiments.Cli;

/// <summary>stress: the project's own GCStress (see <see cref="StressRunner"/>).</summary>
internal static class StressCommand
{
    public static Command Create()
    {
        var command = new Command("stress", "Random mutation from several threads checked against a .NET model, collections on every backend, fork/EBUSY phases, .NET GC storms, heap exhaustion, disposal races and bad-input fuzzing, with a hang watchdog");
        var seconds = new Option<double>("--seconds") { Description = "How long to run", DefaultValueFactory = _ => 60 };
        var threads = new Option<int>("--threads") { Description = "Mutator threads (each with its own mirrored graph)", DefaultValueFactory = _ => 3 };
        var seed = new Option<int>("--seed") { Description = "Random seed", DefaultValueFactory = _ => 1 };
        var backends = new Option<string>("--backends") { Description = "Backends to rotate through: move,copy,stw,continue", DefaultValueFactory = _ => "move,copy,stw" };
        var phaseSeconds = new Option<double>("--phase-seconds") { Description = "Length of one phase (one heap, one backend, one kind of phase)", DefaultValueFactory = _ => 5 };
        var heapMb = new Option<int>("--heap-mb") { Description = "Heap limit in MiB (exhaustion phases use at most 8)", DefaultValueFactory = _ => 32 };
        var hangSeconds = new Option<double>("--hang-seconds") { Description = "Report a hang (every thread's state) and exit 3 when a thread makes no progress for this long", DefaultValueFactory = _ => 60 };
        var safepointTimeout = new Option<double>("--safepoint-timeout-ms") { Description = "HeapOptions.SafepointTimeout in ms (0: wait as long as it takes)", DefaultValueFactory = _ => 0 };
        var phases = new Option<string>("--phases") { Description = "Kinds of phase to rotate through: mixed,fork,storm,exhaustion,dispose", DefaultValueFactory = _ => "mixed,fork,storm,exhaustion,dispose" };
        var stormPoll = new Option<int>("--storm-poll-every") { Description = "Attach the GC storm thread and let it make a heap call only every N GC.Collect() calls (0: not attached)", DefaultValueFactory = _ => 0 };
        var json = new Option<string?>("--json") { Description = "Write the totals as JSON to this file" };
        var heapOptions = HeapOptionOverrides.CreateOption();
        RunOptions.Positive(threads, 1);
        foreach (var o in new Option[] { seconds, threads, seed, backends, phaseSeconds, heapMb, hangSeconds, safepointTimeout, phases, stormPoll, json, heapOptions })
        {
            command.Options.Add(o);
        }

        foreach (var o in new[] { seconds, phaseSeconds, hangSeconds })
        {
            o.Validators.Add(r =>
            {
                if (r.GetValueOrDefault<double>() <= 0)
                {
                    r.AddError($"{o.Name} must be positive");
                }
            });
        }

        RunOptions.Positive(heapMb, 4);
        RunOptions.Positive(stormPoll, 0);
        backends.Validators.Add(r =>
        {
            if (ParseBackends(r.GetValueOrDefault<string>() ?? string.Empty) is null)
            {
                r.AddError("--backends is a comma-separated list of move, copy, stw and continue");
            }
        });
        phases.Validators.Add(r =>
        {
            if (ParsePhases(r.GetValueOrDefault<string>() ?? string.Empty) is null)
            {
                r.AddError("--phases is a comma-separated list of mixed, fork, storm, exhaustion and dispose");
            }
        });
        command.SetAction(p => Run(new StressSettings(
            p.GetValue(seconds),
            p.GetValue(threads),
            p.GetValue(seed),
            ParseBackends(p.GetValue(backends)!)!,
            p.GetValue(phaseSeconds),
            p.GetValue(heapMb),
            p.GetValue(hangSeconds),
            p.GetValue(safepointTimeout),
            ParsePhases(p.GetValue(phases)!)!,
            p.GetValue(stormPoll),
            "stress " + string.Join(' ', CommandLine.Arguments.Skip(1)))
        {
            HeapOverrides = HeapOptionOverrides.Parse(p.GetValue(heapOptions)),
        }, p.GetValue(json)));
        return command;
    }

    private static List<GcBackend>? ParseBackends(string list)
    {
        var result = new List<GcBackend>();
        foreach (var name in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            GcBackend? b = name.ToLowerInvariant() switch
            {
                "move" => GcBackend.Move,
                "copy" => GcBackend.Copy,
                "continue" => GcBackend.Continue,
                "stw" or "stoptheworld" => GcBackend.StopTheWorld,
                _ => null,
            };
            if (b is null)
            {
                return null;
            }

            result.Add(b.Value);
        }

        return result.Count == 0 ? null : result;
    }

    private static List<StressPhase>? ParsePhases(string list)
    {
        var result = new List<StressPhase>();
        foreach (var name in list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            StressPhase? k = name.ToLowerInvariant() switch
            {
                "mixed" => StressPhase.Mixed,
                "fork" => StressPhase.Fork,
                "storm" => StressPhase.DotnetGcStorm,
                "exhaustion" => StressPhase.Exhaustion,
                "dispose" => StressPhase.DisposeRace,
                _ => null,
            };
            if (k is null)
            {
                return null;
            }

            result.Add(k.Value);
        }

        return result.Count == 0 ? null : result;
    }

    private static int Run(StressSettings settings, string? json)
    {
        Console.WriteLine($"{settings.Command}: {settings.Threads} mutator threads, backends {string.Join(",", settings.Backends)}, phases {string.Join(",", settings.Phases)} of {settings.PhaseSeconds} s, seed {settings.Seed}");
        var runner = new StressRunner(settings);
        var report = runner.Run(hung =>
        {
            Console.Error.WriteLine(hung.Read(r => r.Hang));
            Write(hung, json);
            Console.Out.Flush();
            Console.Error.Flush();
            Environment.Exit(3); // the hung threads would never let the process end otherwise
        });
        Write(report, json);
        report.Update(r =>
        {
            Console.WriteLine(
                $"stress: {r.DurationSeconds:F0} s, {r.Phases} phases, {r.Cycles} collections ({string.Join(", ", r.CyclesByBackend.Select(kv => $"{kv.Key} {kv.Value}"))}), " +
                $"{r.VerifiedCycles} verified, {r.ModelChecks} model checks ({r.ModelObjectsCompared} objects; {r.WeakReferencesChecked} weak references and ids checked live, {r.WeakClearsChecked} checked cleared), {r.EbusyFallbacks} EBUSY fallbacks in {r.CyclesWithEbusy} collections, " +
                $"{r.StopTheWorldFallbacks} stop-the-world fallbacks, {r.AbandonedCollections} abandoned, {r.Exhaustions} exhaustions / {r.Recoveries} recoveries, {r.DotnetGcs} .NET GCs, " +
                $"{r.BadInputs.Values.Sum()} bad inputs");
            Console.WriteLine($"exceptions by type: {string.Join(", ", r.ExceptionsByType.Select(kv => $"{kv.Key} {kv.Value}"))}");
            Console.WriteLine($"max time to safepoint ms: {string.Join(", ", r.MaxTimeToSafepointMs.Select(kv => $"{kv.Key} {kv.Value:F1}"))}; max pause ms: {string.Join(", ", r.MaxPauseMs.Select(kv => $"{kv.Key} {kv.Value:F1}"))}");
            foreach (var m in r.Mismatches)
            {
                Console.WriteLine("MISMATCH: " + m);
            }

            foreach (var u in r.UndocumentedExceptions)
            {
                Console.WriteLine("UNDOCUMENTED: " + u);
            }

            Console.WriteLine(r.Passed ? "PASSED" : "FAILED");
        });
        return report.Read(r => r.Passed) ? 0 : 1;
    }

    private static void Write(StressReport report, string? path)
    {
        if (path is null)
        {
            return;
        }

        string text = report.Read(r => JsonSerializer.Serialize(r, Json.Options));
        string? dir = Path.GetDirectoryName(Path.GetFullPath(path));
        if (!string.IsNullOrEmpty(dir))
        {
            Directory.CreateDirectory(dir);
        }

        File.WriteAllText(path, text + "\n");
    }
}
