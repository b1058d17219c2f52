using System.Runtime.CompilerServices;
using GcHeap.Collection;
using GcHeap.Interop;
using GcHeap.ObjectModel;

namespace GcHeap.Marking;

/// <summary>
/// The live-words bitmap of the space being collected: one bit per 8-byte granule, set for
/// every granule of a live small object (only the first for a large object). Besides telling
/// what is live, it gives forwarding for free: an object's offset within its compacted run is
/// the popcount of the live bits before it. Also holds the live bytes of each page.
/// Written by the marker thread alone, read by the planner and the native page builder.
/// </summary>
internal sealed unsafe class MarkBitmap : IDisposable
{
    private readonly NativeRegion _bits;
    private readonly NativeRegion _liveBytes;

    public MarkBitmap(int capacityPages)
    {
        _bits = new NativeRegion((ulong)capacityPages * ObjectLayout.BitmapWordsPerPage * 8, dontFork: true, noHugePages: false, "the mark bitmap");
        try
        {
            _liveBytes = new NativeRegion((ulong)capacityPages * 4, dontFork: true, noHugePages: false, "per-page live bytes");
        }
        catch
        {
            _bits.Dispose();
            throw;
        }

        Words = (ulong*)_bits.Pointer;
        LiveBytes = (uint*)_liveBytes.Pointer;
    }

    public ulong* Words { get; }

    public uint* LiveBytes { get; }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool IsSet(ulong granule) => (Words[granule >> 6] & (1UL << (int)(granule & 63))) != 0;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Set(ulong granule) => Words[granule >> 6] |= 1UL << (int)(granule & 63);

    /// <summary>Sets bits [granule, granule + count).</summary>
    public void SetRange(ulong granule, ulong count)
    {
        ulong end = granule + count;
        while (granule < end)
        {
            int bit = (int)(granule & 63);
            ulong n = Math.Min(64UL - (ulong)bit, end - granule);
            ulong mask = n == 64 ? ulong.MaxValue : ((1UL << (int)n) - 1) << bit;
            Words[granule >> 6] |= mask;
            granule += n;
        }
    }

    /// <summary>Offset within page <paramref name="page"/> of its first live granule, or -1.</summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    public int FirstLiveOffset(int page)
    {
        ulong* w = Words + ((long)page * ObjectLayout.BitmapWordsPerPage);
        for (int i = 0; i < ObjectLayout.BitmapWordsPerPage; i++)
        {
            if (w[i] != 0)
            {
                return ((i * 64) + System.Numerics.BitOperations.TrailingZeroCount(w[i])) * ObjectLayout.Granule;
            }
        }

        return -1;
    }

    /// <summary>
    /// Makes the bitmap and counters of pages [0, pages) resident before a cycle starts, so the
    /// mark-start pause never takes a page fault on them. Bounded by the heap in use.
    /// </summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    public void Prefault(int pages)
    {
        ulong bits = ((ulong)pages * ObjectLayout.BitmapWordsPerPage * 8 + 4095) & ~4095UL;
        ulong counters = ((ulong)pages * 4 + 4095) & ~4095UL;
        _ = Interop.NativeMethods.MemPopulate(_bits.Address, Math.Min(bits, _bits.Length));
        _ = Interop.NativeMethods.MemPopulate(_liveBytes.Address, Math.Min(counters, _liveBytes.Length));
    }

    /// <summary>
    /// Clears the bits and counters of pages [0, pages), at the end of a cycle (outside pauses).
    /// The memory is zeroed, not given back: discarded pages would fault back in one by one
    /// when the next mark-start pause greys the roots (measured: ~5 us per root).
    /// </summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    public void Clear(int pages)
    {
        if (pages <= 0)
        {
            return;
        }

        new Span<ulong>(Words, pages * ObjectLayout.BitmapWordsPerPage).Clear();
        new Span<uint>(LiveBytes, pages).Clear();
    }

    public void Dispose()
    {
        _bits.Dispose();
        _liveBytes.Dispose();
    }
}
