using GcHeap.Experiments.Reporting;
using GcHeap.Experiments.Terminal;
using Spectre.Console;

namespace GcHeap.Experiments.Compare;

/// <summary>The demo's table: one column per backend, one row per figure.</summary>
internal static class DemoTable
{
    public static void Print(CompareReport report)
    {
        var console = Term.Out;
        console.Write(new Rule("[bold]GcHeap: concurrent compaction with userfaultfd[/]").LeftJustified());
        console.WriteLine(report.Capabilities ?? "");
        console.WriteLine();
        var cases = report.Cases;
        var t = new Table().Border(TableBorder.Rounded).Title(Markup.Escape($"fragmented heap of {cases.FirstOrDefault()?.LiveMb} MiB live, {report.Parameters["collections"]} collections each, {report.Parameters["threads"]} mutator thread(s) running"));
        t.AddColumn("");
        foreach (var c in cases)
        {
            t.AddColumn(new TableColumn(Markup.Escape(c.GcheapBackend ?? c.Backend)).RightAligned());
        }

        void Row(string name, Func<CompareCase, string> value) =>
            t.AddRow([Markup.Escape(name), .. cases.Select(c => Markup.Escape(c.Error is null ? value(c) : "failed"))]);

        Row("flip pause, max (STW: full pause)", c => Format.Ms(c.FlipPauseMsMax) + " ms");
        Row("longest pause of any kind", c => Format.Ms(c.MaxPauseMs) + " ms");
        Row("pauses (all kinds)", c => c.PausesMs.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Row("compaction time, mean", c => Format.Ms(c.CompactMsMean) + " ms");
        Row("collector CPU, mean", c => Format.Ms(c.CollectorCpuMsMean) + " ms");
        Row("collector throughput (share of memcpy)", c => Format.Inv($"{Format.Fixed(c.CollectorThroughputGbS, 2)} GB/s ({Format.Percent(c.ThroughputOfMemcpy)})"));
        Row("faults served (mutators touching uninstalled pages)", c => Format.Num(c.FaultsServed));
        Row("fault stall p50 / p99", c => Format.Inv($"{Format.Us(c.FaultStallUsP50)} / {Format.Us(c.FaultStallUsP99)} us"));
        Row("zero-copy share (installs that copied nothing: MOVE, CONTINUE)", c => Format.Percent(c.ZeroCopyShare));
        Row("pages moved (UFFDIO_MOVE of the page frame)", c => Format.Num(c.PagesMoved));
        Row("  of which whole pages, not a byte copied", c => Format.Num(c.PagesZeroCopy));
        Row("pages continued (UFFDIO_CONTINUE, built in place)", c => Format.Num(c.PagesContinued));
        Row("  whole pages copied into the collector view", c => Format.Num(c.PagesWholeCopied));
        Row("pages copied (UFFDIO_COPY)", c => Format.Num(c.PagesCopied));
        Row("pages compacted (objects packed)", c => Format.Num(c.PagesCompacted));
        Row("EBUSY fallbacks / ioctls", c => Format.Inv($"{Format.Num(c.EbusyFallbacks)} / {Format.Num(c.Ioctls)}"));
        Row("heap before > after (1st collection)", c => Format.Inv($"{Format.MiB(c.HeapBytesBefore)} > {Format.MiB(c.HeapBytesAfter)} MiB"));
        Row("live at end (verifier)", c => Format.MiB(c.LiveBytes) + " MiB");
        Row("RSS peak / after", c => Format.Inv($"{Format.MiB(c.RssPeakBytes)} / {Format.MiB(c.RssAfterBytes)} MiB"));
        Row("after: RssAnon / RssShmem / PSS", c => Format.Inv($"{Format.MiB(c.RssAnonAfterBytes)} / {Format.MiB(c.RssShmemAfterBytes)} / {Format.MiB(c.PssAfterBytes)} MiB"));
        Row("mutator operations / s", c => c.MutatorSeconds > 0 ? Format.Num((long)(c.MutatorOperations / c.MutatorSeconds)) : "-");
        Row("heap verified after the run", c => c.Verified is bool v ? (v ? "yes" : "NO") : "-");
        console.Write(t);
        if (report.MemcpyGbS is double mc)
        {
            console.WriteLine(Format.Inv($"memcpy on this machine, same run: {mc:F2} GB/s"));
        }

        foreach (var c in cases)
        {
            console.MarkupLine($"[grey]{Markup.Escape(c.Backend)}:[/] {Markup.Escape(c.Error ?? c.BackendReason ?? "")}");
        }

        foreach (var r in report.Ratios)
        {
            console.MarkupLine(Markup.Escape(Format.Inv($"Move/Copy compaction time {Format.Ratio(r.MoveOverCopyCollectorTime)}, Move flip pause / STW pause {Format.Ratio(r.MoveOverStwPause)}, Continue/Move compaction time {Format.Ratio(r.ContinueOverMoveCollectorTime)}")));
        }
    }
}
