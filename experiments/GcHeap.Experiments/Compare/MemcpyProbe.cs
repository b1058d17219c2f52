using System.Diagnostics;

namespace GcHeap.Experiments.Compare;

/// <summary>
/// This machine's memcpy bandwidth, measured in the same run as the cases it is compared with:
/// the best of several copies of 64 MiB between two populated buffers (Span.CopyTo is memmove).
/// </summary>
internal static class MemcpyProbe
{
    private const int Bytes = 64 << 20;

    /// <summary>Best observed bandwidth in GB/s (10^9 bytes per second).</summary>
    public static double MeasureGbS(int repeats = 7)
    {
        byte[] src = GC.AllocateUninitializedArray<byte>(Bytes, pinned: true);
        byte[] dst = GC.AllocateUninitializedArray<byte>(Bytes, pinned: true);
        src.AsSpan().Fill(0x5a);
        dst.AsSpan().Clear();
        double best = 0;
        for (int i = 0; i < repeats; i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            src.AsSpan().CopyTo(dst);
            double s = Stopwatch.GetElapsedTime(t0).TotalSeconds;
            best = Math.Max(best, Bytes / s / 1e9);
        }

        return best;
    }
}
