namespace GcHeap.Interop;

/// <summary>
/// A private anonymous mapping reserved with MAP_NORESERVE: address space only until touched.
/// Spaces, handle tables, bitmaps and plan tables all live in such regions.
/// </summary>
internal sealed unsafe class NativeRegion : IRegion
{
    private ulong _address;

    /// <param name="length">Bytes to reserve (rounded up to whole pages; to whole 2 MiB with <paramref name="transparentHugePages"/>).</param>
    /// <param name="dontFork">MADV_DONTFORK: a child process does not inherit the range.</param>
    /// <param name="noHugePages">MADV_NOHUGEPAGE: 4 KiB pages only.</param>
    /// <param name="purpose">What the range is for (in the exception when the reservation fails).</param>
    /// <param name="transparentHugePages">2 MiB aligned and MADV_HUGEPAGE (overrides <paramref name="noHugePages"/>).</param>
    public NativeRegion(ulong length, bool dontFork, bool noHugePages, string purpose, bool transparentHugePages = false)
    {
        ArgumentOutOfRangeException.ThrowIfZero(length);
        ulong unit = transparentHugePages ? (ulong)NativeConstants.PmdPages << 12 : 4096UL;
        Length = (length + unit - 1) & ~(unit - 1);
        var flags = (dontFork ? NativeConstants.MemDontFork : 0)
            | (transparentHugePages ? NativeConstants.MemHugePage : noHugePages ? NativeConstants.MemNoHugePage : 0);
        int rc = NativeMethods.MemReserve(Length, flags, out _address);
        if (rc != 0)
        {
            throw new OutOfMemoryException($"GcHeap could not reserve {Length} bytes of address space for {purpose}: {Errno.Describe(rc)}.");
        }
    }

    public ulong Address => _address;

    public ulong Length { get; }

    public byte* Pointer => (byte*)_address;

    /// <summary>Gives the physical pages of [offset, offset+length) back to the kernel (they read as zero again).</summary>
    public void Discard(ulong offset, ulong length)
    {
        if (length == 0)
        {
            return;
        }

        Errno.ThrowIfFailed(NativeMethods.MemDiscard(_address + offset, length), "madvise(MADV_DONTNEED)");
    }

    public void Dispose()
    {
        ulong a = Interlocked.Exchange(ref _address, 0);
        if (a != 0)
        {
            _ = NativeMethods.MemRelease(a, Length);
        }
    }
}
