using GcHeap.Experiments.Results;
using GcHeap.Experiments.Terminal;
using Spectre.Console;

namespace GcHeap.Experiments.Reporting;

/// <summary>A short table of a run's result on standard error.</summary>
internal static class RunSummary
{
    public static void Print(RunResult r, string? jsonPath)
    {
        var t = new Table().Border(TableBorder.Rounded).Title(Markup.Escape($"{r.Workload} on {r.Backend} ({r.Threads} thread(s))"));
        t.AddColumn("figure");
        t.AddColumn(new TableColumn("value").RightAligned());
        void Row(string k, string v) => t.AddRow(Markup.Escape(k), Markup.Escape(v));

        Row("backend used", r.GcheapBackend ?? ".NET GC");
        Row("elapsed", Format.Ms(r.ElapsedMs) + " ms");
        Row("collections", r.GcCount.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Row("pauses (count / total)", Format.Inv($"{r.PausesMs.Count} / {Format.Ms(r.TotalPauseMs)} ms"));
        Row("pause p50 / p99 / max", Format.Inv($"{Format.Ms(r.P50PauseMs)} / {Format.Ms(r.P99PauseMs)} / {Format.Ms(r.MaxPauseMs)} ms"));
        if (r.MaxTimeToSafepointMs is not null)
        {
            Row("longest time to safepoint / longest inside a pause", Format.Inv($"{Format.Ms(r.MaxTimeToSafepointMs)} / {Format.Ms(r.MaxPauseInsideMs)} ms"));
        }
        if (r.Handshakes is > 0)
        {
            Row("handshakes (count / longest a thread was held)", Format.Inv($"{r.Handshakes} / {Format.Ms(r.MaxHandshakeHeldMs)} ms"));
        }

        if (r.MaxFlipPauseMs is not null)
        {
            Row("max flip pause", Format.Ms(r.MaxFlipPauseMs) + " ms");
        }

        Row("live at end", Format.MiB(r.LiveBytes) + " MiB");
        Row("RSS peak / after", Format.Inv($"{Format.MiB(r.RssPeakBytes)} / {Format.MiB(r.RssAfterBytes)} MiB"));
        if (r.CollectorMs is not null)
        {
            Row("collector time (compact wall / cpu)", Format.Inv($"{Format.Ms(r.CollectorMs)} / {Format.Ms(r.CollectorCpuMs)} ms"));
        }

        if (r.FaultsServed is not null)
        {
            Row("faults served", Format.Num(r.FaultsServed));
            Row("fault stall p50 / p99 / max", Format.Inv($"{Format.Us(r.FaultStallUsP50)} / {Format.Us(r.FaultStallUsP99)} / {Format.Us(r.FaultStallUsMax)} us"));
            Row("zero-copy share (pages installed by MOVE)", Format.Percent(r.ZeroCopyShare));
            Row("pages moved / of them whole / copied", Format.Inv($"{Format.Num(r.PagesMoved)} / {Format.Num(r.PagesZeroCopy)} / {Format.Num(r.PagesCopied)}"));
            Row("EBUSY fallbacks / ioctls", Format.Inv($"{Format.Num(r.EbusyFallbacks)} / {Format.Num(r.Ioctls)}"));
        }

        if (r.Verified is not null)
        {
            Row("verified", r.Verified.Value ? "yes" : "NO: " + r.VerifierReport);
        }

        if (r.Dotnet is { } d)
        {
            Row("in-process total pause / GCs", Format.Inv($"{Format.Ms(d.InProcess?.TotalPauseMs)} ms / {d.InProcess?.GcCount}"));
            Row("EventPipe total pause / GCs", Format.Inv($"{Format.Ms(d.External?.TotalPauseMs)} ms / {d.External?.GcCount}"));
            Row("measurements agree", d.Agree is bool a ? (a ? "yes" : "no") + Format.Inv($" ({Format.Fixed(d.TotalDifferencePercent, 1)} %)") : "-");
        }

        foreach (var (k, v) in r.WorkloadMetrics.OrderBy(kv => kv.Key, StringComparer.Ordinal))
        {
            Row(k, Convert.ToString(v, System.Globalization.CultureInfo.InvariantCulture) ?? "-");
        }

        Term.Err.Write(t);
        if (jsonPath is not null)
        {
            Term.Info($"result written to {jsonPath}");
        }
    }
}
