using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using CommunityToolkit.HighPerformance.Buffers;
using GcHeap.Collection;
using GcHeap.Interop;

namespace GcHeap.Compaction;

/// <summary>
/// Drives the native concurrent compactor: a native collector thread that serves missing
/// faults on to-space first and otherwise builds and installs pages in order (UFFDIO_MOVE,
/// UFFDIO_COPY, or UFFDIO_CONTINUE), plus a native thread reading the uffd. No managed code runs on either.
/// </summary>
internal sealed unsafe class UffdCompactor : IDisposable
{
    private readonly CompactorSafeHandle _handle;

    private UffdCompactor(CompactorSafeHandle handle) => _handle = handle;

    /// <summary>Starts the native threads, idle until <see cref="Begin"/> (keeps thread creation out of pauses).</summary>
    public static UffdCompactor Create(in NativeCompactorConfig config)
    {
        int rc = NativeMethods.CompactorCreate(config, out var handle);
        if (rc != 0)
        {
            handle.Dispose();
            throw new GcNativeException("starting the concurrent compactor threads", rc);
        }

        return new UffdCompactor(handle);
    }

    /// <summary>The world has resumed: wakes the sweepers, which stay off the CPU during the flip (the fault thread serves faults regardless).</summary>
    public void Resumed() => NativeMethods.CompactorResumed(_handle);

    /// <summary>Hands over the plan: the collector thread starts serving faults and building pages.</summary>
    public void Begin(NativePlan* plan) => Errno.ThrowIfFailed(NativeMethods.CompactorBegin(_handle, plan), "starting the concurrent compaction");

    /// <summary>Blocks (in native code, so the .NET GC is never held up) until every page is installed.</summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    public NativeCompactionStats WaitForCompletion(Func<int, nint, string> describe)
    {
        int rc = NativeMethods.CompactorWait(_handle, -1);
        _ = NativeMethods.CompactorStats(_handle, out var stats);
        if (rc != 0)
        {
            // Forwarding failures (7, 11) and installs that found their destination present (EEXIST
            // from MOVE, COPY or ZEROPAGE) say what the collector sees at that address.
            string detail = stats.ErrorOp is 7 or 11 || (Math.Abs(rc) == Errno.EEXIST && stats.ErrorOp is 1 or 2 or 3)
                ? " (" + describe(stats.ErrorOp, (nint)stats.ErrorAddr) + ")"
                : string.Empty;
            throw new GcCollectionFailedException(
                $"Concurrent compaction failed: {Errno.Describe(rc)} in {OpName(stats.ErrorOp)} at 0x{stats.ErrorAddr:x}{detail} " +
                $"after installing {stats.PagesInstalled} pages. The heap cannot be used any more.");
        }

        return stats;
    }

    /// <summary>Inside the flip pause, before roots are forwarded: fork() now waits until every page is installed.</summary>
    public void Arm() => NativeMethods.CompactorArm(_handle);

    /// <summary>Waits (natively) for a compaction that began, whatever its outcome; <see cref="WaitForCompletion"/> reports it.</summary>
    public void WaitQuietly() => _ = NativeMethods.CompactorWait(_handle, -1);

    /// <summary>After to-space is unregistered: reads the last events, stops the fault thread, and returns the final event counts.</summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    public UffdEventCounts Quiesce()
    {
        NativeMethods.CompactorQuiesce(_handle);
        _ = NativeMethods.CompactorStats(_handle, out var n);
        return new UffdEventCounts
        {
            Fork = (long)n.EventsFork,
            Remove = (long)n.EventsRemove,
            Unmap = (long)n.EventsUnmap,
            Remap = (long)n.EventsRemap,
            Harmless = (long)n.EventsHarmless,
            ForkChildren = (long)n.ForkChildren,
            ChildPagesPoisoned = (long)n.ChildPagesPoisoned,
            EagainEventWaits = (long)n.EagainEventWaits,
        };
    }

    /// <summary>Live counters (relaxed reads) while the compactor runs.</summary>
    public NativeCompactionStats Snapshot()
    {
        _ = NativeMethods.CompactorStats(_handle, out var stats);
        return stats;
    }

    /// <summary>Fault stall percentiles in microseconds (p50, p99, max), the sample count, and the sorted samples when asked for.</summary>
    public (double P50, double P99, double Max, int Count, long[] Samples) StallPercentiles(int capacity, bool keepSamples)
    {
        if (capacity <= 0)
        {
            return (0, 0, 0, 0, []);
        }

        using var buffer = MemoryOwner<ulong>.Allocate(capacity);
        fixed (ulong* p = buffer.Span)
        {
            if (NativeMethods.CompactorStallSamples(_handle, p, (uint)capacity, out uint total) != 0 || total == 0)
            {
                return (0, 0, 0, 0, []);
            }

            var samples = buffer.Span[..(int)Math.Min(total, (uint)capacity)];
            samples.Sort();
            long[] kept = keepSamples ? MemoryMarshal.Cast<ulong, long>(samples).ToArray() : [];
            return (Percentile(samples, 0.50) / 1000.0, Percentile(samples, 0.99) / 1000.0, samples[^1] / 1000.0, samples.Length, kept);
        }
    }

    public void Dispose() => _handle.Dispose();

    internal static string OpName(int op) => op switch
    {
        1 => "UFFDIO_MOVE",
        2 => "UFFDIO_COPY",
        3 => "UFFDIO_ZEROPAGE",
        4 => "UFFDIO_WAKE",
        5 => "madvise",
        6 => "read(uffd)",
        7 => "forwarding (a reference to something that is not a live object)",
        8 => "object header decoding",
        9 => "thread creation",
        10 => "allocation",
        11 => "packing (a live object's forwarding disagrees with the compacted stream)",
        12 => "UFFDIO_CONTINUE",
        13 => "UFFD_EVENT_REMOVE (other code discarded planned to-space with madvise)",
        14 => "UFFD_EVENT_UNMAP (other code unmapped registered to-space)",
        15 => "UFFD_EVENT_REMAP (other code moved registered to-space with mremap)",
        16 => "UFFDIO_POISON of a forked child's missing to-space pages",
        _ => "an unknown step",
    };

    [MethodImpl(CollectorCode.OptimizeOnce)]
    private static double Percentile(Span<ulong> sorted, double q)
    {
        int i = (int)Math.Ceiling(q * sorted.Length) - 1;
        return sorted[Math.Clamp(i, 0, sorted.Length - 1)];
    }
}
