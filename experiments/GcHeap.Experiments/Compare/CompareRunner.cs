using GcHeap.Experiments.Results;
using GcHeap.Experiments.Terminal;

namespace GcHeap.Experiments.Compare;

/// <summary>Runs every (size, backend) case in this process, one after another, and analyses them.</summary>
internal static class CompareRunner
{
    private const int WarmUpMb = 8;

    public static CompareReport Run(CompareSettings s, string command)
    {
        var report = new CompareReport
        {
            Command = command,
            Machine = MachineInfo.Collect(),
            Capabilities = UffdCapabilities.Probe().ToString(),
            Parameters =
            {
                ["sizes_mb"] = s.SizesMb,
                ["backends"] = s.Backends.Select(Workloads.RunSettings.Name).ToList(),
                ["threads"] = s.Threads,
                ["collections"] = s.Collections,
                ["drop"] = s.Drop,
                ["seed"] = s.Seed,
                ["heap_factor"] = s.HeapFactor,
                ["verify_each_collection"] = s.Verify,
                ["heap_options"] = s.HeapOverrides.Select(o => $"{o.Name}={o.Value}").ToList(),
            },
        };
        RunProgress.Run(s.Quiet, progress =>
        {
            // One small unreported case per backend first, so that the first measured case does
            // not pay the process's JIT and first-touch costs that later ones do not.
            foreach (var backend in s.Backends.Where(b => b != Workloads.RunBackend.Dotnet))
            {
                progress.Phase($"warm-up on {Workloads.RunSettings.Name(backend)}", 1);
                CaseRunner.Run(s with { Collections = 1, Quiet = true }, WarmUpMb, backend, progress);
            }

            foreach (int size in s.SizesMb)
            {
                foreach (var backend in s.Backends)
                {
                    var c = CaseRunner.Run(s, size, backend, progress);
                    report.Cases.Add(c);
                    if (c.Error is not null)
                    {
                        Term.Info($"{size} MiB on {c.Backend} failed: {c.Error}");
                    }
                }
            }

            return 0;
        });
        report.MemcpyGbS = MemcpyProbe.MeasureGbS();
        foreach (var c in report.Cases)
        {
            c.ThroughputOfMemcpy = c.CollectorThroughputGbS / report.MemcpyGbS;
        }

        report.Ratios = CompareAnalysis.Ratios(report.Cases);
        report.Targets = CompareAnalysis.Targets(report.Cases, report.Ratios);
        report.Notes.Add("Each case: a new heap (limit max(256 MiB, heap_factor x live), background collections off), the fragment graph built to live/(1-drop) and thinned by drop, then `collections` Heap.Collect() calls while `threads` mutator threads run; only those collections are reported.");
        report.Notes.Add("flip_pause_ms_max: largest CollectionStats.FlipPauseMs (the Flip pause of Move/Copy, the Full pause of StopTheWorld). max_pause_ms: largest pause of any kind.");
        report.Notes.Add("collector_throughput_gb_s = sum(BytesMoved) / sum(CompactMs), 10^9 bytes per second; compact_ms is the compactor's wall time, collector_cpu_ms its CPU time.");
        report.Notes.Add("memcpy_gb_s: best of 7 copies of 64 MiB between populated native buffers, measured after the cases in the same process; throughput_of_memcpy = collector_throughput_gb_s / memcpy_gb_s.");
        report.Notes.Add(UffdTotals.PagesMovedNote);
        report.Notes.Add(UffdTotals.StallNote);
        report.Notes.Add($"Before the measured cases, one unreported {WarmUpMb} MiB case per GcHeap backend warms the process up (JIT, first-touch).");
        report.Notes.Add("rss_peak_bytes is VmHWM after resetting it (/proc/self/clear_refs) at the start of the case; null when the reset failed.");
        return report;
    }
}
