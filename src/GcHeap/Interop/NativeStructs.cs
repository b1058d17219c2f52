using System.Runtime.InteropServices;

namespace GcHeap.Interop;

// Mirrors of the structs in native/include/gcheap_native.h: same field order, same sizes.
// Sizes are asserted at start-up by NativeLibraryCheck.

/// <summary>gch_type_info: one entry of the native type table.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativeTypeInfo
{
    public uint Kind;
    public uint RefCount;
    public uint BaseSize;
    public uint ElemSize;
}

/// <summary>gch_plan: a compaction plan, read by the native page builder.</summary>
[StructLayout(LayoutKind.Sequential)]
internal unsafe struct NativePlan
{
    public ulong FromBase;
    public ulong ToBase;
    public uint FromPages;
    public uint ToPages;
    public uint TypeCount;
    public uint NurseryPages;
    public NativeTypeInfo* Types;
    public ulong* LiveBitmap;
    public byte* FromClass;
    public uint* FromDest;
    public uint* FromAux;
    public uint* FromSplit;
    public uint* ToSrc;
    public byte* ToKind;
    public byte* ToState;
}

/// <summary>gch_prefault_stats: what the allocation prefault thread did.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativePrefaultStats
{
    public ulong Requests;
    public ulong Pages;
    public ulong BusyNs;
    public ulong Dropped;
    public int LastError;
    public int Method;
}

/// <summary>gch_compaction_stats: counters of one compaction, measured natively.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativeCompactionStats
{
    public ulong PagesInstalled;
    public ulong PagesWhole;
    public ulong PagesCompacted;
    public ulong PagesZeroCopy;
    public ulong PagesCopied;
    public ulong PagesZeroFilled;
    public ulong EbusyFallbacks;
    public ulong Eexist;
    public ulong EagainRetries;
    public ulong Ioctls;
    public ulong MoveIoctls;
    public ulong CopyIoctls;
    public ulong WakeIoctls;
    public ulong MadviseCalls;
    public ulong PagesReleased;
    public ulong FaultsServed;
    public ulong FaultsOnPending;
    public ulong PagesFaultCopied;
    public ulong PagesMoved;
    public ulong BuffersFresh;
    public ulong BytesCopied;
    public ulong RefsFixed;
    public ulong WallNs;
    public ulong CpuNs;
    public ulong StallCount;
    public ulong StallMaxNs;
    public ulong BuildNs;
    public ulong MoveNs;
    public ulong CopyNs;
    public ulong FaultNs;
    public ulong ReleaseNs;
    public ulong PopulateNs;
    public ulong RunsMoved;
    public ulong FaultsOnClaimed;
    public ulong Workers;
    public ulong PagesContinued;
    public ulong ContinueIoctls;
    public ulong ContinueNs;
    public ulong PagesWholeCopied;
    public ulong FaultsMinor;
    public ulong EventsFork;
    public ulong EventsRemove;
    public ulong EventsUnmap;
    public ulong EventsRemap;
    public ulong EventsHarmless;
    public ulong ForkChildren;
    public ulong ChildPagesPoisoned;
    public ulong EagainEventWaits;
    public ulong PagesPmdMoved;
    public ulong HugeBlocks;
    public ulong PagesHoles;
    public ulong MovesMisreported;
    public ulong PagesNurseryCopied;
    public int Error;
    public int ErrorOp;
    public ulong ErrorAddr;
}

/// <summary>gch_fork_gate_stats: the process-wide fork gate.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativeForkGateStats
{
    public ulong Forks;
    public ulong ForksWaited;
    public ulong WaitNs;
    public ulong Running;
}

/// <summary>gch_walk_result: a native walk of the object graph (tests).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativeWalkResult
{
    public int Status;
    public int ExitCode;
    public int Signal;
    public int Reserved;
    public ulong Objects;
    public ulong Checksum;
}

/// <summary>gch_compactor_config.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativeCompactorConfig
{
    public int Uffd;
    public int InstallMode;
    public uint BatchPages;
    public uint Workers;
    public uint FaultAroundPages;
    public uint StallSampleCapacity;
    public uint DontFork;
    public uint SweepDelayMicros;
    public uint CheckForwarding;
    public int ThreadNice;
    public uint CopyFaultedPages;
    public uint MinMovePages;
    public uint ReleaseChunkPages;
    public uint UnitPages;
    public ulong CollectorView;
    public uint HugeBlocks;
    public uint Reserved1;
    public uint PackedPagesByCopy;
    public uint Reserved2;
}

/// <summary>gch_uffd_caps: what the kernel and this process allow.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativeUffdCaps
{
    public int OpenMethod;
    public int SyscallErrno;
    public int DevErrno;
    public int UserModeErrno;
    public int ApiErrno;
    public int RegisterErrno;
    public int MoveErrno;
    public int PageSize;
    public ulong Features;
    public ulong ApiIoctls;
    public ulong RangeIoctls;
    public ulong WpRangeIoctls;
    public int MemfdErrno;
    public int ContinueErrno;
    public ulong MinorRangeIoctls;
}

/// <summary>gch_continue_answers: the kernel's answers to UFFDIO_CONTINUE in the errno table's cases (negative errnos).</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativeContinueAnswers
{
    public int Hole;
    public int Written;
    public int Again;
    public int RunFirst;
    public long RunMapped;
    public int RunRest;
    public int ValueOk;
    public ulong RunDone;
}

/// <summary>Constants shared with the native layer.</summary>
internal static class NativeConstants
{
    public const int InstallMove = 1;
    public const int InstallCopy = 2;
    public const int InstallContinue = 3;

    public const int PrefaultPopulate = 1;
    public const int PrefaultTouch = 2;

    public const byte FromEmpty = 0;
    public const byte FromWholeMarked = 1;
    public const byte FromWholeBlack = 2;
    public const byte FromSparse = 3;
    public const byte FromLarge = 4;

    public const byte ToWhole = 1;
    public const byte ToCompacted = 2;
    public const byte ToHole = 3;

    /// <summary>GCH_PAGE_INSTALLED: the to-page state once a page is present in to-space.</summary>
    public const byte PageInstalled = 2;

    /// <summary>4 KiB pages per 2 MiB PMD: the size and alignment of a huge block.</summary>
    public const int PmdPages = 512;

    public const int MemDontFork = 1;
    public const int MemNoHugePage = 2;
    public const int MemHugeTlb = 4;
    public const int MemHugePage = 8;

    /// <summary>4 KiB pages per 2 MiB hugetlbfs page: the Continue backend's install unit on hugetlbfs.</summary>
    public const int HugePagePages = 512;

    public const ulong RegisterModeMissing = 1;
    public const ulong RegisterModeMinor = 4;

    public const ulong FeatureEventFork = 1UL << 1;
    public const ulong FeatureEventRemap = 1UL << 2;
    public const ulong FeatureEventRemove = 1UL << 3;
    public const ulong FeatureEventUnmap = 1UL << 6;
    public const ulong FeaturePoison = 1UL << 14;
    public const ulong FeatureMove = 1UL << 16;
    public const ulong FeatureMinorShmem = 1UL << 10;

    /// <summary>The four non-cooperative events the compactor reads (docs/design.md section 6, "Events").</summary>
    public const ulong FeatureEvents = FeatureEventFork | FeatureEventRemap | FeatureEventRemove | FeatureEventUnmap;
}

/// <summary>gch_snapshot_config: what the native snapshot saver covers.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativeSnapshotConfig
{
    public ulong Base;
    public uint CapacityPages;
    public uint WindowPages;
    public int AllowedMethods;
    public uint Track;
    public int ThreadNice;
    public uint PauseCopyPages;
}

/// <summary>gch_snapshot_stats: counters of one snapshot, measured natively.</summary>
[StructLayout(LayoutKind.Sequential)]
internal struct NativeSnapshotStats
{
    public ulong PagesProtected;
    public ulong ProtectIoctls;
    public ulong ProtectNs;
    public ulong UnprotectIoctls;
    public ulong UnprotectNs;
    public ulong PrecopyFaults;
    public ulong ReprotectRounds;
    public ulong PagesReprotected;
    public ulong PausePagesReprotected;
    public ulong PausePagesProtected;
    public ulong FreezeNs;
    public ulong PagesSavedBackground;
    public ulong PagesSavedByFault;
    public ulong PagesCopiedInPause;
    public ulong WriteFaults;
    public ulong StaleFaults;
    public ulong EagainRetries;
    public ulong CopyNs;
    public ulong TrackedWrites;
    public ulong PagesWrittenSince;
    public uint FrozenPages;
    public uint MemberPages;
    public int Error;
    public int ErrorOp;
    public ulong ErrorAddr;
    public ulong PausePagesCopied;
    public ulong PauseCopyNs;
    public ulong Refaults;
    public ulong PauseNewPagesCopied;
}
