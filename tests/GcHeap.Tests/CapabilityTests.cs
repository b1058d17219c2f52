using GcHeap.Model;

namespace GcHeap.Tests;

/// <summary>What the kernel allows, and what happens when something is missing.</summary>
public class CapabilityTests
{
    private static bool IsRoot => Environment.UserName == "root";

    [Fact]
    public void ProbeReportsWhatThisKernelOffers()
    {
        var caps = UffdCapabilities.Probe();
        string report = caps.ToString();
        Assert.Contains("kernel", report);
        if (!caps.Available)
        {
            Assert.NotNull(caps.UffdUnavailableReason);
            Assert.Equal(GcBackend.StopTheWorld, caps.BestBackend);
            return;
        }

        Assert.True(caps.Copy && caps.Wake && caps.ZeroPage);
        bool featureMove = (caps.FeatureBits & (1UL << 16)) != 0;
        Assert.Equal(featureMove && (caps.RangeIoctlBits & (1UL << 5)) != 0, caps.Move);
        Assert.Equal(caps.Move ? GcBackend.Move : GcBackend.Copy, caps.BestBackend);
        if (!caps.Move)
        {
            Assert.Contains("6.8", caps.MoveUnavailableReason);
        }
    }

    [Fact]
    public void WithoutMoveTheHeapFallsBackToCopyAndSaysWhy()
    {
        using var heap = new Heap(new HeapOptions { Backend = GcBackend.Move, DisabledKernelFeatures = KernelFeatures.Move, VerifyHeap = true });
        Assert.Equal(GcBackend.Copy, heap.Backend);
        Assert.Contains("UFFDIO_MOVE", heap.BackendReason);
        Assert.Contains("Copy", heap.BackendReason);
        Assert.Contains("disabled", heap.BackendReason);
        CollectsAGraph(heap);
        Assert.Equal(0, heap.History.Sum(s => s.PagesZeroCopy));
    }

    [Fact]
    public void WithoutUserfaultfdTheHeapFallsBackToStopTheWorldAndSaysWhy()
    {
        using var heap = new Heap(new HeapOptions { Backend = GcBackend.Move, DisabledKernelFeatures = KernelFeatures.UserfaultFd, VerifyHeap = true });
        Assert.Equal(GcBackend.StopTheWorld, heap.Backend);
        Assert.Contains("userfaultfd is unavailable", heap.BackendReason);
        Assert.Equal(UffdOpenMethod.None, heap.UffdOpenMethod);
        CollectsAGraph(heap);
    }

    [Fact]
    public void RequireBackendRefusesToFallBack()
    {
        var ex = Assert.Throws<GcBackendUnavailableException>(() =>
            new Heap(new HeapOptions { Backend = GcBackend.Move, RequireBackend = true, DisabledKernelFeatures = KernelFeatures.Move }));
        Assert.Contains("UFFDIO_MOVE", ex.Message);
    }

    [Theory]
    [InlineData(1, 0, "0", false, "vm.unprivileged_userfaultfd=0 and the process lacks CAP_SYS_PTRACE", "seccomp filter")]
    [InlineData(1, 2, "0", false, "vm.unprivileged_userfaultfd=0 and the process lacks CAP_SYS_PTRACE; a seccomp filter is also installed", "security module")]
    [InlineData(1, 2, "1", false, "a seccomp filter refused it (Seccomp: 2 in /proc/thread-self/status, 3 filters); not the sysctl (vm.unprivileged_userfaultfd=1)", "lacks")]
    [InlineData(1, 2, "0", true, "a seccomp filter refused it", "lacks")]
    [InlineData(1, 0, "1", false, "no seccomp filter (Seccomp: 0 in /proc/thread-self/status); not the sysctl (vm.unprivileged_userfaultfd=1): a security module", "refused it")]
    [InlineData(38, 0, null, false, "built without CONFIG_USERFAULTFD", "seccomp")]
    [InlineData(38, 2, "1", false, "a seccomp filter answered ENOSYS (Seccomp: 2 in /proc/thread-self/status, 3 filters); the kernel has userfaultfd (vm.unprivileged_userfaultfd=1)", "CONFIG_USERFAULTFD")]
    [InlineData(38, 0, "1", false, "the kernel has userfaultfd (vm.unprivileged_userfaultfd=1) and no seccomp filter is installed", "CONFIG_USERFAULTFD")]
    public void TheReasonForARefusedUserfaultfdNamesWhatTheProcessCanSee(int errno, int seccomp, string? sysctl, bool ptrace, string expected, string notExpected)
    {
        var context = new UffdCapabilities.OpenContext(seccomp, seccomp == 2 ? 3 : 0, sysctl, ptrace);
        string why = UffdCapabilities.ExplainSyscallRefusal(errno, context);
        Assert.Contains(expected, why, StringComparison.Ordinal);
        Assert.DoesNotContain(notExpected, why, StringComparison.Ordinal);
    }

    [Fact]
    public void UnprivilegedProcessGetsUserModeOnlyFromTheRealKernel()
    {
        if (!IsRoot || File.ReadAllText("/proc/sys/vm/unprivileged_userfaultfd").Trim() != "0")
        {
            return; // needs root to drop privileges, and the default sysctl to be meaningful
        }

        // A forked child drops to nobody (65534) and probes: the kernel refuses full mode.
        var caps = UffdCapabilities.ProbeAsUser(65534, 65534);
        Assert.True(caps.Available, caps.ToString());
        Assert.Equal(UffdOpenMethod.UserModeOnly, caps.OpenMethod);
        Assert.False(caps.HandlesKernelFaults);
        string report = caps.ToString();
        Assert.Contains("EPERM", report);
        Assert.Contains("unprivileged_userfaultfd=0", report);
        Assert.Contains("EFAULT", report);

        var none = UffdCapabilities.ProbeAsUser(65534, 65534, UffdOpenMethods.FullModeOnly);
        Assert.False(none.Available);
        Assert.Contains("EPERM", none.UffdUnavailableReason);
    }

    [Theory]
    [InlineData(UffdOpenMethods.Syscall, UffdOpenMethod.Syscall)]
    [InlineData(UffdOpenMethods.DevUserfaultfd, UffdOpenMethod.DevUserfaultfd)]
    [InlineData(UffdOpenMethods.UserModeOnly, UffdOpenMethod.UserModeOnly)]
    public void EveryWayOfOpeningTheUffdCompacts(UffdOpenMethods allowed, UffdOpenMethod expected)
    {
        if (!IsRoot)
        {
            return;
        }

        using var heap = TestHeaps.Create(GcBackend.Move, configure: o => o.UffdOpenMethods = allowed);
        Assert.Equal(expected, heap.UffdOpenMethod);
        Assert.Equal(expected != UffdOpenMethod.UserModeOnly, heap.Capabilities.HandlesKernelFaults);
        CollectsAGraph(heap);
    }

    private static void CollectsAGraph(Heap heap)
    {
        using var m = heap.AttachCurrentThread();
        using var graph = new MirroredGraph(m, new ModelTypes(heap), seed: 8);
        graph.Grow(8, 200);
        for (int i = 0; i < 3; i++)
        {
            var s = heap.Collect();
            Assert.True(s.Verified);
            graph.Compare($"after collection {i} on {heap.Backend}");
        }
    }
}
