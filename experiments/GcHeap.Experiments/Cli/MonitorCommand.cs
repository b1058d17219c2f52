using System.CommandLine;
using System.Diagnostics;
using GcHeap.Experiments.Monitor;
using GcHeap.Experiments.Reporting;
using GcHeap.Experiments.Terminal;
using Spectre.Console;

namespace GcHeap.Experiments.Cli;

/// <summary>monitor: GcHeap's counters of a running process, live.</summary>
internal static class MonitorCommand
{
    public static Command Create()
    {
        var command = new Command("monitor", "Attach to a running process and show the \"GcHeap\" EventSource counters live");
        var pid = new Option<int>("--pid", "-p") { Description = "Process id of a .NET process that uses GcHeap", Required = true };
        var interval = new Option<double>("--interval") { Description = "Counter interval in seconds", DefaultValueFactory = _ => 1 };
        var duration = new Option<double?>("--duration") { Description = "Stop after this many seconds (default: until the target exits or Ctrl+C)" };
        var topTypes = new Option<int>("--top-types") { Description = "Show the N types with the most live bytes of each heap (0: no census)", DefaultValueFactory = _ => 10 };
        var censusInterval = new Option<double>("--census-interval") { Description = "Seconds between censuses; each stops the target's mutators for a marking (proportional to its live data)", DefaultValueFactory = _ => 10 };
        topTypes.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int>() is < 0 or > 1000)
            {
                r.AddError("--top-types must be between 0 and 1000");
            }
        });
        censusInterval.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double>() < 0.1)
            {
                r.AddError("--census-interval must be at least 0.1 seconds");
            }
        });
        interval.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<double>() <= 0)
            {
                r.AddError("--interval must be positive");
            }
        });
        command.Options.Add(pid);
        command.Options.Add(interval);
        command.Options.Add(duration);
        command.Options.Add(topTypes);
        command.Options.Add(censusInterval);
        command.SetAction(p => Run(p.GetValue(pid), p.GetValue(interval), p.GetValue(duration), p.GetValue(topTypes), p.GetValue(censusInterval)));
        return command;
    }

    private static int Run(int pid, double interval, double? duration, int topTypes, double censusInterval)
    {
        try
        {
            using var target = Process.GetProcessById(pid);
        }
        catch (ArgumentException)
        {
            Term.Info($"no process {pid}");
            return 2;
        }

        using var session = new CounterSession(pid, "GcHeap", interval, topTypes > 0 ? censusInterval : 0, topTypes);
        var snapshot = new CounterSnapshot();
        using var stopTimer = duration is double d ? new Timer(_ => session.Stop(), null, TimeSpan.FromSeconds(d), Timeout.InfiniteTimeSpan) : null;
        ConsoleCancelEventHandler onCancel = (_, e) =>
        {
            e.Cancel = true;
            session.Stop();
        };
        Console.CancelKeyPress += onCancel;
        try
        {
            if (Console.IsOutputRedirected)
            {
                RunPlain(session, pid);
            }
            else
            {
                RunLive(session, snapshot, pid);
            }
        }
        catch (Exception e) when (e is Microsoft.Diagnostics.NETCore.Client.ServerNotAvailableException or IOException or TimeoutException)
        {
            Term.Info($"could not read counters of process {pid}: {e.Message}");
            return 2;
        }
        finally
        {
            Console.CancelKeyPress -= onCancel;
        }

        return 0;
    }

    /// <summary>One line per counter reading: time, name, value, units.</summary>
    private static void RunPlain(CounterSession session, int pid)
    {
        Console.WriteLine($"# GcHeap counters of process {pid}: time name value units");
        session.Run(v =>
        {
            string units = v.IsRate ? v.Units + "/interval" : v.Units;
            Console.WriteLine(Format.Inv($"{v.Time:HH:mm:ss.fff} {v.Name} {v.Value:G6} {units}").TrimEnd());
        }, c => Console.WriteLine(Format.Inv($"{c.Time:HH:mm:ss.fff} census {c.Heap} #{c.Rank} {c.Type} {c.Count} objects {c.Bytes} bytes (pause {c.PauseMs:F3} ms)")));
    }

    private static void RunLive(CounterSession session, CounterSnapshot snapshot, int pid)
    {
        var table = Render(snapshot, pid);
        Term.Out.Live(table).Start(ctx =>
        {
            var reader = new Thread(() => session.Run(snapshot.Update, snapshot.Update)) { IsBackground = true, Name = "counter reader" };
            reader.Start();
            while (reader.IsAlive)
            {
                reader.Join(250);
                ctx.UpdateTarget(Render(snapshot, pid));
            }
        });
    }

    private static Rows Render(CounterSnapshot snapshot, int pid)
    {
        var census = snapshot.Census();
        if (census.Count == 0)
        {
            return new Rows(RenderCounters(snapshot, pid));
        }

        var types = new Table().Border(TableBorder.Rounded).Title("Top types by live bytes (last census)");
        types.AddColumn("heap");
        types.AddColumn(new TableColumn("#").RightAligned());
        types.AddColumn("type");
        types.AddColumn(new TableColumn("objects").RightAligned());
        types.AddColumn(new TableColumn("MiB").RightAligned());
        types.AddColumn(new TableColumn("census pause ms").RightAligned());
        foreach (var c in census)
        {
            types.AddRow(Markup.Escape(c.Heap), c.Rank.ToString(System.Globalization.CultureInfo.InvariantCulture), Markup.Escape(c.Type),
                Format.Fixed(c.Count, 0), Format.Fixed(c.Bytes / 1048576.0, 3), Format.Fixed(c.PauseMs, 3));
        }

        return new Rows(RenderCounters(snapshot, pid), types);
    }

    private static Table RenderCounters(CounterSnapshot snapshot, int pid)
    {
        var t = new Table().Border(TableBorder.Rounded).Title(Markup.Escape($"GcHeap counters of process {pid} ({snapshot.Updates} readings; Ctrl+C to stop)"));
        t.AddColumn("counter");
        t.AddColumn("description");
        t.AddColumn(new TableColumn("value").RightAligned());
        t.AddColumn("units");
        foreach (var v in snapshot.Values())
        {
            t.AddRow(Markup.Escape(v.Name), Markup.Escape(v.DisplayName), Format.Fixed(v.Value, v.Value == Math.Floor(v.Value) ? 0 : 3), Markup.Escape(v.IsRate ? v.Units + "/interval" : v.Units));
        }

        return t;
    }
}
