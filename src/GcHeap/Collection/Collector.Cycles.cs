using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using GcHeap.Compaction;
using GcHeap.Diagnostics;
using GcHeap.Interop;
using GcHeap.Marking;
using GcHeap.Memory;
using GcHeap.Roots;
using GcHeap.Threads;

namespace GcHeap.Collection;

// One collection cycle. Stop-the-world: a single pause that marks, plans, copies and forwards.
// Concurrent (Move / Copy):
//   mark start        two rounds of handshakes (no stop): the hybrid barrier on in every
//                     thread; then black allocation, global roots greyed, and each thread
//                     retires its TLAB and greys its handles at its own poll (with
//                     HeapOptions.MarkStartHandshake off, a MarkStart pause instead)
//   concurrent mark (this thread) while mutators run and log overwritten references
//   mark end          rounds of handshakes hand each thread's barrier log over until a round
//                     marks nothing new; dead weak references cleared, barrier off (no stop;
//                     with HeapOptions.MarkEndHandshake off, a MarkEnd pause instead)
//   concurrent plan   (forwarding tables for pages that existed at mark start)
//   [Flip pause]      black pages appended to the plan, to-space registered with the uffd,
//                     roots forwarded, native compactor started: from here mutators only
//                     ever see to-space addresses
//   concurrent compaction (native threads) - this thread waits in native code
//   from-space discarded, to-space unregistered
internal sealed unsafe partial class Collector
{
    private readonly List<PauseRecord> _pauses = [];
    private readonly List<HandshakeRecord> _handshakes = [];
    /// <summary>
    /// The steps of this cycle's pauses. A step's name is a constant (a composite format when
    /// <c>Count</c> is not -1): nothing is formatted inside a pause, where formatting would
    /// allocate and, once called often enough, have the runtime's JIT worker compile the
    /// formatting code (tier-1) while the world is stopped. Formatted when the cycle's
    /// statistics are made.
    /// </summary>
    private readonly List<(string Step, double Ms, long Count)> _pauseSteps = [];

    // Step names per pause kind, made once: a pause formats nothing (see _pauseSteps).
    private static readonly string[] StopStepNames = [.. Enum.GetValues<PauseKind>().Select(k => $"{k}: stop the world")];
    private static readonly string[] ResumeStepNames = [.. Enum.GetValues<PauseKind>().Select(k => $"{k}: resume")];
    private static readonly string[] StopDuringDotnetGcStepNames = [.. Enum.GetValues<PauseKind>().Select(k => $"{k}: stop the world (.NET GC pauses ended meanwhile: {{0}} us)")];
    private static readonly string[] DotnetGcInsideStepNames = [.. Enum.GetValues<PauseKind>().Select(k => $"{k}: .NET GC pauses inside it (part of the steps above)")];
    private MarkBitmap _bitmap = null!;
    private Marker _marker = null!;
    private Planner _planner = null!;
    private CompactionPlan _plan = null!;
    private NativePlan* _nativePlan;
    private int _nurseryReused;

    /// <summary>The from-space nursery's cursor when marking began: nursery pages from here on are black.</summary>
    private int _nurseryMark;

    /// <summary>Test hook: black nursery pages the last concurrent cycle planned before its flip (the flip plans the rest).</summary>
    internal int NurseryPagesPlannedWhileRunning { get; private set; }

    private int _phase;
    private double _maxStopWaitMs;
    private int _stopsGivenUp;
    private double _longestGivenUpMs;
    private const int MaxFlipStopAttempts = 50;
    private string? _maxStopAwaited;
    private double _dotnetGcDuringStopsMs;
    private string? _fallbackReason;
    private long _stopTheWorldFallbacks;
    private long _weakCleared;
    private bool _idsSetAside;
    private int _idsKept;
    private double _idsRekeyMs;

    /// <summary>To-space of the compaction in progress, from its first planned page above the nursery: that page's address, the planned pages and the registered pages from there (tests stage address-space changes there).</summary>
    internal (nint Base, int PlannedPages, int RegisteredPages) CompactionRange { get; private set; }

    private UffdCompactor? _running;

    /// <summary>Pages the running compaction has installed so far (tests check a staged change really lands mid-compaction); -1 when none runs.</summary>
    internal long PagesInstalledSoFar => _running is { } c ? (long)c.Snapshot().PagesInstalled : -1;

    /// <summary>The non-cooperative events of the last concurrent compaction, also when it failed (tests read them after a failure).</summary>
    internal UffdEventCounts LastEvents { get; private set; } = UffdEventCounts.None;

    /// <summary>Whether the write barrier is on; read and written under the safepoint lock.</summary>
    internal bool BarrierOn { get; private set; }

    /// <summary>Whether the barrier also shades stored values (mark start by handshake); read and written under the safepoint lock.</summary>
    internal bool BarrierShadesNew { get; private set; }

    /// <summary>The current phase of the cycle.</summary>
    public CollectionPhase Phase => (CollectionPhase)Volatile.Read(ref _phase);

    private void SetPhase(CollectionPhase p) => Volatile.Write(ref _phase, (int)p);

    private static double Ms(long fromTimestamp) => Stopwatch.GetElapsedTime(fromTimestamp).TotalMilliseconds;

    [MethodImpl(CollectorCode.OptimizeOnce)]
    private void InitCycleState()
    {
        int capacity = _heap.CapacityPages;
        _bitmap = new MarkBitmap(capacity);
        _marker = new Marker(_bitmap, _heap.Types);
        _planner = new Planner(_bitmap, _heap.Types);
        _plan = new CompactionPlan(capacity);
        _nativePlan = (NativePlan*)NativeMemory.AllocZeroed((nuint)sizeof(NativePlan));
    }

    private void DisposeCycleState()
    {
        _marker.Dispose();
        _bitmap.Dispose();
        _plan.Dispose();
        NativeMemory.Free(_nativePlan);
        _nativePlan = null;
    }

    [MethodImpl(CollectorCode.OptimizeOnce)]
    private CollectionStats RunCycle(long cycle, CollectionReason reason)
    {
        _pauses.Clear();
        _handshakes.Clear();
        _pauseSteps.Clear();
        (_maxStopWaitMs, _maxStopAwaited, _dotnetGcDuringStopsMs, _fallbackReason) = (0, null, 0, null);
        (_stopsGivenUp, _longestGivenUpMs) = (0, 0);
        (_weakCleared, _idsSetAside, _idsKept, _idsRekeyMs) = (0, false, 0, 0);
        try
        {
            SetPhase(CollectionPhase.Marking);
            return _heap.Backend == GcBackend.StopTheWorld ? RunStopTheWorld(cycle, reason) : RunConcurrent(cycle, reason);
        }
        finally
        {
            SetPhase(CollectionPhase.Idle);
        }
    }

    [MethodImpl(CollectorCode.OptimizeOnce)]
    private CollectionStats RunStopTheWorld(long cycle, CollectionReason reason)
    {
        long t0 = Stopwatch.GetTimestamp();
        Space from = _heap.AllocationSpace, to = _heap.OtherSpace(from);
        double markMs = 0, planMs = 0;
        int hw = 0;
        NativeCompactionStats native = default;
        bool verified = false;

        _bitmap.Prefault(Math.Min(_heap.CapacityPages, from.HighWater + 256));
        Pause(PauseKind.Full, () =>
        {
            long step = Stopwatch.GetTimestamp();
            RetireAllocationBuffers();
            hw = from.HighWater;
            lock (_heap.Handles.GlobalLock)
            {
                var roots = CaptureRoots();
                Step(ref step, "Full: retire allocation buffers, capture {0} roots", roots.Count);
                ulong before = 0;
                if (_heap.Options.VerifyHeap)
                {
                    before = GraphChecksum.Compute(_heap.Handles, roots, _heap.Types).Checksum;
                    Step(ref step, "Full: checksum the graph (VerifyHeap)");
                }

                (markMs, planMs) = MarkAndPlanStopped(from, to, hw, roots);
                _pauseSteps.Add(("Full: mark", markMs, -1));
                _pauseSteps.Add(("Full: plan", planMs, -1));
                step = Stopwatch.GetTimestamp();
                ClearDeadWeakRefs();
                Step(ref step, "Full: clear {0} dead weak references", _weakCleared);
                *_nativePlan = _plan.ToNative(_bitmap, _heap.Types);

                to.SetHighWater(_plan.ToPages);
                native = StopTheWorldCompactor.Run(_nativePlan, _heap.Options.VerifyHeap, (op, a) => Describe(op, a, from, to));
                Step(ref step, "Full: build {0} to-space pages (copy and forward)", _plan.ToPages);
                ForwardRoots(roots);
                ForwardWeakRefsAndIds();
                _plan.WriteToSpaceKinds();
                _heap.AllocationSpace = to;
                to.OpenNursery();
                Step(ref step, "Full: forward roots and weak references");

                if (_heap.Options.VerifyHeap)
                {
                    VerifyOrThrow(to, before, "after the stop-the-world compaction");
                    verified = true;
                    Step(ref step, "Full: verify (VerifyHeap)");
                }
            }
        }, abandonable: true);

        RebuildIds();
        long live = _marker.BytesMarked, objects = _marker.ObjectsMarked;
        int toPages = _plan.ToPages;
        FinishCycle(from, hw);
        return BuildStats(cycle, reason, GcBackend.StopTheWorld, false, t0, markMs, planMs, hw, toPages, live, objects, native, (0, 0, 0, 0, []), verified);
    }

    [MethodImpl(CollectorCode.OptimizeOnce)]
    private CollectionStats RunConcurrent(long cycle, CollectionReason reason)
    {
        long t0 = Stopwatch.GetTimestamp();
        GcBackend backend = _heap.Backend;
        bool concurrentMark = _heap.Options.ConcurrentMarking;
        Space from = _heap.AllocationSpace, to = _heap.OtherSpace(from);
        double markMs = 0, planMs = 0;
        int hwMark = 0, hwFlip = 0, hwPlanned = 0, nurseryPlanned = 0;
        bool verified = false;
        int registeredPages = 0;
        UffdCompactor? compactor = null;
        NativeCompactionStats native = default;
        (double P50, double P99, double Max, int Count, long[] Samples) stalls = (0, 0, 0, 0, []);
        ulong checksumBefore = 0;
        int unregisterRc = 0;
        string? fallback = null;
        GcSafepointTimeoutException? abandoned = null;
        bool begun = false;
        UffdEventCounts events = UffdEventCounts.None;

        // One planning pass while mutators run: the black pages allocated since the last pass,
        // above the nursery and then in it, stopping at the first page not set up yet or once the
        // plan reaches toLimit to-pages (each such page is one to-page).
        void PlanAllocatedSoFar(int toLimit)
        {
            hwPlanned = _planner.PlanBlackWhileRunning(hwPlanned, Bounded(from.HighWater, hwPlanned));
            nurseryPlanned = _planner.PlanNurseryBlackWhileRunning(nurseryPlanned, Bounded(from.NurseryTaken, nurseryPlanned));
            NurseryPagesPlannedWhileRunning = nurseryPlanned - _nurseryMark;

            int Bounded(int end, int first) => (int)Math.Min(end, first + Math.Max(0L, (long)toLimit - _plan.ToPages));
        }

        try
        {
            // Slack for pages allocated before the pause; pages allocated later are black.
            _bitmap.Prefault(Math.Min(_heap.CapacityPages, from.HighWater + 256));
            if (concurrentMark)
            {
                long tm = Stopwatch.GetTimestamp();
                DiscardStaleSatb();
                if (_heap.Options.MarkStartHandshake)
                {
                    try
                    {
                        hwMark = StartMarkingByHandshakes(from);
                    }
                    catch (GcSafepointTimeoutException)
                    {
                        AbandonMarking(hwMark);
                        throw;
                    }
                }
                else
                {
                    Pause(PauseKind.MarkStart, () =>
                    {
                        long step = Stopwatch.GetTimestamp();
                        RetireAllocationBuffers();
                        _nurseryMark = from.NurseryTaken; // nursery pages taken from here on are black
                        hwMark = from.HighWater;
                        _marker.Begin(from, hwMark, _nurseryMark);
                        Step(ref step, "MarkStart: retire allocation buffers");
                        lock (_heap.Handles.GlobalLock)
                        {
                            var roots = CaptureRoots();
                            GreyRoots(roots);
                            Step(ref step, "MarkStart: grey {0} roots", roots.Count);
                        }

                        DiscardBarrierLogs(); // none expected: a late log of the last cycle holds stale addresses
                        lock (_heap.Weak.Lock)
                        {
                            _heap.Weak.MarkingActive = true;
                        }

                        SetBarrier(true, shadeNew: false);
                        Step(ref step, "MarkStart: write barrier on");
                    }, abandonable: true);
                }

                TestHooks.AfterMarkStart?.Invoke();
                ConcurrentMark();

                try
                {
                    if (_heap.Options.MarkEndHandshake)
                    {
                        FinishMarkingByHandshakes();
                    }
                    else
                    {
                        FinishMarkingInPause();
                    }
                }
                catch (GcSafepointTimeoutException)
                {
                    AbandonMarking(hwMark);
                    throw;
                }
                markMs = Ms(tm);

                long tp = Stopwatch.GetTimestamp();
                SetPhase(CollectionPhase.Planning);
                _plan.Reset(from, to);
                bool move = backend == GcBackend.Move;
                _planner.Begin(_plan, _heap.Options.DensePageThreshold, move ? _heap.Options.RunBridgePages : 0,
                               _heap.Options.MinMovePages, _heap.Options.RunBridgeBudget, move && _heap.Options.PackShortRuns,
                               alignHugeBlocks: HugeBlocks(backend), nurseryBlackFrom: _nurseryMark);
                _planner.Plan(0, hwMark, black: false);

                // Pages allocated since marking began, planned while mutators run, so that the
                // flip only plans the few allocated after this (at 1 GiB live this took the flip
                // from up to 4.7 ms to well under a millisecond).
                hwPlanned = hwMark;
                nurseryPlanned = _nurseryMark;
                PlanAllocatedSoFar(int.MaxValue);
                planMs = Ms(tp);
            }

            // The compactor's threads are created before the pause and wait idle for the plan.
            // Until the flip forwards the roots nothing has moved: a transient failure of a step
            // before it (no thread can be created, the kernel is short of memory to register)
            // makes this cycle run stop-the-world instead of failing the heap.
            try
            {
                compactor = UffdCompactor.Create(CompactorConfig(backend, to));
            }
            catch (GcNativeException e) when (IsTransient(e))
            {
                fallback = e.Message;
            }

            // Pages allocated while the compactor's threads started: planned now too, so that the
            // flip plans only what is allocated during the registration below and the stop (with
            // two mutators at 1 GiB that step of the flip took up to 0.96 ms,
            // docs/results/2026-12-07/issue11-e9).
            if (concurrentMark)
            {
                PlanAllocatedSoFar(int.MaxValue);
            }

            // Nothing can touch to-space before the flip, so it is registered now, outside the
            // pause (UFFDIO_REGISTER takes the mmap lock for writing: up to 0.8 ms measured inside
            // the flip at 1 GiB), with room for the pages allocated until the flip; allocation after
            // the flip starts above the registered pages. Only what does not fit is registered in
            // the pause.
            if (concurrentMark)
            {
                // Slack for black pages still to come, at most 1/16 of what to-space has left:
                // allocation skips these pages until the next cycle.
                int free = to.CapacityPages - _plan.ToPages;
                int reserve = RoundUpToUnit(_plan.ToPages + Math.Min(Math.Max(64, _plan.ToPages / 64), free / 16));
                if (_heap.Options.VerifyHeap)
                {
                    CheckToSpaceEmpty(to, reserve);
                }

                if (fallback is null)
                {
                    try
                    {
                        Register(to, to.NurseryPages, reserve);
                        registeredPages = reserve;
                    }
                    catch (GcNativeException e) when (IsTransient(e))
                    {
                        fallback = e.Message;
                    }
                }

                // And the pages allocated while registering, as far as the registered range holds
                // them (one to-page per black page; huge-block padding adds holes, so not with it):
                // after the pass above the flip's planning still took up to 1.2 ms in binary-trees
                // and fragment (docs/results/2026-12-07/issue11-8fa79e0).
                if (fallback is null && !HugeBlocks(backend))
                {
                    PlanAllocatedSoFar(registeredPages);
                }
            }

            if (fallback is null)
            {
                TestHooks.BeforeFlip?.Invoke();
                try
                {
                    Pause(PauseKind.Flip, () =>
                    {
                        long step = Stopwatch.GetTimestamp();
                        RetireAllocationBuffers();
                        DiscardBarrierLogs(); // written after marking ended (the barrier goes off without a stop)
                        hwFlip = from.HighWater;
                        lock (_heap.Handles.GlobalLock)
                        {
                            var roots = CaptureRoots();
                            if (!concurrentMark)
                            {
                                hwMark = hwFlip;
                                (markMs, planMs) = MarkAndPlanStopped(from, to, hwFlip, roots);
                                ClearDeadWeakRefs();
                            }
                            else
                            {
                                _planner.Plan(hwPlanned, hwFlip, black: true);

                                // Nursery pages taken since the concurrent plan (black, whole).
                                int nurseryFlip = from.NurseryTaken;
                                from.CloseNursery();
                                _planner.PlanNurseryBlack(nurseryPlanned, nurseryFlip);
                            }

                            Step(ref step, "Flip: plan pages allocated since marking began");
                            *_nativePlan = _plan.ToNative(_bitmap, _heap.Types);
                            if (_plan.ToPages > Math.Max(registeredPages, to.NurseryPages))
                            {
                                if (_heap.Options.VerifyHeap)
                                {
                                    CheckToSpaceEmpty(to, _plan.ToPages);
                                }

                                int end = RoundUpToUnit(_plan.ToPages);
                                try
                                {
                                    Register(to, Math.Max(registeredPages, to.NurseryPages), end);
                                }
                                catch (GcNativeException e) when (IsTransient(e))
                                {
                                    fallback = e.Message; // nothing forwarded yet: resume, and run the cycle stop-the-world
                                    return;
                                }

                                registeredPages = end;
                            }

                            // Allocation resumes above every registered page (unused registered pages read
                            // as Free and are planned as empty next cycle).
                            to.SetHighWater(Math.Max(_plan.ToPages, registeredPages));
                            CompactionRange = (to.PageAddress(to.NurseryPages), _plan.ToPages - to.NurseryPages, Math.Max(0, registeredPages - to.NurseryPages));
                            Step(ref step, "Flip: register the rest of to-space");

                            if (_heap.Options.VerifyHeap)
                            {
                                checksumBefore = GraphChecksum.Compute(_heap.Handles, roots, _heap.Types, a => "before the flip: " + DescribeAddress(a, from, to)).Checksum;
                            }

                            Step(ref step, "Flip: verify (checksum before)");
                            if (_plan.ToPages > 0)
                            {
                                // From here until every page is installed, fork() waits for this
                                // compaction (native only), so no child sees forwarded roots over
                                // missing pages (docs/design.md section 6, "Events").
                                compactor!.Arm();
                            }

                            ForwardRoots(roots);
                            ForwardWeakRefsAndIds();
                            Step(ref step, "Flip: forward {0} roots and the weak references", roots.Count);
                            _heap.AllocationSpace = to;
                            to.OpenNursery(); // mapped, zeroed, never registered: allocation starts there

                            // The plan is handed over inside the pause, never after it: once mutators run
                            // they may block in a fault, and if serving it waited for this (managed) thread,
                            // a .NET GC suspending this thread would wait for the blocked mutator forever
                            // (the deadlock hazard; DeadlockHazardTests caught exactly that). The threads
                            // were created (and have started) before the pause; this only publishes the
                            // plan: the fault thread sees it at once, the sweepers are woken by the resume.
                            if (_plan.ToPages > 0)
                            {
                                compactor!.Begin(_nativePlan);
                                begun = true;
                            }

                            Step(ref step, "Flip: switch allocation to to-space, start the compactor");
                            SetPhase(CollectionPhase.Compacting);

                            if (_heap.Options.VerifyHeap)
                            {
                                // Reads to-space while the native compactor runs: every page this touches
                                // is faulted in by the collector thread, so the fault path is exercised too.
                                ulong after;
                                try
                                {
                                    after = GraphChecksum.Compute(_heap.Handles, roots, _heap.Types, a => "after the flip: " + DescribeAddress(a, from, to)).Checksum;
                                }
                                catch (GcCollectionFailedException e) when (compactor!.Snapshot().Error is int err and not 0)
                                {
                                    // The compactor failed first (and unregistered to-space): report its cause.
                                    var snap = compactor.Snapshot();
                                    throw new GcCollectionFailedException(
                                        $"Concurrent compaction failed: {Errno.Describe(err)} in {UffdCompactor.OpName(snap.ErrorOp)} at 0x{snap.ErrorAddr:x}; the verifier then saw: {e.Message}", e);
                                }

                                if (after != checksumBefore)
                                {
                                    throw new GcCollectionFailedException($"Verifier: the object graph changed across the flip (checksum {checksumBefore:x16} before, {after:x16} after).");
                                }
                            }
                        }
                    }, abandonable: true);
                }
                catch (GcSafepointTimeoutException e)
                {
                    abandoned = e; // nothing done: undone below like a fallback, then the cycle is dropped
                }
            }

            if (begun)
            {
                compactor!.Resumed();
                _running = compactor;
                TestHooks.AfterFlip?.Invoke();
                RebuildIds();
                native = compactor.WaitForCompletion((op, a) => Describe(op, a, from, to));
                stalls = compactor.StallPercentiles(_heap.Options.StallSampleCapacity, _heap.Options.RecordFaultStallSamples);
            }

            // Only the next cycle and the verifier read these; writing them after compaction keeps
            // this thread off the CPU while the native collector serves faults. A plan that was
            // not carried out (abandoned, or falling back to stop-the-world) must leave to-space's
            // page kinds alone: stale kinds of pages never installed misparse to-space later
            // (found by the stress command: the verifier looped on an abandoned flip's kinds).
            if (abandoned is null && fallback is null)
            {
                _plan.WriteToSpaceKinds();
            }
        }
        finally
        {
            // To-space is unregistered while the fault thread still reads the uffd: with
            // UFFD_FEATURE_EVENT_FORK a fork (or an madvise) of registered to-space blocks until
            // its event is read, so the reader must outlive the registration.
            if (begun)
            {
                compactor!.WaitQuietly();
            }

            if (registeredPages > 0)
            {
                // After a failure the native collector has unregistered already (to wake blocked threads).
                unregisterRc = NativeMethods.UffdUnregister(_heap.Uffd!.Fd, (ulong)to.PageAddress(to.NurseryPages), (ulong)(registeredPages - to.NurseryPages) << 12);
            }

            if (compactor is not null)
            {
                events = compactor.Quiesce();
                LastEvents = events;
            }

            CompactionRange = default;
            _running = null;

            compactor?.Dispose();
        }

        if (unregisterRc != 0)
        {
            throw new GcNativeException("UFFDIO_UNREGISTER of to-space", unregisterRc);
        }

        if (events.Destructive > 0)
        {
            // Read after the compaction's last page, or while the cycle was being called off: the
            // heap's to-space was discarded, unmapped or moved by other code all the same.
            throw new GcCollectionFailedException(
                $"Other code discarded, unmapped or moved the heap's to-space during the collection ({events}). The heap cannot be used any more.");
        }

        if (abandoned is not null)
        {
            from.OpenNursery(); // still the allocation space
            _bitmap.Clear(Math.Max(hwMark, hwFlip));
            _plan.Clear();
            throw abandoned;
        }

        if (fallback is not null)
        {
            // Forget this cycle's marks and plan (they describe the heap at mark start, and dead
            // objects among them may refer to objects allocated since), and collect stop-the-world.
            from.OpenNursery();
            _bitmap.Clear(Math.Max(hwMark, hwFlip));
            _plan.Clear();
            _fallbackReason = $"{backend} could not start its concurrent compaction ({fallback}); this cycle ran stop-the-world";
            Trace.TraceWarning("GcHeap: " + _fallbackReason);
            Interlocked.Increment(ref _stopTheWorldFallbacks);
            return RunStopTheWorld(cycle, reason);
        }

        RebuildIds(); // when nothing was live (no compactor ran)
        SetPhase(CollectionPhase.Finishing);
        long live = _marker.BytesMarked, objects = _marker.ObjectsMarked;
        int toPagesAfter = _plan.ToPages;
        FinishCycle(from, hwFlip);
        if (_heap.Options.VerifyHeap)
        {
            Pause(PauseKind.Verify, () =>
            {
                lock (_heap.Handles.GlobalLock)
                {
                    VerifyOrThrow(to, null, "after concurrent compaction");
                }
            });
            verified = true;
        }

        return BuildStats(cycle, reason, backend, concurrentMark, t0, markMs, planMs, hwFlip, toPagesAfter, live, objects, native, stalls, verified, events);
    }

    /// <summary>Cycles of a concurrent backend that ran stop-the-world because a step before the flip failed transiently.</summary>
    public long StopTheWorldFallbacks => Interlocked.Read(ref _stopTheWorldFallbacks);

    /// <summary>EAGAIN (no thread could be created) and ENOMEM (the kernel is short of memory): worth another try next cycle.</summary>
    private static bool IsTransient(GcNativeException e) => e.Errno is Errno.EAGAIN or Errno.ENOMEM;

    private string Describe(int op, nint address, Space from, Space to) => op switch
    {
        11 => CorruptionReport.DescribeSource(address, from, _bitmap, _plan, _heap.Types),
        1 or 2 or 3 => DescribeToSpacePresence(address, to),
        _ => CorruptionReport.DescribeSlot(address, from, to, _bitmap, _plan, _heap.Types),
    };

    /// <summary>
    /// An install found its destination present (EEXIST): which to-space pages are present though
    /// the plan never installed them, as the kernel sees them (zero page, exclusive anonymous, THP).
    /// </summary>
    private string DescribeToSpacePresence(nint address, Space to)
    {
        int pages = Math.Max(CompactionRange.RegisteredPages + to.NurseryPages, _plan.ToPages);
        byte* state = _plan.ToState;
        int planned = _plan.ToPages;
        return $"{DescribeAddress(address, _heap.OtherSpace(to), to)}; registered {CompactionRange.RegisteredPages} pages, " +
               PageMapProbe.DescribeUnexpected(to.Base, pages, p => p < to.NurseryPages || (p < planned && state[p] == NativeConstants.PageInstalled));
    }

    private string DescribeAddress(nint a, Space from, Space to)
    {
        Space? s = from.Contains(a) ? from : to.Contains(a) ? to : null;
        if (s is null)
        {
            return $"0x{a:x} outside both spaces";
        }

        int p = s.PageOf(a);
        string plan = s == from && p < _plan.FromPages
            ? $", class {_plan.FromClass[p]} dest {_plan.FromDest[p]} aux 0x{_plan.FromAux[p]:x} split {_plan.FromSplit[p]}, marked {_bitmap.IsSet((ulong)(a - from.Base) >> 3)}"
            : s == to && p < _plan.ToPages ? $", to-kind {_plan.ToKind[p]} src {_plan.ToSrc[p]} state {_plan.ToState[p]}" : string.Empty;
        return $"0x{a:x} in {(s == from ? "from" : "to")}-space {s.Name} page {p} offset {a - s.PageAddress(p)} kind {s.Kinds[p]}{plan} (hwMark/flip from {from.HighWater}, to hw {to.HighWater})";
    }

    [MethodImpl(CollectorCode.OptimizeOnce)]
    private void Step(ref long since, string name, long count = -1)
    {
        _pauseSteps.Add((name, Ms(since), count));
        since = Stopwatch.GetTimestamp();
    }

    /// <summary>Marks from the roots and plans pages [0, pages) with the world stopped; returns both times in ms.</summary>
    private (double MarkMs, double PlanMs) MarkAndPlanStopped(Space from, Space to, int pages, RootSet roots)
    {
        long t = Stopwatch.GetTimestamp();
        _marker.Begin(from, pages);
        GreyRoots(roots);
        _marker.Drain();
        double markMs = Ms(t);
        t = Stopwatch.GetTimestamp();
        _plan.Reset(from, to);
        _planner.Begin(_plan, _heap.Options.DensePageThreshold);
        _planner.Plan(0, pages, black: false);
        return (markMs, Ms(t));
    }

    [MethodImpl(CollectorCode.OptimizeOnce)]
    private void ConcurrentMark()
    {
        long budget = TestHooks.AfterScan is null ? 8192 : 1;
        while (true)
        {
            bool stackEmpty = _marker.Drain(budget);
            TestHooks.AfterScan?.Invoke(_marker.ObjectsScanned);
            bool tookLog = DrainSatb();
            if (stackEmpty && !tookLog && _marker.IsEmpty)
            {
                return;
            }
        }
    }

    /// <summary>
    /// Starts marking without stopping the world (<see cref="HeapOptions.MarkStartHandshake"/>), in
    /// two handshake rounds; returns the first black page.
    /// <list type="number">
    /// <item>The barrier goes on in every thread, now in its hybrid form (old and new values
    /// logged; global roots shade theirs). The round makes sure no thread is still in the middle
    /// of a store that read the barrier off: each one's next poll ends that store.</item>
    /// <item>Only then does allocation turn black: pages handed out from now on are live by
    /// definition. The collector greys the global roots (their writes are barriered from here, so
    /// one scan is enough), and each thread, at its next poll, retires its allocation buffer (so
    /// its later objects are black) and logs its local handles for the marker. Marking runs while
    /// the round waits.</item>
    /// </list>
    /// Why threads greyed one at a time need no rescan: after round 1 every reference store
    /// shades both the value it overwrites and the value it stores (Go's hybrid barrier). A
    /// thread's handles and views are its stack: before its greying they are scanned then; after,
    /// a reference it reads into them came from a reachable object, and the only ways for it to
    /// become unreachable from everywhere else are overwrites, which are logged; a reference it
    /// stores anywhere is logged as it is stored. Views die at the poll that greys the thread.
    /// Objects a thread allocates in its old buffer before its greying are ordinary (white)
    /// objects, traced if reachable. Doing this with the old value alone (the pause's barrier)
    /// loses objects: a greyed thread reads X.f into a handle, a thread not yet at its poll
    /// overwrites X.f unlogged, and the object lives only in a handle nobody rescans.
    /// </summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    private int StartMarkingByHandshakes(Space from)
    {
        lock (_heap.Weak.Lock)
        {
            _heap.Weak.MarkingActive = true;
        }

        lock (_heap.Handles.GlobalLock)
        {
            _heap.Handles.MarkingBarrier = true;
        }

        SetBarrier(true, shadeNew: true);
        var barrier = _heap.Safepoints.Handshake(static _ => { }, _heap.Options.SafepointTimeout, throwOnTimeout: true, whileWaiting: static () => { });
        RecordHandshake(HandshakeKind.MarkStartBarrier, barrier);

        // Pages taken from here on are black: above hwMark, or nursery pages from _nurseryMark on
        // (the nursery's cursor and the high-water mark only grow, so each read splits its pages).
        _nurseryMark = from.NurseryTaken;
        int hwMark = from.HighWater;
        _marker.Begin(from, hwMark, _nurseryMark);
        long roots = 0;
        lock (_heap.Handles.GlobalLock)
        {
            nint* slots = _heap.Handles.Slots;
            for (int s = 1, end = _heap.Handles.GlobalHigh; s < end; s++)
            {
                _marker.Grey(slots[s]);
                roots++;
            }
        }

        TestHooks.BeforeMarkStartRoots?.Invoke();
        var threads = _heap.Safepoints.Handshake(
            static m =>
            {
                m.RetireAllocationBuffer();
                m.LogLocalRoots();
            },
            _heap.Options.SafepointTimeout, throwOnTimeout: true,
            whileWaiting: () =>
            {
                DrainSatb();
                if (TestHooks.AfterScan is null)
                {
                    _marker.Drain(8192); // marking starts while the round waits (tests that count scans step it themselves)
                }

                TestHooks.WhileMarkStartRootsWait?.Invoke();
            });
        RecordHandshake(HandshakeKind.MarkStartRoots, threads);
        return hwMark;
    }

    /// <summary>A stop or handshake before the flip gave up: nothing has moved; drop the marks and turn every barrier off. Logs written meanwhile hold addresses of objects that stay where they are; the next mark start discards them.</summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    private void AbandonMarking(int hwMark)
    {
        SetBarrier(false, shadeNew: false);
        lock (_heap.Weak.Lock)
        {
            _heap.Weak.EndMarking();
        }

        lock (_heap.Handles.GlobalLock)
        {
            _heap.Handles.EndMarking();
        }

        _bitmap.Clear(Math.Max(hwMark, _heap.AllocationSpace.HighWater));
        _heap.AllocationSpace.OpenNursery(); // nothing moved: allocation goes on in this space
    }

    /// <summary>
    /// Ends marking without stopping the world (<see cref="HeapOptions.MarkEndHandshake"/>), by
    /// rounds of handshakes: each round starts with the marker's stack and the published logs
    /// empty, then every thread hands its barrier log over (itself at its next poll, or the
    /// coordinator for a thread that is not running) while the collector traces what arrives. A
    /// round in which nothing new got marked ends marking.
    /// <para>Why a clean round cannot miss an object (snapshot-at-the-beginning): a mutator only
    /// reaches objects that were reachable at mark start (or allocated since, black). Suppose a
    /// thread logs an unmarked object W after its answer in a clean round. W was reachable at mark
    /// start, so until then some grey entry (the marker's stack, a published log, or a thread's
    /// unpublished log) led to W through unmarked objects. The marker's stack was empty and stayed
    /// so (nothing new was marked); a log published before its thread's answer was drained
    /// without marking anything; so the entry sat in the log of a thread that answered later,
    /// whose answer would have marked it. The first such log after any answer would need an
    /// earlier one: there is none. Weak loads break the premise (they reach objects marking may
    /// not have found), so they queue their target under the weak table's lock
    /// (<see cref="WeakTable.ReadKeepingAlive"/>), and the round only ends marking if greying that
    /// queue marks nothing new, in the same critical section that switches marking off for weak
    /// loads and clears the dead slots.</para>
    /// </summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    private void FinishMarkingByHandshakes()
    {
        var weak = _heap.Weak;
        int round = 0;
        while (true)
        {
            ConcurrentMark();
            long marked = _marker.ObjectsMarked;
            round++;
            var outcome = _heap.Safepoints.Handshake(
                static m => m.FlushSatb(), _heap.Options.SafepointTimeout, throwOnTimeout: true,
                whileWaiting: () =>
                {
                    DrainSatb();
                    _marker.Drain();
                });
            RecordHandshake(HandshakeKind.MarkEnd, outcome);
            ConcurrentMark();
            TestHooks.AfterMarkEndRound?.Invoke(round, _marker.ObjectsMarked - marked);
            if (_marker.ObjectsMarked != marked && !TestHooks.SingleMarkEndRound)
            {
                continue;
            }

            lock (weak.Lock)
            {
                // Targets loaded since the round's last drain: grey them here, under the lock that
                // orders them against later loads. Already marked (a thread calling Get in a loop
                // keeps queueing the same live object) they change nothing and marking ends; one
                // newly marked needs tracing, and another round.
                long before = _marker.ObjectsMarked;
                if (!TestHooks.SingleMarkEndRound)
                {
                    foreach (nint a in weak.TakeKeptLocked())
                    {
                        _marker.Grey(a);
                    }
                }

                if (_marker.ObjectsMarked != before || !_marker.IsEmpty)
                {
                    continue;
                }

                weak.EndMarking();
                ClearDeadWeakRefsLocked();
            }

            break;
        }

        lock (_heap.Handles.GlobalLock)
        {
            _heap.Handles.EndMarking();
        }

        SetBarrier(false, shadeNew: false);
    }

    /// <summary>
    /// Ends marking in a pause (<see cref="HeapOptions.MarkEndHandshake"/> off): a soft handshake
    /// first hands most of the barrier logs over while mutators run (at 1 GiB live, up to 1.7 ms of
    /// draining inside the pause without it), then the pause drains the rest, rescans the roots,
    /// finishes marking and clears dead weak references.
    /// </summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    private void FinishMarkingInPause()
    {
        var outcome = _heap.Safepoints.Handshake(
            static m => m.FlushSatb(), TestHooks.SoftHandshakeTimeout, throwOnTimeout: false,
            whileWaiting: () =>
            {
                DrainSatb();
                _marker.Drain();
            });
        RecordHandshake(HandshakeKind.MarkEnd, outcome);
        TestHooks.AfterSoftHandshake?.Invoke(outcome.Threads, outcome.AnsweredByThreads);
        ConcurrentMark(); // what the answers logged

        Pause(PauseKind.MarkEnd, () =>
        {
            long step = Stopwatch.GetTimestamp();
            foreach (var m in _heap.Safepoints.Mutators)
            {
                m.FlushSatb();
            }

            DrainSatb();
            Step(ref step, "MarkEnd: drain the write barrier logs");
            lock (_heap.Handles.GlobalLock)
            {
                var roots = CaptureRoots();
                GreyRoots(roots);
                Step(ref step, "MarkEnd: rescan {0} roots", roots.Count);
            }

            _marker.Drain();
            Step(ref step, "MarkEnd: finish marking");
            SetBarrier(false, shadeNew: false);
            lock (_heap.Handles.GlobalLock)
            {
                _heap.Handles.EndMarking();
            }

            lock (_heap.Weak.Lock)
            {
                _heap.Weak.EndMarking();
                ClearDeadWeakRefsLocked();
            }

            Step(ref step, "MarkEnd: clear {0} dead weak references", _weakCleared);
        }, abandonable: true);
    }

    [MethodImpl(CollectorCode.OptimizeOnce)]
    private void RecordHandshake(HandshakeKind kind, Threads.HandshakeOutcome o)
    {
        var record = new HandshakeRecord(kind, o.Ms)
        {
            Threads = o.Threads,
            DoneByCollector = o.DoneByCoordinator,
            Unanswered = o.Unanswered,
            MaxHeldMs = o.MaxHeldMs,
            AwaitedThread = o.LastAwaited,
        };
        _handshakes.Add(record);
        Heap.Events.Handshake(record);
    }

    /// <summary>With the world stopped: drops every published and unpublished barrier log (their addresses are stale once objects move).</summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    private void DiscardBarrierLogs()
    {
        foreach (var m in _heap.Safepoints.Mutators)
        {
            m.DiscardSatb();
        }

        DiscardStaleSatb();
    }

    /// <summary>Drops logs left from an earlier cycle (none are expected: mark end drains them all).</summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    private void DiscardStaleSatb()
    {
        while (Satb.TryTake(out var buffer, out _))
        {
            Satb.Return(buffer);
        }
    }

    [MethodImpl(CollectorCode.OptimizeOnce)]
    private bool DrainSatb()
    {
        bool any = false;
        var kept = _heap.Weak.TakeKept();
        if (kept.Count > 0)
        {
            any = true;
            foreach (nint a in kept)
            {
                _marker.Grey(a);
            }
        }

        var shaded = _heap.Handles.TakeShaded();
        if (shaded.Count > 0)
        {
            any = true;
            foreach (nint a in shaded)
            {
                _marker.Grey(a);
            }
        }

        while (Satb.TryTake(out var buffer, out int count))
        {
            any = true;
            for (int i = 0; i < count; i++)
            {
                _marker.Grey(buffer[i]);
            }

            Satb.Return(buffer);
        }

        return any;
    }

    [MethodImpl(CollectorCode.OptimizeOnce)]
    private void SetBarrier(bool on, bool shadeNew)
    {
        lock (_heap.Safepoints.SyncRoot)
        {
            on &= !TestHooks.DisableWriteBarrier;
            shadeNew &= on && !TestHooks.DisableShadingNewValues;
            BarrierOn = on;
            BarrierShadesNew = shadeNew;
            foreach (var m in _heap.Safepoints.Mutators)
            {
                m.BarrierShadesNew = shadeNew;
                m.BarrierActive = on;
            }
        }
    }

    /// <summary>
    /// Stops the world, runs <paramref name="body"/> and resumes. An <paramref name="abandonable"/>
    /// pause (any up to the flip: nothing has moved) gives up after
    /// <see cref="HeapOptions.SafepointTimeout"/> with <see cref="GcSafepointTimeoutException"/>
    /// before its body runs; the caller undoes what the cycle did so far.
    /// </summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    private void Pause(PauseKind kind, Action body, bool abandonable = false)
    {
        // Only the flip may be given up and tried again (HeapOptions.FlipStopBudget): nothing is
        // done before its body runs, and once marking has ended its moment is free.
        var budget = kind == PauseKind.Flip ? _heap.Options.FlipStopBudget : Timeout.InfiniteTimeSpan;
        long t;
        TimeSpan dotnetPaused;
        StopResult stop;
        for (int attempt = 1; ; attempt++)
        {
            bool last = budget == Timeout.InfiniteTimeSpan || attempt >= MaxFlipStopAttempts;
            t = Stopwatch.GetTimestamp();
            dotnetPaused = GC.GetTotalPauseDuration();
            stop = _heap.Safepoints.StopTheWorld(_heap.Options.SafepointTimeout, abandonable, last ? Timeout.InfiniteTimeSpan : budget);
            if (!stop.Abandoned)
            {
                break;
            }

            _stopsGivenUp++;
            _longestGivenUpMs = Math.Max(_longestGivenUpMs, Stopwatch.GetElapsedTime(t, stop.ReleasedTimestamp).TotalMilliseconds);
            TestHooks.FlipStopGivenUp?.Invoke(attempt);
            Thread.Sleep(Math.Min(attempt, 10)); // the threads run meanwhile
        }

        dotnetPaused = GC.GetTotalPauseDuration() - dotnetPaused;
        _dotnetGcDuringStopsMs += dotnetPaused.TotalMilliseconds;

        _pauseSteps.Add(dotnetPaused == TimeSpan.Zero
            ? (StopStepNames[(int)kind], Ms(t), -1)
            : (StopDuringDotnetGcStepNames[(int)kind], Ms(t), (long)dotnetPaused.TotalMicroseconds));
        var dotnetPausedBefore = GC.GetTotalPauseDuration();
        try
        {
            body();
        }
        catch (Exception e)
        {
            _heap.Fault(e); // before resuming: mutators must not run on a half-updated heap
            throw;
        }
        finally
        {
            long r = Stopwatch.GetTimestamp();
            var dotnetInside = GC.GetTotalPauseDuration() - dotnetPausedBefore;
            if (dotnetInside > TimeSpan.Zero)
            {
                // A .NET GC (another thread's allocation, or this pause's) suspended this thread
                // inside the pause: its steps then look slow for no reason of their own.
                _dotnetGcDuringStopsMs += dotnetInside.TotalMilliseconds;
                _pauseSteps.Add((DotnetGcInsideStepNames[(int)kind], dotnetInside.TotalMilliseconds, -1));
            }

            long released = _heap.Safepoints.ResumeTheWorld();
            _pauseSteps.Add((ResumeStepNames[(int)kind], Stopwatch.GetElapsedTime(r, released).TotalMilliseconds, -1));
            string? awaited = stop.LastAwaited; // formats: only now that the world runs again
            if (stop.WaitMs >= _maxStopWaitMs)
            {
                _maxStopWaitMs = stop.WaitMs;
                _maxStopAwaited = awaited;
            }

            var record = new PauseRecord(kind, Stopwatch.GetElapsedTime(t, released).TotalMilliseconds)
            {
                TimeToSafepointMs = stop.WaitMs,
                StopperHandoff = stop.HandedCpu,
                StartTimestamp = t,
                AwaitedThread = awaited,
                AwaitedOsThreadId = stop.LastAwaitedOsThreadId,
            };
            _pauses.Add(record);
            Heap.Events.Pause(record);
        }
    }

    [MethodImpl(CollectorCode.OptimizeOnce)]
    private void RetireAllocationBuffers()
    {
        foreach (var m in _heap.Safepoints.Mutators)
        {
            m.RetireAllocationBuffer();
        }
    }

    private RootSet CaptureRoots() => RootSet.Capture(_heap.Handles, _heap.Safepoints.Mutators);

    [MethodImpl(CollectorCode.OptimizeOnce)]
    private void GreyRoots(RootSet roots)
    {
        nint* slots = _heap.Handles.Slots;
        foreach (var (first, end) in roots.Ranges)
        {
            for (int s = first; s < end; s++)
            {
                _marker.Grey(slots[s]);
            }
        }
    }

    [MethodImpl(CollectorCode.OptimizeOnce)]
    private void ForwardRoots(RootSet roots)
    {
        nint* slots = _heap.Handles.Slots;
        foreach (var (first, end) in roots.Ranges)
        {
            int rc = NativeMethods.ForwardSlots(_nativePlan, (ulong*)(slots + first), (ulong)(end - first), out ulong bad);
            if (rc != 0)
            {
                throw new GcCollectionFailedException($"Root slot {first + (long)bad} holds 0x{slots[first + (long)bad]:x}, which is not a live object.");
            }
        }
    }

    [MethodImpl(CollectorCode.OptimizeOnce)]
    private void Register(Space to, int firstPage, int endPage)
    {
        // Continue registers MINOR for pages in the page cache (built, or being built) and MISSING
        // for holes (not built yet): with MINOR alone a touch of a hole would silently allocate a
        // zero page that building then fills under the mutator's eyes.
        ulong mode = _heap.Backend == GcBackend.Continue
            ? NativeConstants.RegisterModeMissing | NativeConstants.RegisterModeMinor
            : NativeConstants.RegisterModeMissing;
        int rc = NativeMethods.UffdRegister(_heap.Uffd!.Fd, (ulong)to.PageAddress(firstPage), (ulong)(endPage - firstPage) << 12, mode, out ulong ioctls);
        Errno.ThrowIfFailed(rc, "UFFDIO_REGISTER of to-space");
        int needed = _heap.Backend switch { GcBackend.Move => 0x05, GcBackend.Continue => 0x07, _ => 0x03 };
        if ((ioctls & (1UL << needed)) == 0)
        {
            throw new GcCollectionFailedException($"The registered to-space range does not offer ioctl {needed} (ioctls 0x{ioctls:x}).");
        }
    }

    /// <summary>
    /// Every page the compactor will install must be missing: a present page (even the shared
    /// zero page) would be read without a fault and refused by MOVE/COPY with EEXIST.
    /// </summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    private static void CheckToSpaceEmpty(Space to, int pages)
    {
        for (int p = to.NurseryPages; p < pages; p++)
        {
            int rc = NativeMethods.MemResidentPages((ulong)to.PageAddress(p), 4096, out ulong resident);
            if (rc == 0 && resident != 0)
            {
                throw new GcCollectionFailedException($"Verifier: to-space {to.Name} page {p} is already present before the flip (header 0x{*(ulong*)to.PageAddress(p):x16}).");
            }
        }
    }

    /// <summary>Registration covers whole install units: 2 MiB pages on hugetlbfs (Continue), else any page count.</summary>
    private int RoundUpToUnit(int pages) => Math.Min(_heap.CapacityPages, (pages + _heap.RegistrationUnitPages - 1) / _heap.RegistrationUnitPages * _heap.RegistrationUnitPages);

    private NativeCompactorConfig CompactorConfig(GcBackend backend, Space to) => _heap.UnitPages > 1 ? HugePageConfig(CompactorConfigFor(backend, to)) : ForHugeBlocks(CompactorConfigFor(backend, to));

    /// <summary>
    /// Continue on hugetlbfs: a 2 MiB page is the unit of install, of a fault's window and of a
    /// sweeper's chunk alignment; from-space is zeroed at the end of the cycle rather than given back
    /// while compacting (punching a hugetlbfs hole gives the reservation back too).
    /// </summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    private static NativeCompactorConfig HugePageConfig(NativeCompactorConfig c)
    {
        const uint Unit = NativeConstants.HugePagePages;
        c.UnitPages = Unit;
        c.FaultAroundPages = Unit;
        c.BatchPages = Math.Max(Unit, (c.BatchPages + Unit - 1) / Unit * Unit);
        c.ReleaseChunkPages = 0;
        return c;
    }

    private NativeCompactorConfig CompactorConfigFor(GcBackend backend, Space to) => new()
    {
        Uffd = _heap.Uffd!.Fd,
        InstallMode = backend switch
        {
            GcBackend.Move => NativeConstants.InstallMove,
            GcBackend.Continue => NativeConstants.InstallContinue,
            _ => NativeConstants.InstallCopy,
        },
        CollectorView = backend == GcBackend.Continue ? (ulong)to.CollectorBase : 0,
        BatchPages = (uint)_heap.Options.BatchPages,
        Workers = (uint)_heap.Options.CompactorThreads,
        FaultAroundPages = (uint)_heap.Options.FaultAroundPages,
        StallSampleCapacity = (uint)_heap.Options.StallSampleCapacity,
        DontFork = _heap.Options.DontForkHeap ? 1u : 0u,
        SweepDelayMicros = (uint)Math.Max(0, _heap.Options.SweepDelayMicros),
        CheckForwarding = _heap.Options.VerifyHeap ? 1u : 0u,
        ThreadNice = _heap.Options.CollectorThreadNice,
        CopyFaultedPages = _heap.Options.CopyFaultedPages ? 1u : 0u,
        PackedPagesByCopy = _heap.Options.PackedPagesByCopy ? 1u : 0u,
        MinMovePages = (uint)_heap.Options.MinMovePages,
        ReleaseChunkPages = (uint)_heap.Options.SourceReleaseChunkPages,
        HugeBlocks = HugeBlocks(backend) ? 1u : 0u,
    };

    /// <summary>Move on transparent huge pages: aligned whole 2 MiB blocks are planned and moved by PMD.</summary>
    private bool HugeBlocks(GcBackend backend) => backend == GcBackend.Move && _heap.TransparentHugePages;

    /// <summary>With huge blocks a sweeper's chunk covers whole blocks and a fault window stays inside one.</summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    private static NativeCompactorConfig ForHugeBlocks(NativeCompactorConfig c)
    {
        if (c.HugeBlocks == 0)
        {
            return c;
        }

        const uint Block = NativeConstants.PmdPages;
        c.BatchPages = Math.Max(Block, (c.BatchPages + Block - 1) / Block * Block);
        c.FaultAroundPages = Math.Min(c.FaultAroundPages, Block);
        return c;
    }

    [MethodImpl(CollectorCode.OptimizeOnce)]
    private void VerifyOrThrow(Space space, ulong? expectedChecksum, string when)
    {
        var report = HeapVerifier.Verify(space, _heap.Handles, CaptureRoots(), _heap.Types);
        if (!report.IsValid)
        {
            throw new GcCollectionFailedException($"Verifier {when}: {report}");
        }

        if (expectedChecksum is ulong c && c != report.GraphChecksum)
        {
            throw new GcCollectionFailedException($"Verifier {when}: the object graph changed (checksum {c:x16} before, {report.GraphChecksum:x16} after).");
        }
    }

    [MethodImpl(CollectorCode.OptimizeOnce)]
    private void FinishCycle(Space from, int fromPages)
    {
        _heap.Prefaulter?.Drain(); // no populate may land in from-space after it is discarded
        _nurseryReused = from.Clear();
        _bitmap.Clear(fromPages);
        _plan.Clear();
    }

    private CollectionStats BuildStats(
        long cycle, CollectionReason reason, GcBackend backend, bool concurrentMark, long t0, double markMs, double planMs, int fromPages,
        int toPages, long live, long objects, in NativeCompactionStats n, (double P50, double P99, double Max, int Count, long[] Samples) stalls, bool verified,
        UffdEventCounts? events = null) => new()
    {
        Cycle = cycle,
        Backend = backend,
        Reason = reason,
        ConcurrentMarking = concurrentMark,
        Pauses = [.. _pauses],
        Handshakes = [.. _handshakes],
        PauseSteps = [.. _pauseSteps.Select(p => (p.Count < 0 ? p.Step : string.Format(CultureInfo.InvariantCulture, p.Step, p.Count), p.Ms))],
        CycleMs = Ms(t0),
        MarkMs = markMs,
        PlanMs = planMs,
        CompactMs = n.WallNs / 1e6,
        CollectorCpuMs = n.CpuNs / 1e6,
        HeapBytesBefore = (long)(fromPages - _heap.NurseryPages + _nurseryReused) * 4096, // the nursery's pages taken, and the rest up to the high-water mark
        HeapBytesAfter = (long)(toPages - _heap.NurseryPages) * 4096, // the plan's to-pages above the nursery's holes
        LiveBytes = live,
        LiveObjects = objects,
        PagesEmpty = _planner.PagesEmpty,
        PagesDense = _planner.PagesWhole,
        PagesSparse = _planner.PagesSparse,
        PagesLarge = _planner.PagesLarge,
        PagesBlack = _planner.PagesBlack,
        PagesInstalled = (long)n.PagesInstalled,
        PagesWhole = (long)n.PagesWhole,
        PagesCompacted = (long)n.PagesCompacted,
        PagesZeroCopy = (long)n.PagesZeroCopy,
        PagesCopied = (long)n.PagesCopied,
        EbusyFallbacks = (long)n.EbusyFallbacks,
        PagesZeroFilled = (long)n.PagesZeroFilled,
        Events = events ?? UffdEventCounts.None,
        Eexist = (long)n.Eexist,
        EagainRetries = (long)n.EagainRetries,
        Ioctls = (long)n.Ioctls,
        MoveIoctls = (long)n.MoveIoctls,
        CopyIoctls = (long)n.CopyIoctls,
        FaultsServed = (long)n.FaultsServed,
        FaultsOnPending = (long)n.FaultsOnPending,
        PagesFaultCopied = (long)n.PagesFaultCopied,
        PagesReleasedEarly = (long)n.PagesReleased,
        PagesMoved = (long)n.PagesMoved,
        PagesContinued = (long)n.PagesContinued,
        ContinueIoctls = (long)n.ContinueIoctls,
        PagesWholeCopied = (long)n.PagesWholeCopied,
        FaultsMinor = (long)n.FaultsMinor,
        ContinueMs = n.ContinueNs / 1e6,
        RunsMoved = (long)n.RunsMoved,
        PagesBridged = _planner.PagesBridged,
        PagesPackedShortRuns = _planner.PagesPackedShortRuns,
        PagesPmdMoved = (long)n.PagesPmdMoved,
        HugeBlocksMoved = (long)n.HugeBlocks,
        MovesMisreported = (long)n.MovesMisreported,
        PagesNurseryCopied = (long)n.PagesNurseryCopied,
        HugeBlocksPlanned = _planner.HugeBlocksPlanned,
        PagesHoles = _planner.PagesHoles,
        NurseryPagesReused = _nurseryReused,
        BuffersFresh = (long)n.BuffersFresh,
        BuildMs = n.BuildNs / 1e6,
        MoveMs = n.MoveNs / 1e6,
        CopyMs = n.CopyNs / 1e6,
        FaultServiceMs = n.FaultNs / 1e6,
        ReleaseMs = n.ReleaseNs / 1e6,
        PopulateMs = n.PopulateNs / 1e6,
        FaultsOnClaimed = (long)n.FaultsOnClaimed,
        CompactorThreads = (int)n.Workers,
        BytesPacked = (long)n.BytesCopied,
        RefsFixed = (long)n.RefsFixed,
        FaultStallP50Us = stalls.P50,
        FaultStallP99Us = stalls.P99,
        FaultStallMaxUs = stalls.Max,
        FaultStallSamples = stalls.Count,
        FaultStallSamplesNs = stalls.Samples,
        Verified = verified,
        MaxTimeToSafepointMs = _maxStopWaitMs,
        FlipStopsGivenUp = _stopsGivenUp,
        LongestGivenUpStopMs = _longestGivenUpMs,
        SafepointAwaitedThread = _maxStopAwaited,
        DotnetGcPauseDuringStopsMs = _dotnetGcDuringStopsMs,
        StopTheWorldFallbackReason = _fallbackReason,
        WeakReferencesCleared = _weakCleared,
        ObjectIdsKept = _idsKept,
        ObjectIdRekeyMs = _idsRekeyMs,
    };

    /// <summary>
    /// Marking is complete (world stopped): clears every weak reference whose target was not
    /// marked. Objects on pages allocated since marking began are live by definition.
    /// </summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    private void ClearDeadWeakRefs()
    {
        lock (_heap.Weak.Lock)
        {
            ClearDeadWeakRefsLocked();
        }
    }

    /// <summary>Under the weak table's lock: <see cref="ClearDeadWeakRefs"/>.</summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    private void ClearDeadWeakRefsLocked()
    {
        var weak = _heap.Weak;
        long cleared = 0;
        nint* slots = weak.Slots;
        for (int i = 0, n = weak.High; i < n; i++)
        {
            nint a = slots[i];
            if (a != 0 && !_marker.IsLive(a))
            {
                slots[i] = 0;
                cleared++;
            }
        }

        _weakCleared += cleared;
    }

    /// <summary>Right after the roots (world stopped): forwards the weak slots, sets the identity table aside for its rebuild.</summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    private void ForwardWeakRefsAndIds()
    {
        var weak = _heap.Weak;
        lock (weak.Lock)
        {
            int rc = NativeMethods.ForwardSlots(_nativePlan, (ulong*)weak.Slots, (ulong)weak.High, out ulong bad);
            if (rc != 0)
            {
                throw new GcCollectionFailedException($"Weak reference slot {bad} holds 0x{weak.Slots[bad]:x}, which is not a live object.");
            }
        }

        _heap.Identity.SetAside();
        _idsSetAside = true;
    }

    /// <summary>Mutators running, plan and marks still valid: re-keys the identity table by the new addresses.</summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    private void RebuildIds()
    {
        if (!_idsSetAside)
        {
            return;
        }

        _idsSetAside = false;
        long t = Stopwatch.GetTimestamp();
        _idsKept = _heap.Identity.Rebuild(_marker.IsLive, _nativePlan);
        _idsRekeyMs = Ms(t);
        if (_heap.Identity.TakeFailure() is { } failure)
        {
            throw new GcCollectionFailedException("Heap corruption found while moving the identity table: " + failure + ".");
        }
    }
}
