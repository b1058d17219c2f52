using GcHeap.Interop;

namespace GcHeap.Diagnostics;

/// <summary>
/// For experiments and tests: forks a child process that does nothing but wait, sharing every
/// private page of this process copy-on-write until disposed. While it lives (and until this
/// process writes a page again), the kernel answers EBUSY to UFFDIO_MOVE of those pages, which
/// forces GcHeap's COPY + MADV_DONTNEED fallback for real. Heaps created with
/// <see cref="HeapOptions.DontForkHeap"/> (the default) are not shared with the child.
/// </summary>
public sealed class ForkedPageHolder : IDisposable
{
    private readonly int _pid;
    private int _releaseFd;

    private ForkedPageHolder(int pid, int releaseFd)
    {
        _pid = pid;
        _releaseFd = releaseFd;
    }

    /// <summary>The child's process id.</summary>
    public int ChildPid => _pid;

    /// <summary>Forks the child.</summary>
    /// <exception cref="GcNativeException">fork failed.</exception>
    public static ForkedPageHolder Start()
    {
        NativeLibraryCheck.EnsureCompatible();
        Errno.ThrowIfFailed(NativeMethods.ForkHolderStart(out int pid, out int fd), "fork");
        return new ForkedPageHolder(pid, fd);
    }

    /// <summary>Lets the child exit and reaps it.</summary>
    public void Dispose()
    {
        int fd = Interlocked.Exchange(ref _releaseFd, -1);
        if (fd >= 0)
        {
            Errno.ThrowIfFailed(NativeMethods.ForkHolderStop(_pid, fd), "waitpid");
        }
    }
}
