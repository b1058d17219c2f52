using GcHeap.Experiments.Results;

namespace GcHeap.Experiments.Harness;

/// <summary>Fills the pause and userfaultfd fields of a result from GcHeap collection records.</summary>
internal static class ResultFiller
{
    public static void FillFromCollections(RunResult r, IReadOnlyList<CollectionRecord> collections, GcBackend backend)
    {
        r.Collections = [.. collections];
        r.GcCount = collections.Count;
        var pauses = collections.SelectMany(c => c.Pauses).ToList();
        r.PausesMs = [.. pauses.Select(p => p.Ms)];
        r.PauseKinds = [.. pauses.Select(p => p.Kind)];
        r.PauseTimeToSafepointMs = [.. pauses.Select(p => p.TimeToSafepointMs ?? 0)];
        r.MaxTimeToSafepointMs = pauses.Count == 0 ? null : r.PauseTimeToSafepointMs.Max();
        r.MaxPauseInsideMs = pauses.Count == 0 ? null : pauses.Max(p => p.Ms - (p.TimeToSafepointMs ?? 0));
        r.StopperHandoffs = pauses.Count(p => p.StopperHandoff == true);
        r.FlipStopsGivenUp = collections.Sum(c => c.FlipStopsGivenUp);
        r.LongestGivenUpStopMs = collections.Count == 0 ? null : collections.Max(c => c.LongestGivenUpStopMs);
        var handshakes = collections.SelectMany(c => c.Handshakes).ToList();
        r.Handshakes = handshakes.Count;
        r.MaxHandshakeHeldMs = handshakes.Count == 0 ? null : handshakes.Max(h => h.MaxHeldMs);
        FillPauseSummary(r);
        r.MaxFlipPauseMs = collections.Count == 0 ? null : collections.Max(c => c.FlipPauseMs);
        r.CollectorMs = collections.Sum(c => c.CompactMs);
        r.CollectorCpuMs = collections.Sum(c => c.CollectorCpuMs);
        if (backend == GcBackend.StopTheWorld)
        {
            r.PagesCompacted = collections.Sum(c => c.PagesCompacted);
            r.Notes.Add("StopTheWorld uses no userfaultfd: pages_moved, pages_zero_copy, pages_copied, ebusy_fallbacks, ioctls, faults_served and fault stalls are null.");
            return;
        }

        var t = UffdTotals.Of(collections);
        r.PagesMoved = t.PagesMoved;
        r.PagesZeroCopy = t.PagesZeroCopy;
        r.ZeroCopyShare = t.ZeroCopyShare;
        r.PagesCopied = t.PagesCopied;
        r.PagesCompacted = t.PagesCompacted;
        r.EbusyFallbacks = t.EbusyFallbacks;
        r.Ioctls = t.Ioctls;
        r.FaultsServed = t.FaultsServed;
        r.FaultStallUsP50 = t.StallP50Us;
        r.FaultStallUsP99 = t.StallP99Us;
        r.FaultStallUsMax = t.StallMaxUs;
        r.Notes.Add(UffdTotals.StallNote);
        r.Notes.Add(UffdTotals.PagesMovedNote);
        if (t.StallSamples == 0)
        {
            r.Notes.Add("No fault stall was sampled in this run (no mutator touched a page before the compactor installed it), so the stall percentiles are null.");
        }
    }

    public static void FillPauseSummary(RunResult r)
    {
        r.TotalPauseMs = r.PausesMs.Sum();
        r.MaxPauseMs = r.PausesMs.Count == 0 ? null : r.PausesMs.Max();
        r.P50PauseMs = Percentiles.Of(r.PausesMs, 0.50);
        r.P99PauseMs = Percentiles.Of(r.PausesMs, 0.99);
    }
}
