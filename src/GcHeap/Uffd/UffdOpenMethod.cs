namespace GcHeap;

/// <summary>How a userfaultfd was obtained.</summary>
public enum UffdOpenMethod
{
    /// <summary>No userfaultfd could be opened.</summary>
    None = 0,

    /// <summary><c>userfaultfd(2)</c> in full mode: faults from kernel code (system calls) are handled too.</summary>
    Syscall = 1,

    /// <summary><c>/dev/userfaultfd</c> with <c>USERFAULTFD_IOC_NEW</c>: full mode, permission from the device node.</summary>
    DevUserfaultfd = 2,

    /// <summary>
    /// <c>userfaultfd(UFFD_USER_MODE_ONLY)</c>: only faults from user code are handled; a system call that
    /// touches a missing to-space page (for example <c>write(fd, heapBytes)</c>) fails with EFAULT instead of waiting.
    /// </summary>
    UserModeOnly = 4,
}

/// <summary>Which ways of opening a userfaultfd GcHeap may try, in the order Syscall, DevUserfaultfd, UserModeOnly.</summary>
[Flags]
public enum UffdOpenMethods
{
    /// <summary>Try nothing (userfaultfd is not used).</summary>
    None = 0,

    /// <summary>Allow <see cref="UffdOpenMethod.Syscall"/>.</summary>
    Syscall = 1,

    /// <summary>Allow <see cref="UffdOpenMethod.DevUserfaultfd"/>.</summary>
    DevUserfaultfd = 2,

    /// <summary>Allow <see cref="UffdOpenMethod.UserModeOnly"/>.</summary>
    UserModeOnly = 4,

    /// <summary>Only the full modes, in which system calls touching missing pages wait instead of failing.</summary>
    FullModeOnly = Syscall | DevUserfaultfd,

    /// <summary>All of them.</summary>
    All = Syscall | DevUserfaultfd | UserModeOnly,
}

/// <summary>Kernel features GcHeap can be told to treat as missing, to run a fallback path on purpose.</summary>
[Flags]
public enum KernelFeatures
{
    /// <summary>Nothing disabled.</summary>
    None = 0,

    /// <summary>Pretend userfaultfd is unavailable: only the stop-the-world backend can run.</summary>
    UserfaultFd = 1,

    /// <summary>Pretend UFFDIO_MOVE is missing: the Move backend falls back to Copy.</summary>
    Move = 2,

    /// <summary>Pretend minor faults on shared memory (UFFD_FEATURE_MINOR_SHMEM, UFFDIO_CONTINUE) are missing: the Continue backend falls back to Move.</summary>
    Continue = 4,

    /// <summary>
    /// Pretend the non-cooperative events (UFFD_FEATURE_EVENT_FORK, _REMOVE, _UNMAP, _REMAP) are
    /// missing: the collector does not ask for them (see <see cref="UffdCapabilities.NonCooperativeEvents"/>).
    /// </summary>
    NonCooperativeEvents = 8,

    /// <summary>Pretend write-protect (UFFD_FEATURE_WP_UNPOPULATED) is missing: snapshots copy every page inside their pause.</summary>
    WriteProtect = 16,
}
