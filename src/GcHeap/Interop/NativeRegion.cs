namespace GcHeap.Interop;

/// <summary>
/// A private anonymous mapping reserved with MAP_NORESERVE: address space only until touched.
/// Spaces, handle tables, bitmaps and plan tables all live in such regions.
/// </summary>
internal sealed unsafe class NativeRegion : IRegion
{
    private ulong _address;

    public NativeRegion(ulong length, bool dontFork, bool noHugePages, string purpose)
    {
        ArgumentOutOfRangeException.ThrowIfZero(length);
        Length = (length + 4095) & ~4095UL;
        var flags = (dontFork ? NativeConstants.MemDontFork : 0) | (noHugePages ? NativeConstants.MemNoHugePage : 0);
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
