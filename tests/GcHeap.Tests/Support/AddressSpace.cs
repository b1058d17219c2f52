using System.Runtime.InteropServices;

namespace GcHeap.Tests.Support;

/// <summary>What "other code" does to the heap's memory: plain libc calls on its address range.</summary>
internal static partial class AddressSpace
{
    public const int MadvDontneed = 4;
    private const int MremapMaymove = 1;
    private const int MremapFixed = 2;
    private const int ProtNone = 0;
    private const int ProtReadWrite = 3;
    private const int MapPrivateAnonymous = 0x22;

    public static int Madvise(nint addr, long len, int advice) => madvise(addr, (nuint)len, advice) == 0 ? 0 : Marshal.GetLastPInvokeError();

    public static int Munmap(nint addr, long len) => munmap(addr, (nuint)len) == 0 ? 0 : Marshal.GetLastPInvokeError();

    /// <summary>Moves [addr, addr + len) to a fresh mapping elsewhere and returns where it went.</summary>
    public static nint MoveElsewhere(nint addr, long len)
    {
        nint dst = mmap(0, (nuint)len, ProtNone, MapPrivateAnonymous, -1, 0);
        Assert.NotEqual(-1, dst);
        nint moved = mremap(addr, (nuint)len, (nuint)len, MremapMaymove | MremapFixed, dst);
        Assert.True(moved == dst, $"mremap failed: errno {Marshal.GetLastPInvokeError()}");
        return moved;
    }

    /// <summary>Makes a moved range readable (mremap keeps the source's protection; this is for the test's reads).</summary>
    public static void MakeReadable(nint addr, long len) => Assert.Equal(0, mprotect(addr, (nuint)len, ProtReadWrite));

    [LibraryImport("libc", SetLastError = true)]
    private static partial int madvise(nint addr, nuint len, int advice);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int munmap(nint addr, nuint len);

    [LibraryImport("libc", SetLastError = true)]
    private static partial int mprotect(nint addr, nuint len, int prot);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint mmap(nint addr, nuint len, int prot, int flags, int fd, long off);

    [LibraryImport("libc", SetLastError = true)]
    private static partial nint mremap(nint addr, nuint oldLen, nuint newLen, int flags, nint newAddr);
}
