using System.Runtime.InteropServices;

namespace GcHeap.Interop;

/// <summary>
/// A memfd (shared memory) of a given size mapped twice MAP_SHARED: the mutator view, which the
/// heap hands out and registers with the userfaultfd, and the collector view, never registered,
/// where the Continue backend builds pages in place. The file is sized with ftruncate and is all
/// holes until written: it commits nothing up front. With <c>hugePages</c> it is a hugetlbfs memfd
/// of 2 MiB pages, all reserved when mapped.
/// </summary>
internal sealed unsafe class SharedRegion : IRegion
{
    private const ulong HugePageBytes = 2UL << 20;
    private ulong _mutator;
    private ulong _collector;
    private int _fd;

    /// <exception cref="OutOfMemoryException">The memfd cannot be created or mapped (with huge pages: too few free in the pool to reserve).</exception>
    public SharedRegion(ulong length, bool dontFork, bool hugePages, string purpose)
    {
        ArgumentOutOfRangeException.ThrowIfZero(length);
        HugePages = hugePages;
        ulong align = hugePages ? HugePageBytes : 4096;
        Length = (length + align - 1) & ~(align - 1);
        int flags = (dontFork ? NativeConstants.MemDontFork : 0) | NativeConstants.MemNoHugePage | (hugePages ? NativeConstants.MemHugeTlb : 0);
        int rc = NativeMethods.MemReserveShared(Length, flags, out _fd, out _mutator, out _collector);
        if (rc != 0)
        {
            string what = hugePages ? $"a {Length}-byte hugetlbfs memfd of 2 MiB pages" : $"a {Length}-byte memfd";
            throw new OutOfMemoryException($"GcHeap could not create {what} mapped twice for {purpose}: {Errno.Describe(rc)}.");
        }
    }

    /// <summary>The mutator view.</summary>
    public ulong Address => _mutator;

    /// <summary>The collector view: the same pages at other addresses.</summary>
    public ulong CollectorAddress => _collector;

    public ulong Length { get; }

    /// <summary>True for a hugetlbfs memfd (2 MiB pages).</summary>
    public bool HugePages { get; }

    /// <summary>
    /// Punches [offset, offset+length) out of the memfd (MADV_REMOVE): the pages leave the page
    /// cache and both views read holes (zeros) again. MADV_DONTNEED would only drop one view's
    /// page-table entries and keep the memory. A hugetlbfs region is zeroed instead (through the
    /// collector view, whole 2 MiB pages) and both views drop their entries: punching would also
    /// give back the huge pages' reservation, and a later first touch could then die with SIGBUS
    /// if the pool ran dry.
    /// </summary>
    public void Discard(ulong offset, ulong length)
    {
        if (length == 0)
        {
            return;
        }

        if (!HugePages)
        {
            Errno.ThrowIfFailed(NativeMethods.MemRemove(_mutator + offset, length), "madvise(MADV_REMOVE)");
            return;
        }

        ulong first = offset & ~(HugePageBytes - 1);
        ulong end = Math.Min(Length, (offset + length + HugePageBytes - 1) & ~(HugePageBytes - 1));
        NativeMemory.Clear((void*)(_collector + first), (nuint)(end - first));
        Errno.ThrowIfFailed(NativeMethods.MemDiscard(_mutator + first, end - first), "madvise(MADV_DONTNEED) of the mutator view");
        Errno.ThrowIfFailed(NativeMethods.MemDiscard(_collector + first, end - first), "madvise(MADV_DONTNEED) of the collector view");
    }

    public void Dispose()
    {
        ulong m = Interlocked.Exchange(ref _mutator, 0);
        if (m != 0)
        {
            _ = NativeMethods.MemReleaseShared(_fd, m, _collector, Length);
            _collector = 0;
            _fd = -1;
        }
    }
}
