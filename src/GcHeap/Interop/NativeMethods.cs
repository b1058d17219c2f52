using System.Runtime.InteropServices;

namespace GcHeap.Interop;

/// <summary>
/// Source-generated P/Invoke declarations of the native layer. Every function returns 0 or a
/// negative errno; callers turn failures into exceptions through <see cref="Errno"/>.
/// None of these functions calls back into managed code.
/// </summary>
internal static unsafe partial class NativeMethods
{
    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_abi_version")]
    public static partial int AbiVersion();

    // ---- userfaultfd ----

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_uffd_probe")]
    public static partial int UffdProbe(int allowedMethods, out NativeUffdCaps caps);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_uffd_probe_as_user")]
    public static partial int UffdProbeAsUser(uint uid, uint gid, int allowedMethods, out NativeUffdCaps caps);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_uffd_open")]
    public static partial int UffdOpen(int allowedMethods, ulong features, out int fd, out int method, out ulong featuresOut);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_close")]
    public static partial int Close(int fd);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_uffd_register")]
    public static partial int UffdRegister(int fd, ulong addr, ulong len, ulong mode, out ulong ioctls);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_uffd_unregister")]
    public static partial int UffdUnregister(int fd, ulong addr, ulong len);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_uffd_move")]
    public static partial int UffdMove(int fd, ulong dst, ulong src, ulong len, ulong mode, out ulong done);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_uffd_copy")]
    public static partial int UffdCopy(int fd, ulong dst, ulong src, ulong len, ulong mode, out ulong done);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_uffd_zeropage")]
    public static partial int UffdZeroPage(int fd, ulong dst, ulong len, ulong mode, out ulong done);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_uffd_wake")]
    public static partial int UffdWake(int fd, ulong addr, ulong len);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_uffd_read_faults")]
    public static partial int UffdReadFaults(int fd, ulong* addresses, int capacity);

    // ---- memory ----

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_mem_reserve")]
    public static partial int MemReserve(ulong len, int flags, out ulong addr);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_mem_release")]
    public static partial int MemRelease(ulong addr, ulong len);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_mem_reserve_shared")]
    public static partial int MemReserveShared(ulong len, int flags, out int fd, out ulong mutatorView, out ulong collectorView);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_mem_release_shared")]
    public static partial int MemReleaseShared(int fd, ulong mutatorView, ulong collectorView, ulong len);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_mem_remove")]
    public static partial int MemRemove(ulong addr, ulong len);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_mem_discard")]
    public static partial int MemDiscard(ulong addr, ulong len);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_thread_self_id")]
    public static partial int ThreadSelfId(out int tid);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_thread_pin_here")]
    public static partial int ThreadPinHere(int tid, byte* savedMask);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_thread_set_affinity")]
    public static partial int ThreadSetAffinity(int tid, byte* mask);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_mem_populate")]
    public static partial int MemPopulate(ulong addr, ulong len);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_mem_set_dontfork")]
    public static partial int MemSetDontFork(ulong addr, ulong len, int dontFork);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_mem_resident_pages")]
    public static partial int MemResidentPages(ulong addr, ulong len, out ulong pages);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_process_memory")]
    public static partial int ProcessMemory(out ulong rss, out ulong peakRss);

    // ---- compaction ----

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_forward_slots")]
    public static partial int ForwardSlots(NativePlan* plan, ulong* slots, ulong count, out ulong badIndex);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_compact_stw")]
    public static partial int CompactStopTheWorld(NativePlan* plan, int checkForwarding, out NativeCompactionStats stats);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_compactor_create")]
    public static partial int CompactorCreate(in NativeCompactorConfig config, out CompactorSafeHandle compactor);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_compactor_begin")]
    public static partial int CompactorBegin(CompactorSafeHandle compactor, NativePlan* plan);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_compactor_resumed")]
    public static partial void CompactorResumed(CompactorSafeHandle compactor);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_compactor_wait")]
    public static partial int CompactorWait(CompactorSafeHandle compactor, int timeoutMs);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_compactor_stats")]
    public static partial int CompactorStats(CompactorSafeHandle compactor, out NativeCompactionStats stats);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_compactor_stall_samples")]
    public static partial int CompactorStallSamples(CompactorSafeHandle compactor, ulong* ns, uint capacity, out uint count);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_compactor_destroy")]
    public static partial void CompactorDestroy(nint compactor);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_compactor_arm")]
    public static partial void CompactorArm(CompactorSafeHandle compactor);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_compactor_quiesce")]
    public static partial void CompactorQuiesce(CompactorSafeHandle compactor);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_fork_gate_stats_get")]
    public static partial int ForkGateStats(out NativeForkGateStats stats);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_prefaulter_create")]
    public static partial int PrefaulterCreate(out PrefaulterSafeHandle prefaulter);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_prefaulter_request")]
    public static partial int PrefaulterRequest(PrefaulterSafeHandle prefaulter, ulong addr, ulong len);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_prefaulter_drain")]
    public static partial int PrefaulterDrain(PrefaulterSafeHandle prefaulter);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_prefaulter_stats")]
    public static partial int PrefaulterStats(PrefaulterSafeHandle prefaulter, out NativePrefaultStats stats);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_prefaulter_destroy")]
    public static partial void PrefaulterDestroy(nint prefaulter);

    // ---- live snapshots ----

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_snapshot_create")]
    public static partial int SnapshotCreate(in NativeSnapshotConfig config, out SnapshotSafeHandle snapshot);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_snapshot_protect")]
    public static partial int SnapshotProtect(SnapshotSafeHandle snapshot, uint first, uint count);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_snapshot_round_take")]
    public static partial int SnapshotRoundTake(SnapshotSafeHandle snapshot, out uint count);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_snapshot_round_protect")]
    public static partial int SnapshotRoundProtect(SnapshotSafeHandle snapshot, out uint left);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_snapshot_freeze")]
    public static partial int SnapshotFreeze(SnapshotSafeHandle snapshot, uint pages);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_snapshot_track")]
    public static partial int SnapshotTrack(SnapshotSafeHandle snapshot);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_snapshot_begin_increment")]
    public static partial int SnapshotBeginIncrement(SnapshotSafeHandle snapshot);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_snapshot_resumed")]
    public static partial void SnapshotResumed(SnapshotSafeHandle snapshot);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_snapshot_wait")]
    public static partial int SnapshotWait(SnapshotSafeHandle snapshot, uint page, int timeoutMs, out ulong address);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_snapshot_consumed")]
    public static partial int SnapshotConsumed(SnapshotSafeHandle snapshot, uint upto);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_snapshot_get_stats")]
    public static partial int SnapshotStats(SnapshotSafeHandle snapshot, out NativeSnapshotStats stats);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_snapshot_destroy")]
    public static partial void SnapshotDestroy(nint snapshot);

    // ---- test support ----

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_fork_holder_start")]
    public static partial int ForkHolderStart(out int pid, out int releaseFd);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_fork_holder_stop")]
    public static partial int ForkHolderStop(int pid, int releaseFd);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_continue_answers_probe")]
    public static partial int ContinueAnswersProbe(out NativeContinueAnswers answers);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_test_walk")]
    public static partial int TestWalk(NativeTypeInfo* types, uint typeCount, ulong** rootSlots, uint rootCount, ulong maxObjects, out NativeWalkResult result);

    [LibraryImport(NativeLibraryName.Name, EntryPoint = "gch_test_fork_walk")]
    public static partial int TestForkWalk(NativeTypeInfo* types, uint typeCount, ulong** rootSlots, uint rootCount, ulong maxObjects, int bypassAtfork, int timeoutMs, out NativeWalkResult result);
}
