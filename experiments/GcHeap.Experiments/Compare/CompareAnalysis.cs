using System.Globalization;

namespace GcHeap.Experiments.Compare;

/// <summary>Ratios between backends and the targets, from measured cases only.</summary>
internal static class CompareAnalysis
{
    public static List<CompareRatios> Ratios(IReadOnlyList<CompareCase> cases) =>
        [.. cases.Select(c => c.LiveMb).Distinct().Select(size =>
        {
            var move = Ok(cases, size, "move");
            var copy = Ok(cases, size, "copy");
            var stw = Ok(cases, size, "stw");
            var cont = Ok(cases, size, "continue");
            return new CompareRatios
            {
                LiveMb = size,
                MoveOverCopyCollectorTime = Divide(move?.CompactMsTotal, copy?.CompactMsTotal),
                MoveOverCopyCollectorCpu = Divide(move?.CollectorCpuMsTotal, copy?.CollectorCpuMsTotal),
                MoveOverStwPause = Divide(move?.FlipPauseMsMax, stw?.FlipPauseMsMax),
                MoveOverStwMaxPause = Divide(move?.MaxPauseMs, stw?.MaxPauseMs),
                ContinueOverMoveCollectorTime = Divide(cont?.CompactMsTotal, move?.CompactMsTotal),
                ContinueOverMoveCollectorCpu = Divide(cont?.CollectorCpuMsTotal, move?.CollectorCpuMsTotal),
                ContinueOverMovePss = Divide(Added(cont?.PssAfterBytes, cont?.PssBeforeBytes), Added(move?.PssAfterBytes, move?.PssBeforeBytes)),
            };
        })];

    public static List<TargetCheck> Targets(IReadOnlyList<CompareCase> cases, IReadOnlyList<CompareRatios> ratios)
    {
        var checks = new List<TargetCheck>();
        var biggest = cases.Where(c => c.Backend == "move").OrderByDescending(c => c.LiveMb).FirstOrDefault();
        if (biggest is not null)
        {
            string where = biggest.LiveMb >= 1024 ? "at 1 GiB live" : $"at {biggest.LiveMb} MiB live (1 GiB was not run)";
            checks.Add(new TargetCheck(
                "Move flip pause < 1 ms at 1 GiB live",
                biggest.FlipPauseMsMax is double f ? string.Create(CultureInfo.InvariantCulture, $"largest flip pause {f:F3} ms {where}") : $"no measurement {where}: {biggest.Error}",
                biggest.LiveMb >= 1024 && biggest.FlipPauseMsMax is double f2 ? f2 < 1 : null));
        }

        foreach (var m in cases.Where(c => c.Backend == "move" && c.Error is null && c.Collections > 0))
        {
            checks.Add(new TargetCheck(
                $"Move installs >= 85% of its pages zero-copy ({m.LiveMb} MiB)",
                m.ZeroCopyShare is double z ? string.Create(CultureInfo.InvariantCulture, $"{z:P1} of pages installed by UFFDIO_MOVE") : "not measured",
                m.ZeroCopyShare is double z2 ? z2 >= 0.85 : null));
            checks.Add(new TargetCheck(
                $"Move fault stall p99 <= 100 us and p50 <= 20 us ({m.LiveMb} MiB)",
                m.FaultStallUsP99 is double p99 ? string.Create(CultureInfo.InvariantCulture, $"p50 {m.FaultStallUsP50:F1} us, p99 {p99:F1} us over {m.FaultsServed} faults") : "no faults",
                m.FaultStallUsP99 is double q99 && m.FaultStallUsP50 is double q50 ? q99 <= 100 && q50 <= 20 : null));
            if (m.LiveMb >= 1024)
            {
                checks.Add(new TargetCheck(
                    "Move collector throughput >= 13% of memcpy at 1 GiB live",
                    m.ThroughputOfMemcpy is double f ? string.Create(CultureInfo.InvariantCulture, $"{m.CollectorThroughputGbS:F2} GB/s = {f:P1} of memcpy") : "not measured",
                    m.ThroughputOfMemcpy is double f2 ? f2 >= 0.13 : null));
            }
        }

        foreach (var r in ratios)
        {
            checks.Add(new TargetCheck(
                $"Move collector time <= 0.6 x Copy's ({r.LiveMb} MiB)",
                r.MoveOverCopyCollectorTime is double x ? string.Create(CultureInfo.InvariantCulture, $"Move/Copy compaction time {x:F2} (CPU {r.MoveOverCopyCollectorCpu:F2})") : "not measured (a side is missing or failed)",
                r.MoveOverCopyCollectorTime is double y ? y <= 0.6 : null));
        }

        return checks;
    }

    private static CompareCase? Ok(IReadOnlyList<CompareCase> cases, int size, string backend) =>
        cases.FirstOrDefault(c => c.LiveMb == size && c.Backend == backend && c.Error is null && c.Collections > 0);

    private static double? Added(long? after, long? before) => after is long a && before is long b ? a - b : null;

    private static double? Divide(double? a, double? b) => a is double x && b is double y && y > 0 ? x / y : null;
}
