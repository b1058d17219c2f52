using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using GcHeap.Collection;

namespace GcHeap.Threads;

/// <summary>What an attached mutator is doing, as far as the collector is concerned.</summary>
internal enum MutatorState
{
    /// <summary>May touch the heap; must reach a safepoint poll before the world can stop.</summary>
    Running,

    /// <summary>Stopped at a poll, waiting for the world to resume.</summary>
    Parked,

    /// <summary>In a safe region (blocked in .NET code): will not touch the heap until it leaves.</summary>
    Safe,

    /// <summary>Detached; no longer counted.</summary>
    Detached,
}

/// <summary>
/// The stop-the-world handshake. A stopper sets every mutator's poll flag and waits until each
/// one is parked at a poll, in a safe region, or detached. Mutators poll at the start of every
/// heap API call (one load of a field of their own), so a thread that keeps using the heap stops
/// within one call; a thread that blocks elsewhere must do so inside a safe region.
/// </summary>
internal sealed class SafepointCoordinator
{
    private static readonly TimeSpan SlowStopWarning = TimeSpan.FromSeconds(5);
    private readonly object _lock = new();
    private readonly List<Mutator> _mutators = [];

    /// <summary>Per stopping thread: the threads its last stop waited for last (<see cref="StopResult.Awaited"/>; valid until its next stop).</summary>
    [ThreadStatic]
    private static Mutator[]? t_awaited;

    /// <summary>The stop's spin reads this copy of <see cref="_mutators"/> (one stopper at a time; reused: no allocation per stop).</summary>
    private Mutator[] _spinOver = new Mutator[8];
    private bool _stopped;
    private bool _stopping;
    private bool _terminated;
    private long _stopStart;
    private int _stopper;

    private readonly StopperHandoff _handoff;

    /// <param name="stopperHandoff"><see cref="HeapOptions.StopperHandoff"/>.</param>
    public SafepointCoordinator(bool stopperHandoff = true)
    {
        _handoff = new StopperHandoff(stopperHandoff);
    }

    /// <summary>Stops in which the thread completing the stop handed its CPU to the sleeping stopper (<see cref="StopperHandoff"/>).</summary>
    public long StopperHandoffs
    {
        get
        {
            lock (_lock)
            {
                return _handoff.Handoffs;
            }
        }
    }

    /// <summary>The stopper's list of the threads it still waits for (reused: no allocation per stop).</summary>
    private readonly List<Mutator> _lastAwaited = [];

    /// <summary>Pause instructions per check of the stop's spin (~0.1-1 us here).</summary>
    private const int SpinIterations = 20;

    public object SyncRoot => _lock;

    /// <summary>True between <see cref="StopTheWorld()"/> and <see cref="ResumeTheWorld"/>.</summary>
    public bool IsStopped
    {
        get
        {
            lock (_lock)
            {
                return _stopped;
            }
        }
    }

    /// <summary>
    /// Once set (heap disposed), every poll throws. Written under the lock, never cleared, read
    /// without it: every scope close asks (taking the lock there cost ~14 ns per scope).
    /// </summary>
    public bool Terminated => Volatile.Read(ref _terminated);

    /// <summary>Snapshot of the attached mutators; only meaningful while the world is stopped.</summary>
    public List<Mutator> Mutators
    {
        get
        {
            lock (_lock)
            {
                return [.. _mutators];
            }
        }
    }

    /// <summary>Raised (on the stopping thread, holding the handshake's lock) with the threads that keep a stop waiting unusually long, and their states.</summary>
    public event Action<string>? SlowStop;

    public void Register(Mutator m)
    {
        lock (_lock)
        {
            if (_terminated)
            {
                throw new GcHeapDisposedException("GcHeap");
            }

            _mutators.Add(m);
            m.State = MutatorState.Running;
            RefreshPollFlag(m);
        }
    }

    /// <summary>
    /// Detaches <paramref name="m"/>. Waits out a stop in progress first (parking the mutator if it
    /// is running), so the collector never sees a mutator release its handles mid-pause.
    /// </summary>
    public void Unregister(Mutator m, Action<bool> detachCore)
    {
        lock (_lock)
        {
            while ((_stopped || _stopping) && !_terminated)
            {
                if (m.State == MutatorState.Running)
                {
                    m.State = MutatorState.Parked;
                }

                Monitor.PulseAll(_lock);
                Monitor.Wait(_lock);
            }

            detachCore(!_terminated);
            _mutators.Remove(m);
            m.State = MutatorState.Detached;
            RefreshPollFlag(m);
            Monitor.PulseAll(_lock);
        }
    }

    /// <summary>A mutator that will throw on every call from now on counts as stopped.</summary>
    public void MarkDead(Mutator m)
    {
        m.ViewEpoch++;
        lock (_lock)
        {
            if (m.State == MutatorState.Running)
            {
                m.State = MutatorState.Parked;
                Monitor.PulseAll(_lock);
            }
        }
    }

    /// <summary>Stops every mutator except the caller's own (if any). Returns when all are stopped.</summary>
    public StopResult StopTheWorld() => StopTheWorld(Timeout.InfiniteTimeSpan, abandonable: false);

    /// <summary>
    /// Stops every mutator except the caller's own (if any) and says how long that took and which
    /// thread it waited for last. A stop that has waited <paramref name="timeout"/> raises
    /// <see cref="SlowStop"/> naming the threads it waits for (after at most 5 s in any case) and,
    /// when <paramref name="abandonable"/>, gives up: the world resumes and
    /// <see cref="GcSafepointTimeoutException"/> names them.
    /// </summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    public StopResult StopTheWorld(TimeSpan timeout, bool abandonable) => StopTheWorld(timeout, abandonable, Timeout.InfiniteTimeSpan);

    /// <summary>
    /// As <see cref="StopTheWorld(TimeSpan, bool)"/>, but an attempt not complete after
    /// <paramref name="attemptBudget"/> is given up quietly: the threads already parked are
    /// released and the result says <see cref="StopResult.Abandoned"/> (for a stop whose moment
    /// does not matter, such as a snapshot's, which then tries again: no thread is held longer
    /// than the budget while another's CPU is taken away).
    /// </summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    public StopResult StopTheWorld(TimeSpan timeout, bool abandonable, TimeSpan attemptBudget)
    {
        t_awaited ??= new Mutator[4]; // before the stop: its one allocation per stopping thread
        lock (_lock)
        {
            while (_stopping || _stopped)
            {
                Monitor.Wait(_lock); // one stopper at a time
            }

            _stopping = true;
            _stopper = Environment.CurrentManagedThreadId;
            long start = Stopwatch.GetTimestamp();
            Volatile.Write(ref _stopStart, start);
            foreach (var m in _mutators)
            {
                m.PollFlag = 1;
            }

            // Mutators poll at every heap call, so they usually park within microseconds: spin a
            // little with the lock released before sleeping, so that the stop does not also pay
            // for waking this thread up. The spin never yields: a sched_yield hands this CPU to
            // whatever else is runnable here (the runtime's JIT worker, the prefault thread) for
            // a whole time slice, and the stop then noticed threads parked within 150 us only
            // milliseconds later (docs/design.md section 7). The spin reads a copy of the list: a thread
            // attaching or detaching meanwhile changes the list itself (enumerating it here threw
            // "Collection was modified" in the collector, failing the heap: found by the stress
            // command), and one that attaches now is seen under the lock below.
            // The copy goes into a buffer kept across stops: an allocation here can be the one
            // that starts a .NET collection, which then runs inside this stop (one suspended the
            // process for 4-7 ms in the snapshot runs, docs/results/2026-12-07/snapshot-first-gc/).
            int count = _mutators.Count;
            if (_spinOver.Length < count)
            {
                _spinOver = new Mutator[Math.Max(count, 2 * _spinOver.Length)];
            }

            _mutators.CopyTo(_spinOver);
            Monitor.Exit(_lock);
            try
            {
                var spinOver = new ReadOnlySpan<Mutator>(_spinOver, 0, count);
                long spinUntil = start + (Stopwatch.Frequency / 10_000); // 100 us
                while (AnyAwaited(spinOver) && Stopwatch.GetTimestamp() < spinUntil)
                {
                    Thread.SpinWait(SpinIterations);
                }
            }
            finally
            {
                Monitor.Enter(_lock);
                Array.Clear(_spinOver, 0, count); // no detached thread kept alive by the buffer
            }

            TimeSpan warnAfter = timeout == Timeout.InfiniteTimeSpan || timeout > SlowStopWarning ? SlowStopWarning : timeout;
            bool warned = false;
            // The threads still awaited are collected without LINQ or strings: the first slow stop
            // of a process otherwise compiled the generic code for them while a parked thread
            // waited (~0.8 ms in one trace); the names are joined once, after the stop.
            if (AnyRunning())
            {
                _handoff.StopperSleeps();
            }

            while (AnyRunning())
            {
                _lastAwaited.Clear();
                foreach (var m in _mutators)
                {
                    if (IsAwaited(m))
                    {
                        _lastAwaited.Add(m);
                    }
                }

                TimeSpan waited = Stopwatch.GetElapsedTime(start);
                if (!warned && waited > warnAfter)
                {
                    warned = true;
                    SlowStop?.Invoke(string.Join("; ", Snapshot().Awaited.Select(SafepointStatus.Describe)));
                }

                if (attemptBudget != Timeout.InfiniteTimeSpan && waited > attemptBudget)
                {
                    GiveUpStop();
                    return new StopResult(waited.TotalMilliseconds, null, 0) { Abandoned = true, ReleasedTimestamp = Stopwatch.GetTimestamp() };
                }

                if (abandonable && timeout != Timeout.InfiniteTimeSpan && waited > timeout)
                {
                    var awaited = Snapshot().Awaited.ToList();
                    GiveUpStop();
                    throw new GcSafepointTimeoutException(
                        $"The stop-the-world handshake gave up after {waited.TotalMilliseconds:F0} ms (HeapOptions.SafepointTimeout {timeout.TotalMilliseconds:F0} ms) " +
                        $"waiting for {string.Join("; ", awaited.Select(SafepointStatus.Describe))}: a thread that blocks or computes for long outside heap calls " +
                        "must do it inside Mutator.EnterSafeRegion. Nothing was done; the heap is usable.")
                    {
                        Awaited = awaited,
                        Waited = waited,
                    };
                }

                int napMs = 100; // woken by a thread that parks; the nap bounds a missed wake-up
                if (attemptBudget != Timeout.InfiniteTimeSpan)
                {
                    napMs = Math.Clamp((int)Math.Ceiling((attemptBudget - waited).TotalMilliseconds), 1, napMs);
                }

                Monitor.Wait(_lock, napMs);
            }

            _stopping = false;
            _stopped = true;
            double waitMs = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
            bool handedOver = _handoff.StopperAwake();
            // The world is stopped from here: the names are joined by the caller after it resumes
            // (a first join of two names compiled generic code here, and waited for a runtime lock
            // the JIT worker held: 1.2 ms of one traced flip).
            // Copied into this stopping thread's own buffer, not a new array: an allocation inside
            // the pause can start a .NET collection there (docs/results/2026-12-07/snapshot-first-gc/:
            // a snapshot's increment paused 4.6 ms, 4.0 of it a gen0 its stopper started).
            int awaitedCount = _lastAwaited.Count;
            Mutator[]? awaitedBuffer = null;
            if (awaitedCount > 0)
            {
                awaitedBuffer = t_awaited!;
                if (awaitedBuffer.Length < awaitedCount)
                {
                    awaitedBuffer = t_awaited = new Mutator[2 * awaitedCount]; // more threads awaited than ever before on this thread: rare
                }

                _lastAwaited.CopyTo(awaitedBuffer);
            }

            _lastAwaited.Clear();

            // Threads that ended without detaching: drop them (their handles die with them).
            for (int i = _mutators.Count - 1; i >= 0; i--)
            {
                var m = _mutators[i];
                if (!m.OwnerThread.IsAlive && m.State != MutatorState.Detached)
                {
                    m.DetachCore(releaseHandles: true);
                    m.State = MutatorState.Detached;
                    _mutators.RemoveAt(i);
                }
            }

            return new StopResult(waitMs, awaitedBuffer, awaitedCount, handedOver);
        }
    }

    /// <summary>Ends a stop that is not complete (under the lock): the threads that parked for it go on; nothing was stopped.</summary>
    private void GiveUpStop()
    {
        _lastAwaited.Clear();
        _ = _handoff.StopperAwake();
        _stopping = false;
        foreach (var m in _mutators)
        {
            RefreshPollFlag(m);
        }

        Monitor.PulseAll(_lock);
    }

    /// <summary>The handshake's state right now; null when its lock could not be taken within <paramref name="wait"/>.</summary>
    public SafepointStatus? TryGetStatus(TimeSpan wait)
    {
        if (!Monitor.TryEnter(_lock, wait))
        {
            return null;
        }

        try
        {
            return Snapshot();
        }
        finally
        {
            Monitor.Exit(_lock);
        }
    }

    /// <summary>Called under the lock.</summary>
    private SafepointStatus Snapshot()
    {
        var list = new List<MutatorStatus>(_mutators.Count);
        foreach (var m in _mutators)
        {
            bool alive = m.OwnerThread.IsAlive;
            var state = m.State switch
            {
                MutatorState.Running => MutatorThreadState.Running,
                MutatorState.Parked => MutatorThreadState.Parked,
                MutatorState.Safe => MutatorThreadState.InSafeRegion,
                _ => MutatorThreadState.Detached,
            };
            bool awaited = (_stopping && HoldsUpStop(m)) ||
                           (_handshakeOperation is not null && IsAwaitedByHandshake(m));
            list.Add(new MutatorStatus(m.Name, m.OwnerThread.ManagedThreadId, state, alive, awaited));
        }

        double waitMs = _stopping ? Stopwatch.GetElapsedTime(Volatile.Read(ref _stopStart)).TotalMilliseconds : 0;
        bool handshaking = _handshakeOperation is not null;
        return new SafepointStatus(_stopping, _stopped, waitMs, list)
        {
            Handshaking = handshaking,
            HandshakeWaitMs = handshaking ? Stopwatch.GetElapsedTime(_handshakeStart).TotalMilliseconds : 0,
        };
    }

    /// <summary>
    /// Stops the world only if no mutator is attached, so that nobody waits (the collector's
    /// warm-up); false, and nothing stopped, otherwise. Release with <see cref="ResumeTheWorld"/>.
    /// </summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    public bool TryStopTheWorldUnattended()
    {
        lock (_lock)
        {
            if (_mutators.Count != 0 || _stopping || _stopped || _terminated)
            {
                return false;
            }

            _stopped = true;
            return true;
        }
    }

    /// <summary>Releases the mutators; returns the timestamp of the release (when the pause ended for them).</summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    public long ResumeTheWorld()
    {
        lock (_lock)
        {
            long released = Stopwatch.GetTimestamp();
            _stopped = false;
            foreach (var m in _mutators)
            {
                RefreshPollFlag(m);
            }

            Monitor.PulseAll(_lock);
            return released;
        }
    }

    /// <summary>Stops the world for good: every later poll throws <see cref="GcHeapDisposedException"/>.</summary>
    public void Terminate()
    {
        lock (_lock)
        {
            Volatile.Write(ref _terminated, true);
            foreach (var m in _mutators)
            {
                m.PollFlag = 1;
            }

            Monitor.PulseAll(_lock);
        }
    }

    /// <summary>Called by a mutator whose poll flag is set: parks while the world is stopped.</summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    public void Park(Mutator m)
    {
        m.ViewEpoch++; // the owner, before anything can move: its views die here even if the poll throws
        lock (_lock)
        {
            while ((_stopped || _stopping) && !_terminated && m.State == MutatorState.Running)
            {
                m.State = MutatorState.Parked;
                HandOverIfLast();
                Monitor.PulseAll(_lock);
                while ((_stopped || _stopping) && !_terminated)
                {
                    Monitor.Wait(_lock);
                }

                if (!_terminated)
                {
                    m.State = MutatorState.Running; // woken by termination it stays parked: its poll throws
                }
            }

            RefreshPollFlag(m);
        }
    }

    [MethodImpl(CollectorCode.OptimizeOnce)]
    public void EnterSafe(Mutator m)
    {
        m.ViewEpoch++; // called by the owner (or for it, with the world stopped)
        lock (_lock)
        {
            m.State = MutatorState.Safe;
            m.PollFlag = 1;
            HandOverIfLast();
            Monitor.PulseAll(_lock);
        }
    }

    [MethodImpl(CollectorCode.OptimizeOnce)]
    public void ExitSafe(Mutator m)
    {
        m.ViewEpoch++; // the owner: a collection may have run while it was away, so no view from before survives
        lock (_lock)
        {
            while ((_stopped || _stopping) && !_terminated)
            {
                Monitor.Wait(_lock);
            }

            // Leaving a safe region of a terminated heap: the thread will never touch it again
            // (every call throws), so it does not count as running for a disposal waiting.
            m.State = _terminated ? MutatorState.Parked : MutatorState.Running;
            RefreshPollFlag(m);
        }
    }

    /// <summary>
    /// After <see cref="Terminate"/>: waits until no other thread is in the middle of a heap call
    /// (each is parked, in a safe region, detached or dead), so the heap's memory can be freed.
    /// </summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    public void WaitUntilNoneRunning()
    {
        lock (_lock)
        {
            while (AnyRunning())
            {
                Monitor.Wait(_lock, 100);
            }
        }
    }

    /// <summary>Under the lock (the list changes under it): whether a stop on this thread waits for anyone.</summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    private bool AnyRunning() => AnyAwaited(CollectionsMarshal.AsSpan(_mutators));

    /// <summary>
    /// Under the lock, on a thread that just stopped (parked or entered a safe region): if that
    /// completes a stop whose stopper sleeps, this thread's CPU goes to the stopper.
    /// </summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    private void HandOverIfLast()
    {
        if (!_stopping)
        {
            return;
        }

        foreach (var m in _mutators)
        {
            if (HoldsUpStop(m))
            {
                return;
            }
        }

        _handoff.HandOver();
    }

    /// <summary>Under the lock, on any thread: whether the stop in progress still waits for <paramref name="m"/> (<see cref="IsAwaited"/> as seen from the stopper).</summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    private bool HoldsUpStop(Mutator m) => m.State == MutatorState.Running && m.OwnerThread.ManagedThreadId != _stopper && m.OwnerThread.IsAlive;

    [MethodImpl(CollectorCode.OptimizeOnce)]
    private static bool AnyAwaited(ReadOnlySpan<Mutator> mutators)
    {
        // A span, not IReadOnlyList: the stop's spin calls this in a loop, and interface calls
        // there went through the runtime's dispatch stubs (seen in a traced stop's samples).
        foreach (var m in mutators)
        {
            if (IsAwaited(m))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>On the stopping thread: whether the stop waits for <paramref name="m"/>.</summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    private static bool IsAwaited(Mutator m) => m.State == MutatorState.Running && !m.IsCurrentThread && m.OwnerThread.IsAlive;

    /// <summary>
    /// A handshake: <paramref name="operation"/> runs once for every attached mutator without
    /// stopping the world. A running thread runs it itself at its next poll and goes on; for a
    /// thread in a safe region, parked, or dead without detaching, this thread runs it, holding
    /// the lock that such a thread needs to run again, so the two never overlap. Returns when
    /// every thread has had it; <paramref name="whileWaiting"/> runs between checks (the collector
    /// drains what the answers publish). After <paramref name="timeout"/> the handshake is
    /// withdrawn from the threads that have not answered: with <paramref name="throwOnTimeout"/>
    /// it throws <see cref="GcSafepointTimeoutException"/> naming them, otherwise the result says
    /// how many did not answer.
    /// </summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    public HandshakeOutcome Handshake(Action<Mutator> operation, TimeSpan timeout, bool throwOnTimeout, Action whileWaiting)
    {
        var pending = new List<Mutator>();
        long start;
        int threads, byCoordinator;
        lock (_lock)
        {
            while (_stopping || _stopped)
            {
                Monitor.Wait(_lock); // one stop or handshake at a time
            }

            start = Stopwatch.GetTimestamp();
            _handshakeStart = start;
            _handshakeOperation = operation;
            _handshakeMaxHeldTicks = 0;
            _handshakeLastAnswer = start;
            _handshakeAnswered = 0;
            foreach (var m in _mutators)
            {
                if (m.IsDetached || m.State == MutatorState.Detached)
                {
                    continue;
                }

                Volatile.Write(ref m.HandshakeState, Mutator.HandshakeRequested);
                m.PollFlag = 1;
                pending.Add(m);
            }

            threads = pending.Count;
            byCoordinator = AnswerForIdle(pending);
        }

        TimeSpan warnAfter = timeout == Timeout.InfiniteTimeSpan || timeout > SlowStopWarning ? SlowStopWarning : timeout;
        bool warned = false;
        // The threads still pending at the last check, named once the handshake is over: joining
        // their names at every check allocated on each turn of this loop.
        var lastPending = new List<Mutator>(pending.Count);
        var spin = default(SpinWait);
        while (true)
        {
            try
            {
                whileWaiting();
            }
            catch
            {
                lock (_lock)
                {
                    Withdraw(pending); // the collector failed: no thread answers a dead handshake later
                }

                throw;
            }

            lock (_lock)
            {
                byCoordinator += AnswerForIdle(pending);
                pending.RemoveAll(static m => Volatile.Read(ref m.HandshakeState) == Mutator.HandshakeNone);
                if (pending.Count == 0)
                {
                    break;
                }

                lastPending.Clear();
                lastPending.AddRange(pending);

                TimeSpan waited = Stopwatch.GetElapsedTime(start);
                if (!warned && waited > warnAfter)
                {
                    warned = true;
                    SlowStop?.Invoke(string.Join("; ", pending.Select(m => SafepointStatus.Describe(StatusOf(m, awaited: true)))));
                }

                if (timeout != Timeout.InfiniteTimeSpan && waited > timeout)
                {
                    var awaited = pending.Select(m => StatusOf(m, awaited: true)).ToList();
                    int unanswered = Withdraw(pending);
                    if (throwOnTimeout && unanswered > 0)
                    {
                        throw new GcSafepointTimeoutException(
                            $"A handshake gave up after {waited.TotalMilliseconds:F0} ms (HeapOptions.SafepointTimeout {timeout.TotalMilliseconds:F0} ms) " +
                            $"waiting for {string.Join("; ", awaited.Select(SafepointStatus.Describe))}: a thread that blocks or computes for long outside heap calls " +
                            "must do it inside Mutator.EnterSafeRegion. Nothing was done; the heap is usable.")
                        {
                            Awaited = awaited,
                            Waited = waited,
                        };
                    }

                    return Outcome(start, threads, byCoordinator, unanswered, Names(lastPending));
                }

                if (spin.NextSpinWillYield && waited > SpinBeforeSleep)
                {
                    Monitor.Wait(_lock, 1); // answers pulse
                    continue;
                }
            }

            spin.SpinOnce(sleep1Threshold: -1);
        }

        lock (_lock)
        {
            _handshakeOperation = null;
            return Outcome(start, threads, byCoordinator, 0, Names(lastPending));
        }
    }

    private static string? Names(List<Mutator> mutators) => mutators.Count == 0 ? null : string.Join(", ", mutators.Select(static m => m.Name));

    private static readonly TimeSpan SpinBeforeSleep = TimeSpan.FromMilliseconds(0.1);

    private Action<Mutator>? _handshakeOperation;
    private long _handshakeMaxHeldTicks;
    private long _handshakeStart;
    private long _handshakeLastAnswer;
    private int _handshakeAnswered;

    /// <summary>Called by a mutator at its poll when a handshake is asked of it: runs it and goes on.</summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    public void AnswerHandshake(Mutator m)
    {
        if (Interlocked.CompareExchange(ref m.HandshakeState, Mutator.HandshakeRunning, Mutator.HandshakeRequested) != Mutator.HandshakeRequested)
        {
            return;
        }

        long t = Stopwatch.GetTimestamp();
        try
        {
            Volatile.Read(ref _handshakeOperation)!(m);
        }
        finally
        {
            long held = Stopwatch.GetTimestamp() - t;
            lock (_lock)
            {
                Volatile.Write(ref m.HandshakeState, Mutator.HandshakeNone);
                _handshakeMaxHeldTicks = Math.Max(_handshakeMaxHeldTicks, held);
                _handshakeAnswered++;
                _handshakeLastAnswer = Stopwatch.GetTimestamp();
                RefreshPollFlag(m);
                Monitor.PulseAll(_lock);
            }
        }
    }

    /// <summary>Under the lock: runs the handshake for every pending thread that is not running (it cannot start running: that needs this lock).</summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    private int AnswerForIdle(List<Mutator> pending)
    {
        int n = 0;
        foreach (var m in pending)
        {
            if (Volatile.Read(ref m.HandshakeState) != Mutator.HandshakeRequested)
            {
                continue;
            }

            if (m.IsDetached || m.State == MutatorState.Detached)
            {
                // Detaching published its log and gave its handles back: nothing left to do.
                Interlocked.CompareExchange(ref m.HandshakeState, Mutator.HandshakeNone, Mutator.HandshakeRequested);
                continue;
            }

            bool running = m.State == MutatorState.Running && m.OwnerThread.IsAlive && !m.IsCurrentThread;
            if (running || Interlocked.CompareExchange(ref m.HandshakeState, Mutator.HandshakeRunning, Mutator.HandshakeRequested) != Mutator.HandshakeRequested)
            {
                continue;
            }

            try
            {
                _handshakeOperation!(m);
            }
            finally
            {
                Volatile.Write(ref m.HandshakeState, Mutator.HandshakeNone);
                RefreshPollFlag(m);
            }

            n++;
            _handshakeLastAnswer = Stopwatch.GetTimestamp();
        }

        return n;
    }

    /// <summary>Under the lock: takes the handshake back from threads that have not answered; waits for one answering right now.</summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    private int Withdraw(List<Mutator> pending)
    {
        int unanswered = 0;
        foreach (var m in pending)
        {
            if (Interlocked.CompareExchange(ref m.HandshakeState, Mutator.HandshakeNone, Mutator.HandshakeRequested) == Mutator.HandshakeRequested)
            {
                unanswered++;
            }

            while (Volatile.Read(ref m.HandshakeState) != Mutator.HandshakeNone)
            {
                Monitor.Wait(_lock, 1);
            }

            RefreshPollFlag(m);
        }

        _handshakeOperation = null;
        return unanswered;
    }

    /// <summary>Under the lock: the outcome; its time runs from the request to the last answer (not to this call: the caller's work between checks is not the threads' latency).</summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    private HandshakeOutcome Outcome(long start, int threads, int byCoordinator, int unanswered, string? lastAwaited) =>
        new(Stopwatch.GetElapsedTime(start, unanswered > 0 ? Stopwatch.GetTimestamp() : _handshakeLastAnswer).TotalMilliseconds, threads, _handshakeAnswered, byCoordinator, unanswered,
            _handshakeMaxHeldTicks * 1000.0 / Stopwatch.Frequency, lastAwaited);

    /// <summary>Under the lock: whether the handshake in progress waits for <paramref name="m"/> (asked, not answered, running).</summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    private static bool IsAwaitedByHandshake(Mutator m) =>
        Volatile.Read(ref m.HandshakeState) != Mutator.HandshakeNone && m.State == MutatorState.Running && m.OwnerThread.IsAlive && !m.IsCurrentThread;

    private static MutatorStatus StatusOf(Mutator m, bool awaited)
    {
        var state = m.State switch
        {
            MutatorState.Running => MutatorThreadState.Running,
            MutatorState.Parked => MutatorThreadState.Parked,
            MutatorState.Safe => MutatorThreadState.InSafeRegion,
            _ => MutatorThreadState.Detached,
        };
        return new MutatorStatus(m.Name, m.OwnerThread.ManagedThreadId, state, m.OwnerThread.IsAlive, awaited);
    }

    [MethodImpl(CollectorCode.OptimizeOnce)]
    private void RefreshPollFlag(Mutator m) =>
        m.PollFlag = _terminated || _stopped || _stopping || m.State != MutatorState.Running || m.IsDetached ||
                     Volatile.Read(ref m.HandshakeState) != Mutator.HandshakeNone ? 1 : 0;
}

/// <summary>How a handshake went: from the request to the last answer, threads asked, answered by themselves, done for them by the coordinator, withdrawn unanswered, and the longest any one thread spent answering.</summary>
internal readonly record struct HandshakeOutcome(double Ms, int Threads, int AnsweredByThreads, int DoneByCoordinator, int Unanswered, double MaxHeldMs, string? LastAwaited);

/// <summary>How a stop went: how long it waited for threads to reach a poll, and the thread(s) it waited for last (none when every thread stopped within the spin).</summary>
/// <param name="WaitMs">Time to safepoint.</param>
/// <param name="AwaitedBuffer">The stopping thread's buffer holding the threads the stop waited for last (after its spin) in its first <paramref name="AwaitedCount"/> entries; null when none. Reused by that thread's next stop: read it before.</param>
/// <param name="AwaitedCount">How many threads the stop waited for last.</param>
/// <param name="HandedCpu">The thread that completed the stop handed its CPU to this (sleeping) stopper.</param>
internal readonly record struct StopResult(double WaitMs, Mutator[]? AwaitedBuffer, int AwaitedCount, bool HandedCpu = false)
{
    /// <summary>The attempt ran out of its budget: nothing is stopped, the threads that had parked were released (at <see cref="ReleasedTimestamp"/>).</summary>
    public bool Abandoned { get; init; }

    /// <summary>Stopwatch timestamp at which an abandoned attempt released the parked threads.</summary>
    public long ReleasedTimestamp { get; init; }

    /// <summary>The threads the stop waited for last.</summary>
    public ReadOnlySpan<Mutator> Awaited => AwaitedBuffer is null ? default : AwaitedBuffer.AsSpan(0, AwaitedCount);

    /// <summary>The names of <see cref="Awaited"/>, comma-separated (formats: call it after the world resumes).</summary>
    public string? LastAwaited
    {
        get
        {
            var awaited = Awaited;
            if (awaited.IsEmpty)
            {
                return null;
            }

            if (awaited.Length == 1)
            {
                return awaited[0].Name;
            }

            var names = new string[awaited.Length];
            for (int i = 0; i < names.Length; i++)
            {
                names[i] = awaited[i].Name;
            }

            return string.Join(", ", names);
        }
    }

    /// <summary>The kernel's thread id of the first of <see cref="Awaited"/> (0 when none).</summary>
    public int LastAwaitedOsThreadId => AwaitedCount > 0 ? AwaitedBuffer![0].OsThreadId : 0;
}
