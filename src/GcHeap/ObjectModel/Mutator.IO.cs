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
    /// The thread does not stop for collections during a system call, so use it for files, not
    /// for pipes or sockets that may block indefinitely; a long transfer goes in 1 MiB system calls
    /// with a safepoint between two (the array may move there).
    /// </summary>
    /// <exception cref="GcInvalidHandleException"><paramref name="byteArray"/> is null, released, foreign or another thread's local handle.</exception>
    /// <exception cref="GcFieldAccessException"><paramref name="byteArray"/> is not a byte array.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the array.</exception>
    /// <exception cref="IOException">The write failed.</exception>
    /// <exception cref="UnauthorizedAccessException">The handle was not opened for writing (EBADF), or the file may not be written.</exception>
    public void WriteToFile(SafeFileHandle file, long fileOffset, GcRef byteArray, int start, int count)
    {
        ArgumentNullException.ThrowIfNull(file);
        byte* p = KernelBuffer(byteArray, start, count);
        for (int done = 0; done < count;)
        {
            if (done > 0 && PollBetweenChunks())
            {
                p = KernelBufferAgain(byteArray, start + done, count - done) - done;
            }

            int n = Math.Min(IoChunkBytes, count - done);
            TouchForKernel(p + done, n);
            RandomAccess.Write(file, new ReadOnlySpan<byte>(p + done, n), fileOffset + done);
            done += n;
        }
    }

    /// <summary>
    /// Reads up to <paramref name="count"/> bytes of <paramref name="file"/> at <paramref name="fileOffset"/>
    /// straight into bytes [start, start + count) of a byte array (pread). Returns the bytes read
    /// (fewer than asked only at the end of the file). A long transfer goes in 1 MiB system calls
    /// with a safepoint between two (the array may move there).
    /// </summary>
    /// <exception cref="GcInvalidHandleException"><paramref name="byteArray"/> is null, released, foreign or another thread's local handle.</exception>
    /// <exception cref="GcFieldAccessException"><paramref name="byteArray"/> is not a byte array.</exception>
    /// <exception cref="ArgumentOutOfRangeException">The range is outside the array.</exception>
    /// <exception cref="IOException">The read failed.</exception>
    /// <exception cref="UnauthorizedAccessException">The handle was not opened for reading, or the file may not be read.</exception>
    public int ReadFromFile(SafeFileHandle file, long fileOffset, GcRef byteArray, int start, int count)
    {
        ArgumentNullException.ThrowIfNull(file);
        byte* p = KernelBuffer(byteArray, start, count);
        int done = 0;
        while (done < count)
        {
            if (done > 0 && PollBetweenChunks())
            {
                p = KernelBufferAgain(byteArray, start + done, count - done) - done;
            }

            int n = Math.Min(IoChunkBytes, count - done);
            TouchForKernel(p + done, n);
            int got = RandomAccess.Read(file, new Span<byte>(p + done, n), fileOffset + done);
            done += got;
            if (got < n)
            {
                break; // end of file
            }
        }

        return done;
    }

    /// <summary>File I/O moves at most this many bytes per system call, with a safepoint between two.</summary>
    internal const int IoChunkBytes = 1 << 20;

    /// <summary>Bytes [start, start + count) of a byte array, checked (the kernel buffer of a transfer's first system call).</summary>
    private byte* KernelBuffer(GcRef byteArray, int start, int count)
    {
        Enter();
        return KernelBufferAgain(byteArray, start, count);
    }

    /// <summary>The array's bytes from <paramref name="start"/> again, after a safepoint that may have moved it.</summary>
    private byte* KernelBufferAgain(GcRef byteArray, int start, int count)
    {
        nint a = ResolveObject(byteArray);
        CheckDataArray<byte>(a, start, count);
        return (byte*)(a + ObjectLayout.HeaderSize + start);
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
