using System.Globalization;
using System.Text;
using GcHeap.Interop;

namespace GcHeap;

/// <summary>
/// What this kernel and this process allow with userfaultfd, found by trying each step for
/// real on scratch memory (open, handshake, register, a one-page UFFDIO_MOVE), and why anything
/// missing is missing. <see cref="ToString"/> gives a report for people.
/// </summary>
public sealed class UffdCapabilities
{
    private const int IoctlWake = 0x02, IoctlCopy = 0x03, IoctlZeroPage = 0x04, IoctlMove = 0x05, IoctlWriteProtect = 0x06,
        IoctlContinue = 0x07, IoctlPoison = 0x08;

    private const ulong FeatureWp = 1UL << 0, FeatureMinorHugetlbfs = 1UL << 9, FeatureMinorShmem = 1UL << 10, FeatureWpUnpopulated = 1UL << 13,
        FeatureMove = 1UL << 16;

    private readonly List<string> _notes = [];

    private UffdCapabilities()
    {
        KernelRelease = ReadFirstLine("/proc/sys/kernel/osrelease") ?? Environment.OSVersion.VersionString;
    }

    /// <summary>True when a userfaultfd could be opened and registered on anonymous memory.</summary>
    public bool Available { get; private set; }

    /// <summary>How the userfaultfd was opened.</summary>
    public UffdOpenMethod OpenMethod { get; private set; }

    /// <summary>
    /// True when faults raised by kernel code are served too (full mode); false in
    /// <see cref="UffdOpenMethod.UserModeOnly"/>, where such system calls fail with EFAULT.
    /// </summary>
    public bool HandlesKernelFaults => Available && OpenMethod != UffdOpenMethod.UserModeOnly;

    /// <summary>UFFDIO_MOVE works (offered by the kernel and a real one-page move succeeded).</summary>
    public bool Move { get; private set; }

    /// <summary>UFFDIO_COPY is offered on registered anonymous ranges.</summary>
    public bool Copy { get; private set; }

    /// <summary>UFFDIO_ZEROPAGE is offered on registered anonymous ranges.</summary>
    public bool ZeroPage { get; private set; }

    /// <summary>UFFDIO_WAKE is offered.</summary>
    public bool Wake { get; private set; }

    /// <summary>Minor faults on shared memory with UFFDIO_CONTINUE (UFFD_FEATURE_MINOR_SHMEM).</summary>
    public bool MinorFaultsShmem { get; private set; }

    /// <summary>UFFDIO_WRITEPROTECT on anonymous memory.</summary>
    public bool WriteProtect { get; private set; }

    /// <summary>Write-protecting unpopulated anonymous pages (UFFD_FEATURE_WP_UNPOPULATED).</summary>
    public bool WriteProtectUnpopulated { get; private set; }

    /// <summary>UFFDIO_POISON is offered.</summary>
    public bool Poison { get; private set; }

    /// <summary>
    /// UFFDIO_CONTINUE works on shared memory: the kernel offers UFFD_FEATURE_MINOR_SHMEM, a memfd
    /// could be created and mapped twice, one view registered MISSING|MINOR, and a real one-page
    /// UFFDIO_CONTINUE of a page written through the other view succeeded. What the Continue backend needs.
    /// </summary>
    public bool Continue { get; private set; }

    /// <summary>Why <see cref="Continue"/> is unavailable, or null.</summary>
    public string? ContinueUnavailableReason { get; private set; }

    /// <summary>
    /// The Continue backend can use 2 MiB hugetlbfs pages (<see cref="HeapOptions.ContinueHugePages"/>):
    /// <see cref="Continue"/> works, the kernel offers UFFD_FEATURE_MINOR_HUGETLBFS and 2 MiB pages are
    /// configured (<c>vm.nr_hugepages</c> &gt; 0). Whether enough are free for a given heap is known
    /// only when its spaces are reserved.
    /// </summary>
    public bool ContinueHugePages { get; private set; }

    /// <summary>Why <see cref="ContinueHugePages"/> is false, or null.</summary>
    public string? ContinueHugePagesUnavailableReason { get; private set; }

    /// <summary>2 MiB pages free in the pool (HugePages_Free in /proc/meminfo) when probed.</summary>
    public long HugePagesFree { get; private set; }

    /// <summary>
    /// The collector's uffd reads non-cooperative events (UFFD_FEATURE_EVENT_FORK, _REMOVE, _UNMAP
    /// and _REMAP, Linux 4.11+): a <c>madvise(MADV_DONTNEED)</c>, <c>munmap</c> or <c>mremap</c> of
    /// to-space by other code during a compaction ends the cycle with
    /// <see cref="GcCollectionFailedException"/> instead of going unnoticed, and a child forked
    /// without the fork gate (a raw <c>clone</c>) gets a poisoned to-space instead of holes. When
    /// false (<see cref="NonCooperativeEventsUnavailableReason"/>), such changes are not detected
    /// and a raw-clone child reads missing to-space pages as zeros; <c>fork()</c> through glibc is
    /// safe either way (it waits for a running compaction). docs/design.md section 6, "Events".
    /// </summary>
    public bool NonCooperativeEvents { get; private set; }

    /// <summary>Why <see cref="NonCooperativeEvents"/> is false; null when it is true.</summary>
    public string? NonCooperativeEventsUnavailableReason { get; private set; }

    /// <summary>The feature bits the kernel reported from UFFDIO_API.</summary>
    public ulong FeatureBits { get; private set; }

    /// <summary>The ioctl bits valid on a MISSING-registered anonymous range.</summary>
    public ulong RangeIoctlBits { get; private set; }

    /// <summary>The running kernel's release string.</summary>
    public string KernelRelease { get; }

    /// <summary>Why userfaultfd is unavailable, or null.</summary>
    public string? UffdUnavailableReason { get; private set; }

    /// <summary>Why UFFDIO_MOVE is unavailable, or null.</summary>
    public string? MoveUnavailableReason { get; private set; }

    /// <summary>
    /// Snapshots can be saved while mutators run (<see cref="Heap.SaveSnapshot(Stream, SnapshotOptions?)"/>):
    /// synchronous write-protect faults on anonymous memory with WP_UNPOPULATED (Linux 6.4+), in
    /// full mode (a kernel write into a protected page must wait, not fail with EFAULT). Otherwise
    /// a snapshot copies every page inside its pause; <see cref="LiveSnapshotUnavailableReason"/> says why.
    /// </summary>
    public bool LiveSnapshots { get; private set; }

    /// <summary>Why <see cref="LiveSnapshots"/> is false; null when it is true.</summary>
    public string? LiveSnapshotUnavailableReason { get; private set; }

    /// <summary>Facts worth knowing (user-mode-only consequences, disabled features, ...).</summary>
    public IReadOnlyList<string> Notes => _notes;

    /// <summary>The best backend this machine supports.</summary>
    public GcBackend BestBackend => Move ? GcBackend.Move : Available && Copy ? GcBackend.Copy : GcBackend.StopTheWorld;

    /// <summary>Probes the kernel. Never throws for a missing feature: the answer says what is missing and why.</summary>
    /// <param name="disabled">Features to treat as missing even if the kernel has them.</param>
    /// <param name="allowed">Ways of opening a userfaultfd that may be tried.</param>
    public static UffdCapabilities Probe(KernelFeatures disabled = KernelFeatures.None, UffdOpenMethods allowed = UffdOpenMethods.All)
    {
        NativeLibraryCheck.EnsureCompatible();
        if ((disabled & KernelFeatures.UserfaultFd) != 0 || allowed == UffdOpenMethods.None)
        {
            var off = new UffdCapabilities();
            off.UffdUnavailableReason = (disabled & KernelFeatures.UserfaultFd) != 0
                ? "userfaultfd disabled by HeapOptions.DisabledKernelFeatures"
                : "no way of opening a userfaultfd is allowed (HeapOptions.UffdOpenMethods = None)";
            off.MoveUnavailableReason = "userfaultfd unavailable";
            off.ContinueUnavailableReason = "userfaultfd unavailable";
            off.LiveSnapshotUnavailableReason = "userfaultfd unavailable";
            return off;
        }

        _ = NativeMethods.UffdProbe((int)allowed, out var caps);
        return FromNative(caps, disabled, allowed, OpenContext.OfCallingThread());
    }

    /// <summary>
    /// Probes as another (unprivileged) user, in a forked child that drops to <paramref name="uid"/>
    /// first. Lets tests and experiments see what an unprivileged process gets from the real kernel.
    /// </summary>
    public static UffdCapabilities ProbeAsUser(uint uid, uint gid, UffdOpenMethods allowed = UffdOpenMethods.All)
    {
        NativeLibraryCheck.EnsureCompatible();
        Errno.ThrowIfFailed(NativeMethods.UffdProbeAsUser(uid, gid, (int)allowed, out var caps), $"probe as uid {uid}");

        // The child that probed inherited this thread's seccomp filters and dropped every capability.
        return FromNative(caps, KernelFeatures.None, allowed, OpenContext.OfCallingThread() with { HasSysPtrace = uid == 0 });
    }

    internal static UffdCapabilities FromNative(in NativeUffdCaps caps, KernelFeatures disabled, UffdOpenMethods allowed, OpenContext context)
    {
        var c = new UffdCapabilities
        {
            OpenMethod = (UffdOpenMethod)caps.OpenMethod,
            FeatureBits = caps.Features,
            RangeIoctlBits = caps.RangeIoctls,
        };

        if (caps.OpenMethod == 0)
        {
            c.UffdUnavailableReason = "no userfaultfd could be opened: " + string.Join("; ", OpenFailures(caps, allowed, context));
            c.MoveUnavailableReason = "userfaultfd unavailable";
            c.ContinueUnavailableReason = "userfaultfd unavailable";
            c.LiveSnapshotUnavailableReason = "userfaultfd unavailable";
            return c;
        }

        if (caps.ApiErrno != 0 || caps.RegisterErrno != 0)
        {
            c.UffdUnavailableReason = caps.ApiErrno != 0
                ? $"UFFDIO_API handshake failed: {Errno.Describe(caps.ApiErrno)}"
                : $"UFFDIO_REGISTER of anonymous memory failed: {Errno.Describe(caps.RegisterErrno)}";
            c.MoveUnavailableReason = "userfaultfd unavailable";
            c.ContinueUnavailableReason = "userfaultfd unavailable";
            c.LiveSnapshotUnavailableReason = "userfaultfd unavailable";
            return c;
        }

        c.Available = true;
        c.Wake = Has(caps.RangeIoctls, IoctlWake);
        c.Copy = Has(caps.RangeIoctls, IoctlCopy);
        c.ZeroPage = Has(caps.RangeIoctls, IoctlZeroPage);
        c.Poison = Has(caps.RangeIoctls, IoctlPoison);
        c.MinorFaultsShmem = (caps.Features & FeatureMinorShmem) != 0;
        c.WriteProtect = (caps.Features & FeatureWp) != 0 && Has(caps.WpRangeIoctls, IoctlWriteProtect);
        c.WriteProtectUnpopulated = c.WriteProtect && (caps.Features & FeatureWpUnpopulated) != 0;
        c.ContinueUnavailableReason = ContinueRefusal(c, caps, disabled);
        c.Continue = c.ContinueUnavailableReason is null;
        (long total, long free, long sizeKb) = ReadHugePagePool();
        c.HugePagesFree = free;
        c.ContinueHugePagesUnavailableReason =
            !c.Continue ? "the Continue backend is unavailable" :
            (caps.Features & FeatureMinorHugetlbfs) == 0 ? $"the kernel ({c.KernelRelease}) does not offer UFFD_FEATURE_MINOR_HUGETLBFS" :
            sizeKb != 2048 ? $"the default huge page size is {sizeKb} kB, not 2048 kB" :
            total == 0 ? "no 2 MiB pages are configured (vm.nr_hugepages = 0; HugePages_Total in /proc/meminfo)" : null;
        c.ContinueHugePages = c.ContinueHugePagesUnavailableReason is null;

        bool kernelMove = (caps.Features & FeatureMove) != 0 && Has(caps.RangeIoctls, IoctlMove);
        if (!kernelMove)
        {
            c.MoveUnavailableReason = $"the kernel ({c.KernelRelease}) does not offer UFFD_FEATURE_MOVE / UFFDIO_MOVE (added in Linux 6.8)";
        }
        else if (caps.MoveErrno != 0)
        {
            c.MoveUnavailableReason = $"a test UFFDIO_MOVE of one page failed: {Errno.Describe(caps.MoveErrno)}";
        }
        else if ((disabled & KernelFeatures.Move) != 0)
        {
            c.MoveUnavailableReason = "UFFDIO_MOVE disabled by HeapOptions.DisabledKernelFeatures";
        }
        else
        {
            c.Move = true;
        }

        const ulong events = NativeConstants.FeatureEvents;
        if ((caps.Features & events) != events)
        {
            c.NonCooperativeEventsUnavailableReason = $"the kernel ({c.KernelRelease}) does not offer all of UFFD_FEATURE_EVENT_FORK/REMOVE/UNMAP/REMAP (features 0x{caps.Features:x})";
        }
        else if ((disabled & KernelFeatures.NonCooperativeEvents) != 0)
        {
            c.NonCooperativeEventsUnavailableReason = "non-cooperative events disabled by HeapOptions.DisabledKernelFeatures";
        }
        else
        {
            c.NonCooperativeEvents = true;
        }

        if (!c.WriteProtect)
        {
            c.LiveSnapshotUnavailableReason = $"the kernel ({c.KernelRelease}) does not offer write-protect faults on anonymous memory (UFFD_FEATURE_PAGEFAULT_FLAG_WP, Linux 5.7)";
        }
        else if (!c.WriteProtectUnpopulated)
        {
            c.LiveSnapshotUnavailableReason = $"the kernel ({c.KernelRelease}) does not offer UFFD_FEATURE_WP_UNPOPULATED (Linux 6.4): never-touched pages could not be protected";
        }
        else if ((disabled & KernelFeatures.WriteProtect) != 0)
        {
            c.LiveSnapshotUnavailableReason = "write-protect disabled by HeapOptions.DisabledKernelFeatures";
        }
        else if (c.OpenMethod == UffdOpenMethod.UserModeOnly)
        {
            c.LiveSnapshotUnavailableReason = "only a user-mode-only userfaultfd can be opened: a system call writing into a protected page would fail with EFAULT instead of waiting";
        }
        else
        {
            c.LiveSnapshots = true;
        }

        if (c.OpenMethod == UffdOpenMethod.UserModeOnly)
        {
            c._notes.Add("user-mode-only userfaultfd: " + string.Join("; ", OpenFailures(caps, allowed, context)) +
                         ". A system call that reads or writes a to-space page not yet installed fails with EFAULT; " +
                         "GcHeap's own I/O methods touch the pages in user mode first, so only code that hands heap memory to the kernel directly is affected.");
        }

        return c;
    }

    /// <summary>HugePages_Total, HugePages_Free and Hugepagesize (kB) from /proc/meminfo; zeros when unreadable.</summary>
    internal static (long Total, long Free, long SizeKb) ReadHugePagePool()
    {
        long total = 0, free = 0, size = 0;
        try
        {
            foreach (string line in File.ReadLines("/proc/meminfo"))
            {
                string[] kv = line.Split(':', 2, StringSplitOptions.TrimEntries);
                if (kv.Length != 2)
                {
                    continue;
                }

                string v = kv[1].Split(' ')[0];
                switch (kv[0])
                {
                    case "HugePages_Total": _ = long.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out total); break;
                    case "HugePages_Free": _ = long.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out free); break;
                    case "Hugepagesize": _ = long.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out size); break;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return (total, free, size);
    }

    /// <summary>Why the Continue backend cannot run, from the probe's answers; null when it can.</summary>
    private static string? ContinueRefusal(UffdCapabilities c, in NativeUffdCaps caps, KernelFeatures disabled)
    {
        if (!c.MinorFaultsShmem)
        {
            return $"the kernel ({c.KernelRelease}) does not offer UFFD_FEATURE_MINOR_SHMEM (minor faults on shared memory, Linux 5.14)";
        }

        if (caps.MemfdErrno != 0)
        {
            return $"memfd_create/ftruncate/mmap of a shared scratch file failed: {Errno.Describe(caps.MemfdErrno)}";
        }

        if (caps.ContinueErrno != 0)
        {
            return $"registering a shared mapping in MISSING|MINOR mode and a test UFFDIO_CONTINUE of one page failed: {Errno.Describe(caps.ContinueErrno)}";
        }

        if (!Has(caps.MinorRangeIoctls, IoctlContinue))
        {
            return $"the MINOR-registered shared range does not offer UFFDIO_CONTINUE (ioctls 0x{caps.MinorRangeIoctls:x})";
        }

        return (disabled & KernelFeatures.Continue) != 0 ? "UFFDIO_CONTINUE disabled by HeapOptions.DisabledKernelFeatures" : null;
    }

    /// <summary>The UFFD_FEATURE_* bits the collector asks for on its uffd with <paramref name="backend"/>.</summary>
    internal ulong CollectorFeatures(GcBackend backend)
    {
        ulong f = backend switch
        {
            GcBackend.Move => NativeConstants.FeatureMove,
            GcBackend.Continue => NativeConstants.FeatureMinorShmem,
            _ => 0,
        };
        if (NonCooperativeEvents)
        {
            // POISON lets a child forked past the fork gate die on a page it lacks (SIGBUS) rather than read zeros.
            f |= NativeConstants.FeatureEvents | (FeatureBits & NativeConstants.FeaturePoison);
        }

        return f;
    }

    /// <inheritdoc />
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append(CultureInfo.InvariantCulture, $"kernel {KernelRelease}\n");
        if (!Available)
        {
            sb.Append(CultureInfo.InvariantCulture, $"userfaultfd: unavailable ({UffdUnavailableReason})\n");
        }
        else
        {
            sb.Append(CultureInfo.InvariantCulture, $"userfaultfd: available via {OpenMethod}{(HandlesKernelFaults ? " (full mode: kernel-mode faults wait)" : " (user-mode only)")}\n");
            sb.Append(CultureInfo.InvariantCulture, $"  features 0x{FeatureBits:x}, range ioctls 0x{RangeIoctlBits:x}\n");
            sb.Append(CultureInfo.InvariantCulture, $"  MOVE {YesNo(Move, MoveUnavailableReason)}\n");
            sb.Append(CultureInfo.InvariantCulture, $"  COPY {YesNo(Copy, null)}, ZEROPAGE {YesNo(ZeroPage, null)}, WAKE {YesNo(Wake, null)}, POISON {YesNo(Poison, null)}\n");
            sb.Append(CultureInfo.InvariantCulture, $"  CONTINUE on shared memory (minor faults, Continue backend) {YesNo(Continue, ContinueUnavailableReason)}\n");
            sb.Append(CultureInfo.InvariantCulture, $"  CONTINUE on 2 MiB hugetlbfs pages {YesNo(ContinueHugePages, ContinueHugePagesUnavailableReason)} ({HugePagesFree} free)\n");
            sb.Append(CultureInfo.InvariantCulture, $"  minor faults (shmem) offered {YesNo(MinorFaultsShmem, null)}, write-protect {YesNo(WriteProtect, null)}, WP of unpopulated pages {YesNo(WriteProtectUnpopulated, null)}\n");
            sb.Append(CultureInfo.InvariantCulture, $"  non-cooperative events (fork, remove, unmap, remap) {YesNo(NonCooperativeEvents, NonCooperativeEventsUnavailableReason)}\n");
            sb.Append(CultureInfo.InvariantCulture, $"  live snapshots {YesNo(LiveSnapshots, LiveSnapshotUnavailableReason)}\n");
        }

        foreach (var n in _notes)
        {
            sb.Append("note: ").Append(n).Append('\n');
        }

        sb.Append(CultureInfo.InvariantCulture, $"best backend: {BestBackend}");
        return sb.ToString();
    }

    private static string YesNo(bool v, string? why) => v ? "yes" : why is null ? "no" : $"no ({why})";

    private static bool Has(ulong bits, int ioctl) => (bits & (1UL << ioctl)) != 0;

    private static IEnumerable<string> OpenFailures(NativeUffdCaps caps, UffdOpenMethods allowed, OpenContext context)
    {
        if ((allowed & UffdOpenMethods.Syscall) != 0 && caps.SyscallErrno != 0)
        {
            string why = ExplainSyscallRefusal(caps.SyscallErrno, context);
            yield return $"userfaultfd(2): {Errno.Describe(caps.SyscallErrno)}{(why.Length > 0 ? $" ({why})" : "")}";
        }

        if ((allowed & UffdOpenMethods.DevUserfaultfd) != 0 && caps.DevErrno != 0)
        {
            string why = caps.DevErrno switch
            {
                Errno.ENOENT => " (no such device node: it exists from Linux 6.1 when udev or the administrator creates it)",
                Errno.EACCES => " (the device node's owner and mode do not let this user open it)",
                _ => "",
            };
            yield return $"/dev/userfaultfd: {Errno.Describe(caps.DevErrno)}{why}";
        }

        if ((allowed & UffdOpenMethods.UserModeOnly) != 0 && caps.UserModeErrno != 0)
        {
            yield return $"userfaultfd(UFFD_USER_MODE_ONLY): {Errno.Describe(caps.UserModeErrno)}";
        }
    }

    /// <summary>
    /// What refused userfaultfd(2), from what the probing thread can see: its seccomp mode
    /// (<c>Seccomp:</c> in /proc/thread-self/status), the sysctl /proc/sys/vm/unprivileged_userfaultfd
    /// (present only in kernels built with CONFIG_USERFAULTFD) and CAP_SYS_PTRACE (<c>CapEff:</c>).
    /// Empty for an errno these do not explain.
    /// </summary>
    internal static string ExplainSyscallRefusal(int errno, OpenContext c)
    {
        const string SeccompSource = "/proc/thread-self/status";
        bool filtered = c.SeccompMode == 2;
        string filters = c.SeccompFilters is int n ? $", {n} filter{(n == 1 ? "" : "s")}" : "";
        string sysctl = c.UnprivilegedSysctl is null ? "" : $"vm.unprivileged_userfaultfd={c.UnprivilegedSysctl}";
        if (errno == Errno.EPERM)
        {
            bool sysctlRefuses = c.UnprivilegedSysctl == "0" && c.HasSysPtrace == false;
            if (sysctlRefuses)
            {
                return $"{sysctl} and the process lacks CAP_SYS_PTRACE" +
                       (filtered ? $"; a seccomp filter is also installed (Seccomp: 2 in {SeccompSource}{filters}) and may be what refused it" : "");
            }

            string notSysctl = c.UnprivilegedSysctl is null ? "" :
                c.HasSysPtrace == true ? $"; not the sysctl: the process has CAP_SYS_PTRACE ({sysctl})" : $"; not the sysctl ({sysctl})";
            return filtered
                ? $"a seccomp filter refused it (Seccomp: 2 in {SeccompSource}{filters}){notSysctl}"
                : $"no seccomp filter (Seccomp: {c.SeccompMode?.ToString(CultureInfo.InvariantCulture) ?? "?"} in {SeccompSource}){notSysctl}: a security module (SELinux, AppArmor) may forbid it";
        }

        if (errno == Errno.ENOSYS)
        {
            if (c.UnprivilegedSysctl is null)
            {
                return "the kernel has no userfaultfd: /proc/sys/vm/unprivileged_userfaultfd is missing, so it was built without CONFIG_USERFAULTFD" +
                       (filtered ? $" (a seccomp filter is installed too: Seccomp: 2 in {SeccompSource}{filters})" : "");
            }

            return filtered
                ? $"a seccomp filter answered ENOSYS (Seccomp: 2 in {SeccompSource}{filters}); the kernel has userfaultfd ({sysctl})"
                : $"the kernel has userfaultfd ({sysctl}) and no seccomp filter is installed (Seccomp: {c.SeccompMode?.ToString(CultureInfo.InvariantCulture) ?? "?"} in {SeccompSource}): " +
                  "something between the process and the kernel answered, such as an emulator (qemu-user) or a container runtime";
        }

        return "";
    }

    /// <summary>What the probing thread can see about why opening a userfaultfd may be refused.</summary>
    internal readonly record struct OpenContext(int? SeccompMode, int? SeccompFilters, string? UnprivilegedSysctl, bool? HasSysPtrace)
    {
        private const int CapSysPtrace = 19;

        public static OpenContext OfCallingThread()
        {
            int? mode = null, filters = null;
            bool? ptrace = null;
            try
            {
                foreach (string line in File.ReadLines("/proc/thread-self/status"))
                {
                    string[] kv = line.Split(':', 2, StringSplitOptions.TrimEntries);
                    if (kv.Length != 2)
                    {
                        continue;
                    }

                    switch (kv[0])
                    {
                        case "Seccomp" when int.TryParse(kv[1], NumberStyles.None, CultureInfo.InvariantCulture, out int m):
                            mode = m;
                            break;
                        case "Seccomp_filters" when int.TryParse(kv[1], NumberStyles.None, CultureInfo.InvariantCulture, out int f):
                            filters = f;
                            break;
                        case "CapEff" when ulong.TryParse(kv[1], NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ulong caps):
                            ptrace = (caps & (1UL << CapSysPtrace)) != 0;
                            break;
                    }
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }

            return new OpenContext(mode, filters, ReadFirstLine("/proc/sys/vm/unprivileged_userfaultfd"), ptrace);
        }
    }

    private static string? ReadFirstLine(string path)
    {
        try
        {
            using var r = new StreamReader(path);
            return r.ReadLine()?.Trim();
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }
}
