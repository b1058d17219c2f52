using GcHeap.Tests.Support;

namespace GcHeap.Tests;

/// <summary>
/// Creating a heap in an unusual environment (sandboxed, no transparent huge pages, short of
/// address space) works or fails cleanly (issue 10, item 7). The environment is made real for
/// one thread with a seccomp filter (<see cref="SyscallFailures"/>).
/// </summary>
[Collection(SerialTests.Name)]
public class ConstructionTests
{
    private const int MarkerErrno = 131; // ENOTRECOVERABLE: nothing in the heap returns it by itself

    [Fact]
    public void StopTheWorldHeapMakesNoUserfaultfdCall()
    {
        // Every way of opening a userfaultfd fails with the marker errno on the creating thread
        // (a sandbox could as well kill the process). A heap that tried would report it.
        Heap? heap = null;
        SyscallFailures.RunOnFilteredThread(
            [new(SyscallFailures.SysUserfaultfd, MarkerErrno), new(SyscallFailures.SysIoctl, MarkerErrno, 1, SyscallFailures.UserfaultfdIocNew)],
            () =>
            {
                heap = TestHeaps.Create(GcBackend.StopTheWorld, maxBytes: 1 << 20);
                CollectOnce(heap);
            });

        using (heap)
        {
            Assert.Equal(GcBackend.StopTheWorld, heap!.Backend);
            Assert.Equal(UffdOpenMethod.None, heap.UffdOpenMethod);
            string report = heap.Capabilities.ToString(); // probed now, on this thread, on request
            Assert.DoesNotContain(Interop.Errno.Name(MarkerErrno), report, StringComparison.Ordinal);
        }
    }

    [Theory]
    [InlineData(Interop.Errno.ENOSYS, "a seccomp filter answered ENOSYS (Seccomp: 2 in /proc/thread-self/status")]
    [InlineData(Interop.Errno.EPERM, "(Seccomp: 2 in /proc/thread-self/status")]
    public void ASeccompFilterIsNamedAsTheCauseWhenItRefusesUserfaultfd(int errno, string expected)
    {
        // A sandbox's filter, for real: userfaultfd(2) and the /dev/userfaultfd ioctl fail on this thread.
        UffdCapabilities? caps = null;
        SyscallFailures.RunOnFilteredThread(
            [new(SyscallFailures.SysUserfaultfd, errno), new(SyscallFailures.SysIoctl, errno, 1, SyscallFailures.UserfaultfdIocNew)],
            () => caps = UffdCapabilities.Probe());

        Assert.False(caps!.Available);
        Assert.Contains(expected, caps.UffdUnavailableReason, StringComparison.Ordinal);
        Assert.DoesNotContain("CONFIG_USERFAULTFD", caps.UffdUnavailableReason, StringComparison.Ordinal); // the kernel has it
        if (errno == Interop.Errno.EPERM && File.ReadAllText("/proc/sys/vm/unprivileged_userfaultfd").Trim() == "1")
        {
            Assert.Contains("a seccomp filter refused it", caps.UffdUnavailableReason, StringComparison.Ordinal);
        }
    }

    [Theory]
    [MemberData(nameof(TestHeaps.AllBackends), MemberType = typeof(TestHeaps))]
    public void HeapWorksWhereMadviseNoHugePageFails(GcBackend backend)
    {
        // A kernel without transparent huge pages answers MADV_NOHUGEPAGE with EINVAL.
        SyscallFailures.RunOnFilteredThread(
            [new(SyscallFailures.SysMadvise, Interop.Errno.EINVAL, 2, SyscallFailures.MadvNoHugePage)],
            () =>
            {
                using var heap = TestHeaps.Create(backend, maxBytes: 4 << 20, configure: o => o.RequireBackend = false);
                CollectOnce(heap);
            });
    }

    [Theory]
    [InlineData(64)] // the mark bitmap's bits, the collector's first mapping: everything else exists
    [InlineData(4)]  // its per-page live bytes, the second one
    public void ConstructorThatFailsReleasesWhatItCreated(int bytesPerPage)
    {
        // A heap of 32 GiB + 3 pages: its mappings have sizes nothing else in the process has.
        const long Pages = (1L << 23) + 3;
        // Each space (and so the collector's tables) spans the limit plus the nursery's pages.
        const long SpacePages = Pages + ((32L << 20) >> 12);
        ulong failing = (((ulong)SpacePages * (ulong)bytesPerPage) + 4095) & ~4095UL;
        long sizeBefore = VirtualSize();
        int uffdsBefore = CountUserfaultfds();
        Exception? error = null;
        SyscallFailures.RunOnFilteredThread(
            [new(SyscallFailures.SysMmap, Interop.Errno.ENOMEM, 1, failing)],
            () => error = Record.Exception(() => new Heap(new HeapOptions { MaxHeapBytes = Pages * 4096, Backend = GcBackend.Move })));

        Assert.IsType<OutOfMemoryException>(error);
        long grown = VirtualSize() - sizeBefore;
        Assert.True(grown < 256L << 20, $"the failed constructor left {grown >> 20} MiB of address space mapped");
        Assert.True(CountUserfaultfds() <= uffdsBefore, "the failed constructor left its userfaultfd open");

        using var heap = TestHeaps.Create(GcBackend.StopTheWorld, maxBytes: 1 << 20); // the process goes on
        CollectOnce(heap);
    }

    private static void CollectOnce(Heap heap)
    {
        var type = heap.Types.DefineObject("T", t => t.Reference("next").Value<long>("v"));
        using var m = heap.AttachCurrentThread();
        using var root = m.CreateRoot(m.Allocate(type));
        m.Set(root.Ref, type.Field<long>("v"), 42);
        Assert.True(heap.Collect().Verified);
        Assert.Equal(42, m.Get(root.Ref, type.Field<long>("v")));
    }

    internal static long VirtualSize()
    {
        foreach (var line in File.ReadLines("/proc/self/status"))
        {
            if (line.StartsWith("VmSize:", StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(7).Trim().TrimEnd("kB").Trim(), System.Globalization.CultureInfo.InvariantCulture) * 1024;
            }
        }

        throw new InvalidOperationException("no VmSize in /proc/self/status");
    }

    private static int CountUserfaultfds()
    {
        int n = 0;
        foreach (var fd in Directory.EnumerateFileSystemEntries("/proc/self/fd"))
        {
            try
            {
                if (new FileInfo(fd).LinkTarget == "anon_inode:[userfaultfd]")
                {
                    n++;
                }
            }
            catch (IOException)
            {
                // closed meanwhile
            }
        }

        return n;
    }
}
