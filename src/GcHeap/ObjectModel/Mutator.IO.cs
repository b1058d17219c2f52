using Microsoft.Win32.SafeHandles;
using GcHeap.ObjectModel;

namespace GcHeap;

// Zero-copy file I/O on byte arrays: the kernel reads or writes heap memory directly.
// During concurrent compaction that memory may be a to-space page not installed yet. With a
// full-mode userfaultfd (the default where permitted) the kernel's own access waits for the
// collector to install the page, like a user-mode access. With a user-mode-only userfaultfd the
// kernel would fail with EFAULT instead, so these methods first touch each page from user mode
// (which is served normally); once installed, a page stays present for the rest of the cycle.
public sealed unsafe partial class Mutator
{
    /// <summary>
    /// Writes bytes [start, start + count) of a byte array to <paramref name="file"/> at
    /// <paramref name="fileOffset"/> straight from heap memory (pwrite, no intermediate copy).
    /// The thread does not stop for collections during the system call, so use it for files, not
    /// for pipes or sockets that may block indefinitely.
    /// </summary>
    /// <exception cref="GcInvalidHandleException"><paramref name="byteArray"/> is null, released, foreign or another thread's local handle.</exception>
    /// <exception cref="GcFieldAccessException"><paramref name="byteArray"/> is not a byte array.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the array.</exception>
    /// <exception cref="IOException">The write failed.</exception>
    public void WriteToFile(SafeFileHandle file, long fileOffset, GcRef byteArray, int start, int count)
    {
        ArgumentNullException.ThrowIfNull(file);
        RandomAccess.Write(file, new ReadOnlySpan<byte>(KernelBuffer(byteArray, start, count), count), fileOffset);
    }

    /// <summary>
    /// Reads up to <paramref name="count"/> bytes of <paramref name="file"/> at <paramref name="fileOffset"/>
    /// straight into bytes [start, start + count) of a byte array (pread). Returns the bytes read.
    /// </summary>
    /// <exception cref="GcInvalidHandleException"><paramref name="byteArray"/> is null, released, foreign or another thread's local handle.</exception>
    /// <exception cref="GcFieldAccessException"><paramref name="byteArray"/> is not a byte array.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the array.</exception>
    /// <exception cref="IOException">The read failed.</exception>
    public int ReadFromFile(SafeFileHandle file, long fileOffset, GcRef byteArray, int start, int count)
    {
        ArgumentNullException.ThrowIfNull(file);
        return RandomAccess.Read(file, new Span<byte>(KernelBuffer(byteArray, start, count), count), fileOffset);
    }

    /// <summary>Bytes [start, start + count) of a byte array, checked and ready for the kernel to access.</summary>
    private byte* KernelBuffer(GcRef byteArray, int start, int count)
    {
        Enter();
        nint a = ResolveObject(byteArray);
        CheckDataArray<byte>(a, start, count);
        byte* p = (byte*)(a + ObjectLayout.HeaderSize + start);
        TouchForKernel(p, count);
        return p;
    }

    private void TouchForKernel(byte* p, int count)
    {
        if (_heap.UffdOpenMethod != UffdOpenMethod.UserModeOnly || count == 0)
        {
            return;
        }

        nint first = (nint)p & ~(nint)(ObjectLayout.PageSize - 1);
        for (nint page = first; page < (nint)(p + count); page += ObjectLayout.PageSize)
        {
            _ = Volatile.Read(ref *(byte*)page);
        }
    }
}
