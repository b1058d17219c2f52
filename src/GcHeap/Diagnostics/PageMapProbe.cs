using System.Text;
using Microsoft.Win32.SafeHandles;

namespace GcHeap.Diagnostics;

/// <summary>
/// Reads the kernel's view of pages from /proc/self/pagemap (and /proc/kpageflags where readable):
/// whether a page is present, exclusively owned, the shared zero page, or part of a transparent
/// huge page. Used to explain an install that found its destination already present (EEXIST),
/// which only a broken invariant can cause.
/// </summary>
internal static class PageMapProbe
{
    private const int PageShift = 12;
    private const ulong Present = 1UL << 63;
    private const ulong Exclusive = 1UL << 56;
    private const ulong PfnMask = (1UL << 55) - 1;
    private const int KpfThp = 22;
    private const int KpfZeroPage = 24;

    /// <summary>One page: present or not, and what the kernel says it is.</summary>
    internal readonly record struct PageInfo(bool Present, bool Exclusive, bool ZeroPage, bool Thp, ulong Pfn);

    /// <summary>Pagemap entries of <paramref name="pages"/> pages from <paramref name="address"/>; null when pagemap cannot be read.</summary>
    public static PageInfo[]? Read(nint address, int pages)
    {
        try
        {
            var entries = new ulong[pages];
            using (var pm = File.OpenHandle("/proc/self/pagemap", FileMode.Open, FileAccess.Read))
            {
                ReadExactly(pm, System.Runtime.InteropServices.MemoryMarshal.AsBytes(entries.AsSpan()), ((long)address >> PageShift) * 8);
            }

            SafeFileHandle? kpf = null;
            try
            {
                kpf = File.OpenHandle("/proc/kpageflags", FileMode.Open, FileAccess.Read);
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // Not root: present and exclusive only.
            }

            using (kpf)
            {
                var result = new PageInfo[pages];
                Span<byte> flags = stackalloc byte[8];
                for (int i = 0; i < pages; i++)
                {
                    ulong e = entries[i];
                    ulong pfn = e & PfnMask;
                    bool thp = false, zero = false;
                    if ((e & Present) != 0 && kpf is not null && pfn != 0 && ReadExactly(kpf, flags, (long)pfn * 8))
                    {
                        ulong f = BitConverter.ToUInt64(flags);
                        thp = (f >> KpfThp & 1) != 0;
                        zero = (f >> KpfZeroPage & 1) != 0;
                    }

                    result[i] = new PageInfo((e & Present) != 0, (e & Exclusive) != 0, zero, thp, pfn);
                }

                return result;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>
    /// Describes the present pages among <paramref name="pages"/> pages from <paramref name="address"/>
    /// that <paramref name="expectedPresent"/> says should not be there, as runs ("pages 5-511 zero
    /// page, THP"), at most a few runs.
    /// </summary>
    public static string DescribeUnexpected(nint address, int pages, Func<int, bool> expectedPresent)
    {
        var info = Read(address, pages);
        if (info is null)
        {
            return "pagemap not readable";
        }

        var sb = new StringBuilder();
        int runs = 0, total = 0;
        for (int i = 0; i < pages;)
        {
            if (!info[i].Present || expectedPresent(i))
            {
                i++;
                continue;
            }

            int start = i;
            var kind = Kind(info[i]);
            while (i < pages && info[i].Present && !expectedPresent(i) && Kind(info[i]) == kind)
            {
                i++;
            }

            total += i - start;
            if (runs++ < 6)
            {
                sb.Append(sb.Length == 0 ? string.Empty : "; ").Append($"pages {start}-{i - 1} {kind}");
            }
        }

        return total == 0 ? "no unexpected present page" : $"{total} unexpected present pages: {sb}{(runs > 6 ? $"; ... ({runs} runs)" : string.Empty)}";
    }

    private static string Kind(PageInfo p) =>
        (p.ZeroPage ? "zero page" : p.Exclusive ? "anonymous exclusive" : "anonymous shared") + (p.Thp ? ", THP" : string.Empty);

    private static bool ReadExactly(SafeFileHandle h, Span<byte> buffer, long offset)
    {
        int done = 0;
        while (done < buffer.Length)
        {
            int n = RandomAccess.Read(h, buffer[done..], offset + done);
            if (n <= 0)
            {
                return false;
            }

            done += n;
        }

        return true;
    }
}
