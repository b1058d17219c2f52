using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using ScottPlot;

namespace GcHeap.Experiments.Cli;

/// <summary>
/// plot: PNG charts from result JSON with ScottPlot (SkiaSharp's native library comes in its NuGet
/// package: no system package, no root). The charts experiments/plot.sh drew with gnuplot:
/// pauses.png, stalls.png, occupancy.png.
/// </summary>
internal static class PlotCommand
{
    private const int Width = 1100;
    private const int Height = 650;

    /// <summary>ScottPlot's own choice of a sans font on Linux can be a serif one; prefer DejaVu Sans.</summary>
    private static readonly string Font = SkiaSharp.SKFontManager.Default.GetFontFamilies().Contains("DejaVu Sans") ? "DejaVu Sans" : Fonts.Sans;

    public static Command Create()
    {
        var command = new Command("plot", "Draw pauses.png, stalls.png and occupancy.png from workload results (--json) and compare/demo reports");
        var output = new Argument<DirectoryInfo>("out-dir") { Description = "Folder for the PNG files (created if missing)" };
        var inputs = new Argument<FileInfo[]>("results") { Description = "Result JSON files", Arity = ArgumentArity.OneOrMore };
        command.Arguments.Add(output);
        command.Arguments.Add(inputs);
        command.SetAction(p => Run(p.GetValue(output)!, p.GetValue(inputs)!));
        return command;
    }

    /// <summary>
    /// One workload result, or one case of a compare/demo report. Up to ten runs get a colour each;
    /// more are told apart by colour per backend, and by marker and shade per <paramref name="Size"/>
    /// (the rest of the label).
    /// </summary>
    internal sealed record PlotRun(string Label, double[] PausesMs, IReadOnlyList<JsonElement> Collections, string Backend, string Size)
    {
        public Color Color { get; set; }

        public MarkerShape Marker { get; set; } = MarkerShape.FilledCircle;
    }

    private static readonly MarkerShape[] SizeMarkers = [MarkerShape.FilledCircle, MarkerShape.FilledSquare, MarkerShape.FilledTriangleUp, MarkerShape.FilledDiamond];

    private static int Run(DirectoryInfo output, FileInfo[] inputs)
    {
        var runs = new List<PlotRun>();
        foreach (var f in inputs)
        {
            if (!f.Exists)
            {
                Console.Error.WriteLine($"no file {f.FullName}");
                return 2;
            }

            using var doc = JsonDocument.Parse(File.ReadAllText(f.FullName));
            runs.AddRange(Read(doc.RootElement.Clone()));
        }

        if (runs.Count == 0)
        {
            Console.Error.WriteLine("no run with figures in the inputs");
            return 1;
        }

        AssignStyles(runs);
        output.Create();
        string[] written =
        [
            Pauses(runs, Path.Combine(output.FullName, "pauses.png")),
            Stalls(runs, Path.Combine(output.FullName, "stalls.png")),
            Occupancy(runs, Path.Combine(output.FullName, "occupancy.png")),
        ];
        Console.WriteLine($"wrote {string.Join(" ", written)}");
        return 0;
    }

    internal static IEnumerable<PlotRun> Read(JsonElement root)
    {
        if (root.TryGetProperty("cases", out var cases))
        {
            foreach (var c in cases.EnumerateArray())
            {
                if (c.TryGetProperty("error", out var error) && error.ValueKind != JsonValueKind.Null)
                {
                    continue;
                }

                string size = $"{c.GetProperty("live_mb").GetInt32()} MiB", backend = BackendName(c);
                yield return new PlotRun($"{size} {backend}", Numbers(c, "pauses_ms"), Records(c, "collection_records"), backend, size);
            }
        }
        else
        {
            // A workload run is told apart from the others by its size and threads.
            string size = $"{root.GetProperty("workload").GetString()}";
            if (Get(root, "live_bytes_requested") is > 0 and var live)
            {
                size += $" {live / 1048576:0} MiB";
            }

            if (Get(root, "threads") is > 1 and var threads)
            {
                size += $" {threads:0} threads";
            }

            string backend = BackendName(root);
            yield return new PlotRun($"{size} {backend}", Numbers(root, "pauses_ms"), Records(root, "collections"), backend, size);
        }
    }

    private static void AssignStyles(List<PlotRun> runs)
    {
        var palette = new ScottPlot.Palettes.Category10();
        var backends = runs.Select(r => r.Backend).Distinct().ToList();
        var sizes = runs.Select(r => r.Size).Distinct().ToList();
        if (runs.Count <= 10)
        {
            // Few enough for a colour each (the same run keeps its colour in every chart).
            for (int i = 0; i < runs.Count; i++)
            {
                runs[i].Color = palette.GetColor(i);
            }

            return;
        }

        foreach (var r in runs)
        {
            int size = sizes.IndexOf(r.Size);
            double lighten = sizes.Count > 1 ? 0.5 * (sizes.Count - 1 - size) / (sizes.Count - 1) : 0;
            r.Color = palette.GetColor(backends.IndexOf(r.Backend)).Lighten(lighten);
            r.Marker = SizeMarkers[size % SizeMarkers.Length];
        }
    }

    private static string BackendName(JsonElement e) =>
        e.TryGetProperty("gcheap_backend", out var b) && b.ValueKind == JsonValueKind.String ? b.GetString()! : e.GetProperty("backend").GetString() ?? "?";

    private static double[] Numbers(JsonElement e, string name) =>
        e.TryGetProperty(name, out var a) && a.ValueKind == JsonValueKind.Array ? [.. a.EnumerateArray().Where(x => x.ValueKind == JsonValueKind.Number).Select(x => x.GetDouble())] : [];

    private static List<JsonElement> Records(JsonElement e, string name) =>
        e.TryGetProperty(name, out var a) && a.ValueKind == JsonValueKind.Array ? [.. a.EnumerateArray()] : [];

    private static double Get(JsonElement e, string name) =>
        e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.Number ? v.GetDouble() : double.NaN;

    /// <summary>Every pause of a run, sorted, against its percentile, on a log scale.</summary>
    private static string Pauses(List<PlotRun> runs, string path)
    {
        var plot = NewPlot("Pause distribution per run", "percentile of the run's pauses", "pause (ms)");
        double min = double.MaxValue, max = double.MinValue;
        for (int i = 0; i < runs.Count; i++)
        {
            double[] sorted = [.. runs[i].PausesMs.Where(p => p > 0).Order()];
            if (sorted.Length == 0)
            {
                continue;
            }

            double[] pct = [.. Enumerable.Range(1, sorted.Length).Select(k => 100.0 * k / sorted.Length)];
            var s = plot.Add.Scatter(pct, [.. sorted.Select(Math.Log10)]);
            Style(s, runs[i], runs[i].Label, LinePattern.Solid, runs[i].Marker, sorted.Length > 200 ? 2 : 4);
            min = Math.Min(min, sorted[0]);
            max = Math.Max(max, sorted[^1]);
        }

        plot.Axes.SetLimitsX(0, 100);
        LogAxis(plot, min, max);
        return Save(plot, path);
    }

    /// <summary>Fault stall p50 (points), p99 (line) and max (dashed) of every collection that sampled one.</summary>
    private static string Stalls(List<PlotRun> runs, string path)
    {
        var plot = NewPlot("Mutator fault stalls per collection (fault read to page installed)", "collection", "stall (µs)");
        CollectionAxis(plot);
        double min = double.MaxValue, max = double.MinValue;
        for (int i = 0; i < runs.Count; i++)
        {
            var sampled = runs[i].Collections.Where(c => Get(c, "fault_stall_samples") > 0).ToList();
            if (sampled.Count == 0)
            {
                continue;
            }

            double[] cycle = [.. sampled.Select(c => Get(c, "cycle"))];
            foreach (var (field, name, pattern, marker) in new[]
            {
                ("fault_stall_us_p50", "p50", LinePattern.Solid, MarkerShape.FilledCircle),
                ("fault_stall_us_p99", "p99", LinePattern.Solid, MarkerShape.FilledSquare),
                ("fault_stall_us_max", "max", LinePattern.Dashed, MarkerShape.None),
            })
            {
                double[] us = [.. sampled.Select(c => Math.Max(Get(c, field), 0.01))];
                var s = plot.Add.Scatter(cycle, [.. us.Select(Math.Log10)]);
                Style(s, runs[i], $"{runs[i].Label} {name}", pattern, marker, 5);
                if (name == "p50")
                {
                    s.LineWidth = 0; // points only
                }

                min = Math.Min(min, us.Min());
                max = Math.Max(max, us.Max());
            }
        }

        if (min > max)
        {
            plot.Add.Annotation("no fault stall was sampled in these runs", Alignment.MiddleCenter);
            plot.Axes.SetLimits(0, 1, 0, 1);
        }
        else
        {
            LogAxis(plot, min, max);
        }

        return Save(plot, path);
    }

    /// <summary>Heap pages in use before (dashed) and after (solid) each compaction, and live bytes (dotted).</summary>
    private static string Occupancy(List<PlotRun> runs, string path)
    {
        var plot = NewPlot("Heap occupancy before and after each collection", "collection", "MiB");
        CollectionAxis(plot);
        bool any = false;
        for (int i = 0; i < runs.Count; i++)
        {
            var c = runs[i].Collections;
            if (c.Count == 0)
            {
                continue;
            }

            any = true;
            double[] cycle = [.. c.Select(r => Get(r, "cycle"))];
            foreach (var (field, name, pattern, marker) in new[]
            {
                ("heap_bytes_before", "before", LinePattern.Dashed, MarkerShape.OpenCircle),
                ("heap_bytes_after", "after", LinePattern.Solid, runs[i].Marker),
                ("live_bytes", "live", LinePattern.Dotted, MarkerShape.None),
            })
            {
                var s = plot.Add.Scatter(cycle, [.. c.Select(r => Get(r, field) / 1048576.0)]);
                Style(s, runs[i], $"{runs[i].Label} {name}", pattern, marker, 5);
            }
        }

        if (!any)
        {
            plot.Add.Annotation("no collection in these runs", Alignment.MiddleCenter);
        }
        else
        {
            plot.Axes.AutoScale();
            plot.Axes.SetLimitsY(0, plot.Axes.GetLimits().Top);
        }

        return Save(plot, path);
    }

    private static Plot NewPlot(string title, string x, string y)
    {
        var plot = new Plot();
        plot.Font.Set(Font);
        plot.Title(title);
        plot.XLabel(x);
        plot.YLabel(y);
        plot.ShowLegend(Edge.Right);
        plot.Legend.FontSize = 11;
        plot.Legend.SymbolWidth = 24;
        return plot;
    }

    private static void CollectionAxis(Plot plot) =>
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericAutomatic { IntegerTicksOnly = true };

    private static void Style(ScottPlot.Plottables.Scatter s, PlotRun run, string label, LinePattern pattern, MarkerShape marker, float markerSize)
    {
        s.LegendText = label;
        s.Color = run.Color;
        s.LinePattern = pattern;
        s.LineWidth = 1.5f;
        s.MarkerShape = marker;
        s.MarkerSize = markerSize;
    }

    /// <summary>The left axis shows 10^y: ticks at the powers of ten, minor ticks between, grid lines on both.</summary>
    private static void LogAxis(Plot plot, double min, double max)
    {
        var ticks = new ScottPlot.TickGenerators.NumericAutomatic
        {
            MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
            IntegerTicksOnly = true,
            LabelFormatter = y => Math.Pow(10, y).ToString(y >= 0 ? "0" : "0.###", CultureInfo.InvariantCulture),
        };
        plot.Axes.Left.TickGenerator = ticks;
        plot.Grid.MajorLineColor = Colors.Black.WithOpacity(0.15);
        plot.Grid.MinorLineColor = Colors.Black.WithOpacity(0.05);
        plot.Grid.MinorLineWidth = 1;
        // A little beyond the decades, so that the tick generator keeps the labels at both ends.
        plot.Axes.SetLimitsY(Math.Floor(Math.Log10(min)) - 0.03, Math.Ceiling(Math.Log10(max)) + 0.03);
    }

    private static string Save(Plot plot, string path)
    {
        plot.SavePng(path, Width, Height);
        return path;
    }
}
