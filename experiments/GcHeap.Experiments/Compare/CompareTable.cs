using GcHeap.Experiments.Reporting;
using Spectre.Console;

namespace GcHeap.Experiments.Compare;

/// <summary>The comparison as tables on standard output.</summary>
internal static class CompareTable
{
    public static void Print(CompareReport report)
    {
        var console = Terminal.Term.Out;
        var t = new Table().Border(TableBorder.Rounded).Title("Backends compared on the fragment heap (per live size)");
        foreach (string h in new[] { "live MiB", "backend", "flip/full pause max ms", "max pause ms", "compact ms (mean)", "collector CPU ms (mean)", "GB/s (of memcpy)", "stall p50/p99 us", "faults", "zero-copy share", "pages moved / copied / compacted", "ioctls", "heap MiB before>after", "RSS peak MiB", "verified" })
        {
            t.AddColumn(new TableColumn(Markup.Escape(h)).RightAligned());
        }

        foreach (var c in report.Cases)
        {
            if (c.Error is not null)
            {
                t.AddRow(c.LiveMb.ToString(System.Globalization.CultureInfo.InvariantCulture), c.Backend, "[red]failed[/]", Markup.Escape(Truncate(c.Error, 80)), "", "", "", "", "", "", "", "", "", "", "");
                continue;
            }

            t.AddRow(
                c.LiveMb.ToString(System.Globalization.CultureInfo.InvariantCulture),
                Markup.Escape(c.GcheapBackend ?? c.Backend),
                Format.Ms(c.FlipPauseMsMax),
                Format.Ms(c.MaxPauseMs),
                Format.Ms(c.CompactMsMean),
                Format.Ms(c.CollectorCpuMsMean),
                Format.Inv($"{Format.Fixed(c.CollectorThroughputGbS, 2)} ({Format.Percent(c.ThroughputOfMemcpy)})"),
                Format.Inv($"{Format.Us(c.FaultStallUsP50)}/{Format.Us(c.FaultStallUsP99)}"),
                Format.Num(c.FaultsServed),
                Format.Percent(c.ZeroCopyShare),
                Format.Inv($"{Format.Num(c.PagesMoved)} / {Format.Num(c.PagesCopied)} / {Format.Num(c.PagesCompacted)}"),
                Format.Num(c.Ioctls),
                Format.Inv($"{Format.MiB(c.HeapBytesBefore)}>{Format.MiB(c.HeapBytesAfter)}"),
                Format.MiB(c.RssPeakBytes),
                c.Verified is bool v ? (v ? "yes" : "[red]NO[/]") : "-");
        }

        console.Write(t);

        var mem = new Table().Border(TableBorder.Rounded).Title("Process memory after compaction (after the last collection of each case)");
        foreach (string h in new[] { "live MiB", "backend", "RSS MiB", "RssAnon MiB", "RssShmem MiB", "PSS MiB", "RSS / RssShmem / PSS added by the case MiB", "HugetlbPages MiB", "heap resident MiB", "pages continued / whole pages copied" })
        {
            mem.AddColumn(new TableColumn(Markup.Escape(h)).RightAligned());
        }

        foreach (var c in report.Cases.Where(c => c.Error is null))
        {
            mem.AddRow(
                c.LiveMb.ToString(System.Globalization.CultureInfo.InvariantCulture),
                Markup.Escape(c.GcheapBackend ?? c.Backend),
                Format.MiB(c.RssAfterBytes),
                Format.MiB(c.RssAnonAfterBytes),
                Format.MiB(c.RssShmemAfterBytes),
                Format.MiB(c.PssAfterBytes),
                Format.Inv($"{Format.MiB(Delta(c.RssAfterBytes, c.RssBeforeBytes))} / {Format.MiB(Delta(c.RssShmemAfterBytes, c.RssShmemBeforeBytes))} / {Format.MiB(Delta(c.PssAfterBytes, c.PssBeforeBytes))}"),
                Format.MiB(c.HugetlbAfterBytes),
                Format.MiB(c.HeapResidentBytes),
                Format.Inv($"{Format.Num(c.PagesContinued)} / {Format.Num(c.PagesWholeCopied)}"));
        }

        console.Write(mem);

        var r = new Table().Border(TableBorder.Rounded).Title("Ratios");
        r.AddColumn("live MiB");
        r.AddColumn(new TableColumn("Move/Copy compaction time").RightAligned());
        r.AddColumn(new TableColumn("Move/Copy collector CPU").RightAligned());
        r.AddColumn(new TableColumn("Move flip / STW pause").RightAligned());
        r.AddColumn(new TableColumn("Move/STW max pause").RightAligned());
        r.AddColumn(new TableColumn("Continue/Move compaction time").RightAligned());
        r.AddColumn(new TableColumn("Continue/Move collector CPU").RightAligned());
        r.AddColumn(new TableColumn("Continue/Move PSS added").RightAligned());
        foreach (var x in report.Ratios)
        {
            r.AddRow(x.LiveMb.ToString(System.Globalization.CultureInfo.InvariantCulture), Format.Ratio(x.MoveOverCopyCollectorTime), Format.Ratio(x.MoveOverCopyCollectorCpu), Format.Ratio(x.MoveOverStwPause), Format.Ratio(x.MoveOverStwMaxPause),
                Format.Ratio(x.ContinueOverMoveCollectorTime), Format.Ratio(x.ContinueOverMoveCollectorCpu), Format.Ratio(x.ContinueOverMovePss));
        }

        console.Write(r);
        if (report.MemcpyGbS is double mc)
        {
            console.WriteLine(Format.Inv($"memcpy on this machine, same run: {mc:F2} GB/s"));
        }

        foreach (var target in report.Targets)
        {
            string verdict = target.Met switch { true => "[green]met[/]", false => "[red]missed[/]", null => "[yellow]not decided[/]" };
            console.MarkupLine($"{verdict}  {Markup.Escape(target.Target)}: {Markup.Escape(target.Measured)}");
        }
    }

    private static long? Delta(long? after, long? before) => after is long a && before is long b ? a - b : null;

    private static string Truncate(string s, int n) => s.Length <= n ? s : s[..n] + "...";
}
