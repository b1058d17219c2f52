using System.CommandLine;
using GcHeap.Experiments.Workloads.BinaryTrees;
using GcHeap.Experiments.Workloads.Fragment;
using GcHeap.Experiments.Workloads.GcBench;
using GcHeap.Experiments.Workloads.GcPerfSim;

namespace GcHeap.Experiments.Cli;

/// <summary>Every command of the runner.</summary>
internal static class Commands
{
    public static IEnumerable<Command> All()
    {
        yield return CompareCommands.Demo();
        yield return CompareCommands.Compare();
        yield return CapsCommand.Create();
        yield return MonitorCommand.Create();
        yield return DiagnosticsCommands.TraceSummary();
        yield return DiagnosticsCommands.CountersSummary();
        yield return PlotCommand.Create();
        yield return StressCommand.Create();
        yield return SnapshotCommand.Create();
        yield return WorkloadCommand.Create("binary-trees", "The Benchmarks Game binary-trees program (same output)", c =>
        {
            var depth = new Option<int>("--depth", "-n") { Description = "Maximum tree depth n (also: binary-trees N, as the Benchmarks Game runs it)", DefaultValueFactory = _ => 10 };
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

        yield return WorkloadCommand.Create("fragment", "Build a live graph, drop part of it, collect repeatedly while mutators read, write, move references and allocate", c =>
        {
            var drop = DropOption();
            var collections = new Option<int>("--collections") { Description = "Collect at least this many times (even after --seconds)", DefaultValueFactory = _ => 1 };
            RunOptions.Positive(collections, 0);
            c.Options.Add(drop);
            c.Options.Add(collections);
            return p => new FragmentWorkload(p.GetValue(drop), p.GetValue(collections));
        });

        yield return WorkloadCommand.Create("bulk", "Fill and shift one big array (--live-mb) again and again while another thread collects every --collect-every-ms: how long a bulk call holds a pause up", c =>
        {
            var every = new Option<int>("--collect-every-ms") { Description = "Interval between collections", DefaultValueFactory = _ => 50 };
            var chunk = new Option<int>("--chunk-kb") { Description = "Bulk operations' chunk in KiB (0: the library's default)", DefaultValueFactory = _ => 0 };
            RunOptions.Positive(every, 1);
            RunOptions.Positive(chunk, 0);
            c.Options.Add(every);
            c.Options.Add(chunk);
            return p => new Workloads.Bulk.BulkWorkload(p.GetValue(every), p.GetValue(chunk));
        });

        yield return WorkloadCommand.Create("gcperfsim", "GCPerfSim-style allocation: every Nth item survives in a bounded set with random replacement", c =>
        {
            var interval = new Option<int>("--survive-interval") { Description = "Every Nth allocation survives", DefaultValueFactory = _ => 30 };
            var min = new Option<int>("--min-size") { Description = "Smallest payload in bytes", DefaultValueFactory = _ => 100 };
            var max = new Option<int>("--max-size") { Description = "Largest payload in bytes", DefaultValueFactory = _ => 4000 };
            var allocate = new Option<double?>("--allocate-gb") { Description = "Stop after allocating this many GiB in total (GCPerfSim's -tagb) instead of after --seconds" };
            allocate.Validators.Add(r =>
            {
                if (r.GetValueOrDefault<double?>() is <= 0)
                {
                    r.AddError("--allocate-gb must be positive");
                }
            });
            RunOptions.Positive(interval, 1);
            RunOptions.Positive(min, 1);
            RunOptions.Positive(max, 1);
            c.Options.Add(interval);
            c.Options.Add(min);
            c.Options.Add(max);
            c.Options.Add(allocate);
            c.Validators.Add(r =>
            {
                if (r.GetValue(min) > r.GetValue(max))
                {
                    r.AddError("--min-size must not exceed --max-size");
                }
            });
            return p => new GcPerfSimWorkload(new GcPerfSimParameters(p.GetValue(interval), p.GetValue(min), p.GetValue(max), p.GetValue(allocate)));
        });
    }

    internal static Option<double> DropOption()
    {
        var drop = new Option<double>("--drop") { Description = "Fraction of the graph's entries emptied after building it", DefaultValueFactory = _ => 0.5 };
        drop.Validators.Add(r =>
        {
            double v = r.GetValueOrDefault<double>();
            if (v is < 0 or >= 1)
            {
                r.AddError("--drop must be in [0, 1)");
            }
        });
        return drop;
    }
}
