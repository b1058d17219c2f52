namespace GcHeap.Interop;

/// <summary>
/// A memfd (shared memory) of a given size mapped twice MAP_SHARED: the mutator view, which the
/// heap hands out and registers with the userfaultfd, and the collector view, never registered,
/// where the Continue backend builds pages in place. The file is sized with ftruncate and is all
/// holes until written: it commits nothing up front.
/// </summary>
internal sealed class SharedRegion : IRegion
{
    private ulong _mutator;
    private ulong _collector;
    private int _fd;

    public SharedRegion(ulong length, bool dontFork, string purpose)
    {
        ArgumentOutOfRangeException.ThrowIfZero(length);
        Length = (length + 4095) & ~4095UL;
        int flags = (dontFork ? NativeConstants.MemDontFork : 0) | NativeConstants.MemNoHugePage;
        int rc = NativeMethods.MemReserveShared(Length, flags, out _fd, out _mutator, out _collector);
        if (rc != 0)
        {
            throw new OutOfMemoryException($"GcHeap could not create a {Length}-byte memfd mapped twice for {purpose}: {Errno.Describe(rc)}.");
        }
    }

    /// <summary>The mutator view.</summary>
    public ulong Address => _mutator;

    /// <summary>The collector view: the same pages at other addresses.</summary>
    public ulong CollectorAddress => _collector;

    public ulong Length { get; }

    /// <summary>
    /// Punches [offset, offset+length) out of the memfd (MADV_REMOVE): the pages leave the page
    /// cache and both views read holes (zeros) again. MADV_DONTNEED would only drop one view's
    /// page-table entries and keep the memory.
    /// </summary>
    public void Discard(ulong offset, ulong length)
    {
        if (length == 0)
        {
            return;
        }

        Errno.ThrowIfFailed(NativeMethods.MemRemove(_mutator + offset, length), "madvise(MADV_REMOVE)");
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
