namespace GcHeap.Experiments.Results;

/// <summary>
/// Sums of the userfaultfd figures over a run's collections, and the fault stall percentiles of
/// all the run's stall samples (the heaps record every sample; see <see cref="StallNote"/>).
/// </summary>
internal sealed class UffdTotals
{
    public const string StallNote =
        "fault_stall_us_p50/p99/max are nearest-rank percentiles of every fault stall sample of the run's collections " +
        "(HeapOptions.RecordFaultStallSamples; a stall runs from the moment the native fault thread read the fault to the page installed). " +
        "If a collection had more stalls than HeapOptions.StallSampleCapacity, only the first ones were kept.";

    public const string PagesMovedNote =
        "pages_moved = pages installed by UFFDIO_MOVE of the page frame (whole pages, and packed pages moved out of a build buffer), summed over collections; " +
        "zero_copy_share = (pages_moved + pages_continued) / pages_installed, the installs that copied nothing; pages_zero_copy = the whole pages moved (not a byte copied at all). " +
        "Continue: pages_continued = pages installed by UFFDIO_CONTINUE, built in place in the to-space memfd's collector view (whole pages copied there once: pages_whole_copied).";

    public long PagesInstalled { get; private init; }

    public long PagesMoved { get; private init; }

    public long PagesZeroCopy { get; private init; }

    public long PagesContinued { get; private init; }

    public long PagesWholeCopied { get; private init; }

    /// <summary>(pages_moved + pages_continued) / pages_installed over the run (null when nothing was installed).</summary>
    public double? ZeroCopyShare => PagesInstalled == 0 ? null : (double)(PagesMoved + PagesContinued) / PagesInstalled;

    public long PagesCopied { get; private init; }

    public long PagesCompacted { get; private init; }

    public long PagesZeroFilled { get; private init; }

    public long EbusyFallbacks { get; private init; }

    public long Ioctls { get; private init; }

    public long FaultsServed { get; private init; }

    public long StallSamples { get; private init; }

    public double? StallP50Us { get; private init; }

    public double? StallP99Us { get; private init; }

    public double? StallMaxUs { get; private init; }

    public double CompactMs { get; private init; }

    public double CollectorCpuMs { get; private init; }

    public long BytesMoved { get; private init; }

    public static UffdTotals Of(IReadOnlyCollection<CollectionRecord> cs)
    {
        var withSamples = cs.Where(c => c.FaultStallSamples > 0).ToArray();
        return new UffdTotals
        {
            PagesInstalled = cs.Sum(c => c.PagesInstalled),
            PagesMoved = cs.Sum(c => c.PagesMoved),
            PagesZeroCopy = cs.Sum(c => c.PagesZeroCopy),
            PagesContinued = cs.Sum(c => c.PagesContinued),
            PagesWholeCopied = cs.Sum(c => c.PagesWholeCopied),
            PagesCopied = cs.Sum(c => c.PagesCopied),
            PagesCompacted = cs.Sum(c => c.PagesCompacted),
            PagesZeroFilled = cs.Sum(c => c.PagesZeroFilled),
            EbusyFallbacks = cs.Sum(c => c.EbusyFallbacks),
            Ioctls = cs.Sum(c => c.Ioctls),
            FaultsServed = cs.Sum(c => c.FaultsServed),
            StallSamples = withSamples.Sum(c => (long)c.FaultStallSamples),
            StallP50Us = Percentiles.Of(AllSamplesUs(withSamples), 0.50),
            StallP99Us = Percentiles.Of(AllSamplesUs(withSamples), 0.99),
            StallMaxUs = withSamples.Length == 0 ? null : withSamples.Max(c => c.FaultStallUsMax),
            CompactMs = cs.Sum(c => c.CompactMs),
            CollectorCpuMs = cs.Sum(c => c.CollectorCpuMs),
            BytesMoved = cs.Sum(c => c.BytesMoved),
        };
    }

    private static IEnumerable<double> AllSamplesUs(IEnumerable<CollectionRecord> cs) =>
        cs.SelectMany(c => c.FaultStallSamplesNs).Select(ns => ns / 1000.0);
}
