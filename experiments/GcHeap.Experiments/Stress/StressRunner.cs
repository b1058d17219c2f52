using System.Diagnostics;
using System.Runtime.CompilerServices;
using GcHeap.Diagnostics;
using GcHeap.Experiments.Cli;
using GcHeap.Model;

namespace GcHeap.Experiments.Stress;

/// <summary>What a stress run is asked to do.</summary>
internal sealed record StressSettings(
    double Seconds,
    int Threads,
    int Seed,
    IReadOnlyList<GcBackend> Backends,
    double PhaseSeconds,
    int HeapMb,
    double HangSeconds,
    double SafepointTimeoutMs,
    IReadOnlyList<StressPhase> Phases,
    int StormPollEvery,
    string Command)
{
    /// <summary>HeapOptions properties set with --option Name=Value on every phase's heap (after the phase's own settings).</summary>
    public IReadOnlyList<(string Name, string Value)> HeapOverrides { get; init; } = [];
}

/// <summary>The kinds of phase, run in rotation; every phase also fuzzes bad inputs.</summary>
internal enum StressPhase
{
    /// <summary>Mutators and back-to-back collections.</summary>
    Mixed,

    /// <summary>A forked child shares the heap's pages during collections, so UFFDIO_MOVE answers EBUSY.</summary>
    Fork,

    /// <summary>A thread calls GC.Collect() in a loop: .NET suspends the process over and over.</summary>
    DotnetGcStorm,

    /// <summary>A small heap that a hog thread fills until allocation fails, then frees.</summary>
    Exhaustion,

    /// <summary>The heap is disposed while everything runs: from a CollectionCompleted handler or from another thread.</summary>
    DisposeRace,
}

/// <summary>
/// The project's own GCStress: phases of random mutation from several mutator threads, each
/// mirrored by a plain .NET model (tests/Model) and compared with it after collections, with
/// collections on every backend in turn, fork/EBUSY phases, .NET GC storms, heap exhaustion,
/// disposal races, and bad-input fuzzing in every phase. A watchdog reports a hang with every
/// thread's state and exits instead of waiting.
/// </summary>
internal sealed class StressRunner
{
    private readonly StressSettings _s;
    private readonly StressReport _report;
    private readonly List<StressThread> _threads = [];
    private readonly StressThread _main = new("main", "phases");
    private volatile Heap? _heap;
    private volatile string _phaseName = "starting";

    public StressRunner(StressSettings settings)
    {
        _s = settings;
        _report = new StressReport
        {
            Command = settings.Command,
            Seed = settings.Seed,
            Threads = settings.Threads,
            SecondsRequested = settings.Seconds,
            PhaseSeconds = settings.PhaseSeconds,
            Backends = [.. settings.Backends.Select(b => b.ToString())],
        };
        _main.Thread = Thread.CurrentThread;
        _threads.Add(_main);
    }

    public StressReport Report => _report;

    /// <summary>Runs every phase until the time is up or something failed; <paramref name="onHang"/> gets the report of a hang (and should exit the process).</summary>
    public StressReport Run(Action<StressReport> onHang)
    {
        var sw = Stopwatch.StartNew();
        using var watchdog = new Timer(_ => CheckForHang(sw, onHang), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        using var foreignHeap = new Heap(new HeapOptions { Backend = GcBackend.StopTheWorld, MaxHeapBytes = 1 << 20, BackgroundCollection = false });
        var foreignType = foreignHeap.Types.DefineObject("Foreign", b => b.Reference("r").Value<long>("x"));
        using var foreignMutator = foreignHeap.AttachCurrentThread("foreign");
        using var foreignRoot = foreignMutator.CreateRoot(foreignMutator.Allocate(foreignType));
        var foreign = new ForeignObjects { LiveHeapHandle = foreignRoot.Ref, LiveHeapToken = foreignType.Field<long>("x"), LiveHeapType = foreignType };

        var kinds = _s.Phases;
        for (int i = 0; sw.Elapsed.TotalSeconds < _s.Seconds && _report.Read(r => r.Passed); i++)
        {
            var backend = _s.Backends[i % _s.Backends.Count];
            var kind = kinds[i % kinds.Count];
            double seconds = Math.Max(0.5, Math.Min(_s.PhaseSeconds, _s.Seconds - sw.Elapsed.TotalSeconds));
            try
            {
                RunPhase(i, backend, kind, seconds, foreign);
            }
            catch (Exception e)
            {
                Classify(_main, e); // a failed heap or an undocumented exception on the main thread ends the run
                _report.Update(r =>
                {
                    if (r.Passed)
                    {
                        r.UndocumentedExceptions.Add($"main in {_phaseName}: {e}");
                    }
                });
            }
        }

        _report.Update(r => r.DurationSeconds = sw.Elapsed.TotalSeconds);
        return _report;
    }

    private void RunPhase(int index, GcBackend requested, StressPhase kind, double seconds, ForeignObjects foreign)
    {
        var rnd = new Random(HashCode.Combine(_s.Seed, index));
        _phaseName = $"phase {index} {requested}/{kind}";
        _main.Phase = _phaseName;
        _main.Begin("creating the heap");
        var options = new HeapOptions
        {
            Backend = requested,
            MaxHeapBytes = (kind == StressPhase.Exhaustion ? Math.Min(_s.HeapMb, 8) : _s.HeapMb) * (1L << 20),
            VerifyHeap = true,
            BackgroundCollection = true,
            CollectionTriggerBytes = 2L << 20,
            DontForkHeap = kind != StressPhase.Fork,
            MinMovePages = kind == StressPhase.Fork || rnd.Next(2) == 0 ? 1 : 48,
            PackedPagesByCopy = rnd.Next(3) == 0,
            NurseryBytes = rnd.Next(4) switch { 0 => 0, 1 => 256L << 10, _ => new HeapOptions().NurseryBytes }, // none, one used up every cycle, the default
            SafepointTimeout = _s.SafepointTimeoutMs > 0 ? TimeSpan.FromMilliseconds(_s.SafepointTimeoutMs) : Timeout.InfiniteTimeSpan,
        };
        HeapOptionOverrides.Apply(options, _s.HeapOverrides);
        using var heap = new Heap(options);
        _heap = heap;
        var types = new ModelTypes(heap);
        var phaseEnd = Stopwatch.GetTimestamp() + (long)(seconds * Stopwatch.Frequency);
        bool Running() => Stopwatch.GetTimestamp() < phaseEnd && !Volatile.Read(ref _disposing) && _report.Read(r => r.Passed);
        Volatile.Write(ref _disposing, false);
        _report.Update(r =>
        {
            r.Phases++;
            StressReport.Bump(r.PhasesByKind, kind.ToString());
        });

        var forked = new StrongBox<bool>();
        var disposeFromHandler = new StrongBox<bool>();
        bool handlerTriedCollect = false;
        heap.CollectionCompleted += stats =>
        {
            Record(stats, forked.Value);
            if (!handlerTriedCollect)
            {
                // Collect and Verify from a handler would wait for this very thread.
                handlerTriedCollect = true;
                ExpectInHandler("Collect() in a CollectionCompleted handler", () => heap.Collect());
                ExpectInHandler("Verify() in a CollectionCompleted handler", () => heap.Verify());
            }

            if (disposeFromHandler.Value)
            {
                disposeFromHandler.Value = false;
                Volatile.Write(ref _disposing, true);
                heap.Dispose();
                _report.Update(r => StressReport.Bump(r.Disposals, "from a CollectionCompleted handler"));
            }
        };

        // A mutator of this thread outlives the heap: every call on it must then throw
        // GcHeapDisposedException. Its object is allocated first, before anyone can fill the heap.
        var leftOver = heap.AttachCurrentThread("main");
        GcRoot keep = leftOver.CreateRoot(leftOver.Allocate(types.Node));
        (GcRef, GcField<long>, GcRefField) stale = (keep.Ref, types.Value, types.Fields[0]);

        // Workers: each mutates a graph of its own, mirrored by a model, and compares after collections.
        var workers = new Mutator?[_s.Threads];
        var published = new GcRef[_s.Threads];
        var started = new List<StressThread>();
        for (int w = 0; w < _s.Threads; w++)
        {
            int id = w;
            started.Add(Start($"worker {w}", "mutator", () => Worker(heap, types, id, rnd.Next(), kind, Running, m => workers[id] = m, h => published[id] = h)));
        }

        started.Add(Start("driver", "collections", () => Driver(heap, kind, Running, forked)));
        started.Add(Start("fuzzer", "bad inputs", () => Fuzzer(heap, types, foreign, rnd.Next(), Running, () =>
        {
            int k = rnd.Next(workers.Length);
            return (workers[k], published[k]);
        })));
        if (kind == StressPhase.DotnetGcStorm)
        {
            started.Add(Start("gc storm", ".NET GC.Collect() loop", () => Storm(heap, Running)));
        }

        if (kind == StressPhase.Fork)
        {
            started.Add(Start("ballast", "pure-data pages for EBUSY", () => Ballast(heap, types, rnd.Next(), Running)));
        }

        if (kind == StressPhase.Exhaustion)
        {
            started.Add(Start("hog", "fills the heap", () => Hog(heap, types, Running)));
        }

        _main.Done();

        using (_main.Idle("running the phase"))
        {
            while (Stopwatch.GetTimestamp() < phaseEnd && !Volatile.Read(ref _disposing))
            {
                using (leftOver.EnterSafeRegion())
                {
                    Thread.Sleep(50);
                }
            }
        }

        if (kind == StressPhase.DisposeRace && _report.Read(r => r.Passed))
        {
            if (index % 2 == 0)
            {
                // The next collection's handler disposes the heap while Verify() calls queue behind it.
                disposeFromHandler.Value = true;
                started.Add(Start("verifier", "queued Verify()", () => QueuedVerify(heap)));
                started.Add(Start("requester", "Collect() racing the disposal", () =>
                {
                    var self = Self();
                    self.Begin("Collect() whose handler disposes the heap");
                    try
                    {
                        _ = heap.Collect(); // returns its statistics, or hears of the disposal
                    }
                    catch (GcHeapDisposedException e)
                    {
                        _report.Documented(e);
                    }

                    self.Done();
                }));
            }
            else
            {
                started.Add(Start("disposer", "Dispose() from another thread", () =>
                {
                    Volatile.Write(ref _disposing, true);
                    heap.Dispose();
                    _report.Update(r => StressReport.Bump(r.Disposals, "from another thread while mutators run"));
                }));
            }
        }

        using (_main.Idle("joining the phase's threads"))
        {
            SafeRegion region = default;
            try
            {
                region = leftOver.EnterSafeRegion();
            }
            catch (GcHeapDisposedException e) when (kind == StressPhase.DisposeRace)
            {
                _report.Documented(e); // disposed by the race already
            }

            try
            {
                foreach (var t in started)
                {
                    t.Thread!.Join();
                }
            }
            finally
            {
                region.Dispose();
            }
        }

        _main.Begin("disposing the heap");
        keep.Dispose();
        if (!Volatile.Read(ref _disposing))
        {
            _report.Update(r => StressReport.Bump(r.Disposals, "at the end of the phase"));
        }

        Volatile.Write(ref _disposing, true);
        heap.Dispose(); // waits for a collection a handler may still be finishing
        UseAfterDispose(heap, leftOver, types);
        leftOver.Dispose();
        foreign.DisposedHeap = stale;
        _report.Update(r => r.AbandonedCollections += heap.AbandonedCollections);
        lock (_threads)
        {
            _threads.RemoveAll(t => started.Contains(t));
        }

        _heap = null;
        _main.Done();
        PrintPhase(index, heap, kind);
    }

    private bool _disposing;

    private void Record(CollectionStats s, bool forked) => _report.Update(r =>
    {
        string backend = s.Backend.ToString();
        r.Cycles++;
        StressReport.Bump(r.CyclesByBackend, backend);
        if (s.Verified)
        {
            r.VerifiedCycles++;
        }

        r.EbusyFallbacks += s.EbusyFallbacks;
        r.CyclesWithEbusy += s.EbusyFallbacks > 0 ? 1 : 0;
        r.CyclesWhileForked += forked ? 1 : 0;
        r.StopTheWorldFallbacks += s.StopTheWorldFallbackReason is null ? 0 : 1;
        StressReport.Max(r.MaxPauseMs, backend, s.MaxPauseMs);
        StressReport.Max(r.MaxTimeToSafepointMs, backend, s.MaxTimeToSafepointMs);
        if (s.MaxTimeToSafepointMs > 100)
        {
            // The 50 longest of the run, longest first.
            r.SlowestSafepoints.Add(new SlowSafepoint(
                _phaseName, s.Cycle, backend, s.MaxTimeToSafepointMs, s.SafepointAwaitedThread ?? "(every thread had parked while the stopper spun)", s.DotnetGcPauseDuringStopsMs, s.MaxPauseMs));
            r.SlowestSafepoints.Sort((a, b) => b.TimeToSafepointMs.CompareTo(a.TimeToSafepointMs));
            if (r.SlowestSafepoints.Count > 50)
            {
                r.SlowestSafepoints.RemoveAt(50);
            }
        }
    });

    private void ExpectInHandler(string what, Action call)
    {
        try
        {
            call();
            _report.Undocumented($"'{what}' threw nothing (expected GcThreadStateException)");
        }
        catch (GcThreadStateException e)
        {
            _report.Update(r =>
            {
                StressReport.Bump(r.BadInputs, what);
                StressReport.Bump(r.ExceptionsByType, e.GetType().Name);
            });
        }
        catch (GcHeapDisposedException e)
        {
            _report.Documented(e);
        }
        catch (Exception e)
        {
            _report.Undocumented($"'{what}' threw {e.GetType().Name} (expected GcThreadStateException): {e}");
        }
    }

    private StressThread Start(string name, string role, Action body)
    {
        var st = new StressThread(name, role) { Phase = _phaseName };
        var t = new Thread(() =>
        {
            try
            {
                body();
            }
            catch (Exception e)
            {
                Classify(st, e);
            }
            finally
            {
                st.Finished = true;
            }
        })
        { IsBackground = true, Name = $"stress {name}" };
        st.Thread = t;
        lock (_threads)
        {
            _threads.Add(st);
        }

        t.Start();
        return st;
    }

    /// <summary>An exception that ended a thread: documented ones are expected only in their situations.</summary>
    private void Classify(StressThread st, Exception e)
    {
        switch (e)
        {
            case GraphMismatchException:
                _report.Mismatch($"{st.Name} in {st.Phase}: {e.Message}");
                break;
            case GcCollectionFailedException:
                _report.Mismatch($"{st.Name} in {st.Phase}: the heap failed: {e.Message}");
                break;
            case GcHeapDisposedException when Volatile.Read(ref _disposing):
                _report.Documented(e);
                break;
            default:
                _report.Undocumented($"{st.Name} in {st.Phase}: {e}");
                break;
        }
    }

    private void Worker(Heap heap, ModelTypes types, int id, int seed, StressPhase kind, Func<bool> running, Action<Mutator?> expose, Action<GcRef> publish)
    {
        var self = Self();
        using var m = heap.AttachCurrentThread($"worker {id}");
        expose(m);
        try
        {
            using var graph = new MirroredGraph(m, types, seed, owner: id + 1, largeObjects: kind != StressPhase.Exhaustion && seed % 3 == 0);
            var rnd = new Random(seed);
            self.Begin("growing the graph");
            Documented(() => graph.Grow(6, 40), kind);
            self.Done();
            long compared = heap.CollectionCount;
            int steps = 0;
            while (running())
            {
                var op = GraphOp.Random(rnd);
                self.Begin(OpNames[(int)op.Kind]);
                if ((op.Kind == GraphOpKind.DropRoot && graph.RootCount <= MirroredGraph.MinRandomRoots) ||
                    (op.Kind == GraphOpKind.AddRoot && graph.RootCount >= MirroredGraph.MaxRandomRoots))
                {
                    op = op with { Kind = GraphOpKind.SetSlot };
                }

                Documented(() => graph.Apply(op), kind);
                self.Done();
                if (++steps % 32 == 0)
                {
                    using var scope = m.OpenScope();
                    publish(m.Duplicate(graph.RootHandle(steps)));
                    long now = heap.CollectionCount;
                    if (now != compared)
                    {
                        self.Begin("comparing the graph with its model");
                        long n = graph.Compare($"on worker {id} after collection {now}");
                        compared = now;
                        _report.Update(r =>
                        {
                            r.ModelChecks++;
                            r.ModelObjectsCompared += n;
                        });
                        self.Done();
                    }

                    _report.Update(r => r.MutatorOperations += 32);
                }
            }

            publish(GcRef.Null);
            self.Begin("final comparison");
            long last = graph.Compare($"on worker {id} at the end of the phase");
            _report.Update(r =>
            {
                r.ModelChecks++;
                r.ModelObjectsCompared += last;
                r.WeakReferencesChecked += graph.WeakChecked;
                r.WeakClearsChecked += graph.WeakClearedChecked;
            });
            self.Done();
        }
        finally
        {
            expose(null);
        }
    }

    /// <summary>Runs a mutation; a full heap (or a collection that timed out waiting for a thread) is documented and leaves model and heap equal.</summary>
    private void Documented(Action a, StressPhase kind)
    {
        try
        {
            a();
        }
        catch (GcHeapExhaustedException e)
        {
            _report.Documented(e);
            if (kind != StressPhase.Exhaustion)
            {
                Thread.Yield();
            }
        }
        catch (GcSafepointTimeoutException e) when (_s.SafepointTimeoutMs > 0)
        {
            _report.Documented(e);
        }
    }

    private void Driver(Heap heap, StressPhase kind, Func<bool> running, StrongBox<bool> forked)
    {
        var self = Self();
        int n = 0;
        while (running())
        {
            ForkedPageHolder? holder = null;
            if (kind == StressPhase.Fork && n % 2 == 0)
            {
                self.Begin("forking a child that shares the heap's pages");
                holder = ForkedPageHolder.Start();
                forked.Value = true;
            }

            try
            {
                self.Begin("Collect()");
                heap.Collect();
                if (++n % 8 == 0)
                {
                    self.Begin("Verify()");
                    var v = heap.Verify();
                    _report.Update(r => r.VerifyCalls++);
                    if (!v.IsValid)
                    {
                        _report.Mismatch($"driver in {self.Phase}: Verify() found {v}");
                    }
                }
            }
            catch (GcSafepointTimeoutException e) when (_s.SafepointTimeoutMs > 0)
            {
                _report.Documented(e);
            }
            catch (GcHeapExhaustedException e)
            {
                _report.Documented(e);
            }
            finally
            {
                if (holder is not null)
                {
                    forked.Value = false;
                    holder.Dispose();
                }
            }

            self.Done();
        }
    }

    private void QueuedVerify(Heap heap)
    {
        var self = Self();
        self.Begin("Verify() queued while a handler disposes the heap");
        try
        {
            while (true)
            {
                _ = heap.Verify();
                self.Done();
                self.Begin("Verify() queued while a handler disposes the heap");
            }
        }
        catch (GcHeapDisposedException e)
        {
            _report.Documented(e);
        }

        self.Done();
    }

    private void Fuzzer(Heap heap, ModelTypes types, ForeignObjects foreign, int seed, Func<bool> running, Func<(Mutator?, GcRef)> neighbour)
    {
        var self = Self();
        using var m = heap.AttachCurrentThread("fuzzer");
        var fuzz = new BadInputFuzzer(heap, types, foreign, _report, self, new Random(seed)) { Neighbour = neighbour };
        while (running())
        {
            Documented(() => fuzz.Step(m), StressPhase.Exhaustion); // its own allocations may find the heap full
            using (m.EnterSafeRegion())
            {
                Thread.Sleep(1);
            }
        }
    }

    /// <summary>
    /// Calls GC.Collect() in a loop. With <see cref="StressSettings.StormPollEvery"/> the thread is
    /// attached and makes a heap call only every that many .NET collections, blocking outside a
    /// safe region in between (the misuse that holds every stop up).
    /// </summary>
    private void Storm(Heap heap, Func<bool> running)
    {
        var self = Self();
        var keep = new List<object>();
        var rnd = new Random(_s.Seed);
        using var m = _s.StormPollEvery > 0 ? heap.AttachCurrentThread("gc storm (attached)") : null;
        long n = 0;
        while (running())
        {
            if (m is not null && n++ % _s.StormPollEvery == 0)
            {
                try
                {
                    m.Safepoint();
                }
                catch (GcHeapDisposedException e) when (Volatile.Read(ref _disposing))
                {
                    _report.Documented(e);
                    return;
                }
            }

            self.Begin("GC.Collect()");
            for (int i = 0; i < 2000; i++)
            {
                var o = new byte[16 + rnd.Next(512)];
                if (keep.Count < 50_000)
                {
                    keep.Add(o);
                }
                else
                {
                    keep[rnd.Next(keep.Count)] = o;
                }
            }

            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            _report.Update(r => r.DotnetGcs++);
            self.Done();
        }
    }

    private void Hog(Heap heap, ModelTypes types, Func<bool> running)
    {
        var self = Self();
        using var m = heap.AttachCurrentThread("hog");
        var held = new List<GcRoot>();
        while (running())
        {
            self.Begin("filling the heap");
            try
            {
                while (running())
                {
                    using var scope = m.OpenScope();
                    held.Add(m.CreateRoot(m.AllocateArray(types.ByteArray, 64 << 10)));
                    self.Done();
                }
            }
            catch (GcHeapExhaustedException e)
            {
                _report.Documented(e);
                _report.Update(r => r.Exhaustions++);
            }
            catch (GcSafepointTimeoutException e) when (_s.SafepointTimeoutMs > 0)
            {
                _report.Documented(e);
            }

            self.Begin("freeing and allocating again");
            foreach (var r in held)
            {
                r.Dispose();
            }

            held.Clear();
            for (int attempt = 0; attempt < 3 && running(); attempt++)
            {
                try
                {
                    using var scope = m.OpenScope();
                    _ = m.AllocateArray(types.ByteArray, 64 << 10);
                    _report.Update(r => r.Recoveries++);
                    break;
                }
                catch (GcHeapExhaustedException e)
                {
                    _report.Documented(e); // the workers filled it meanwhile
                }
            }

            self.Done();
            using (self.Idle("between fills"))
            using (m.EnterSafeRegion())
            {
                Thread.Sleep(100);
            }
        }

        foreach (var r in held)
        {
            r.Dispose();
        }
    }

    /// <summary>
    /// Large byte arrays (pages of their own, never written by compaction) that a forked child
    /// shares, so that UFFDIO_MOVE answers EBUSY for them; their contents are checked against
    /// their .NET copies after every collection.
    /// </summary>
    private void Ballast(Heap heap, ModelTypes types, int seed, Func<bool> running)
    {
        var self = Self();
        using var m = heap.AttachCurrentThread("ballast");
        var rnd = new Random(seed);
        var held = new List<(GcRoot Root, byte[] Data)>();
        long checkedAt = heap.CollectionCount;
        try
        {
            while (running())
            {
                self.Begin("allocating a pure-data array");
                using (m.OpenScope())
                {
                    var data = new byte[(8 + rnd.Next(24)) << 10];
                    rnd.NextBytes(data);
                    var a = m.AllocateArray(types.ByteArray, data.Length);
                    m.WriteItems<byte>(a, 0, data);
                    if (held.Count < 128)
                    {
                        held.Add((m.CreateRoot(a), data));
                    }
                    else
                    {
                        int k = rnd.Next(held.Count);
                        held[k].Root.Dispose();
                        held[k] = (m.CreateRoot(a), data);
                    }
                }

                self.Done();
                if (heap.CollectionCount != checkedAt)
                {
                    self.Begin("checking the pure-data arrays");
                    checkedAt = heap.CollectionCount;
                    foreach (var (root, data) in held)
                    {
                        var got = new byte[data.Length];
                        m.ReadItems<byte>(root.Ref, 0, got);
                        if (!got.AsSpan().SequenceEqual(data))
                        {
                            throw new GraphMismatchException($"a pure-data array of {data.Length} bytes differs after collection {checkedAt}");
                        }
                    }

                    _report.Update(r => r.ModelChecks++);
                    self.Done();
                }

                using (self.Idle("pausing"))
                using (m.EnterSafeRegion())
                {
                    Thread.Sleep(2);
                }
            }
        }
        catch (GcHeapExhaustedException e)
        {
            _report.Documented(e);
        }
        finally
        {
            foreach (var (root, _) in held)
            {
                root.Dispose();
            }
        }
    }

    /// <summary>Every member that needs the heap throws GcHeapDisposedException after Dispose; what was recorded stays readable.</summary>
    private void UseAfterDispose(Heap heap, Mutator m, ModelTypes types)
    {
        void Expect(string what, Action call)
        {
            try
            {
                call();
                _report.Undocumented($"'{what}' after Dispose threw nothing (expected GcHeapDisposedException)");
            }
            catch (GcHeapDisposedException e)
            {
                _report.Update(r =>
                {
                    StressReport.Bump(r.BadInputs, "after Dispose: " + what);
                    StressReport.Bump(r.ExceptionsByType, e.GetType().Name);
                });
            }
            catch (Exception e)
            {
                _report.Undocumented($"'{what}' after Dispose threw {e.GetType().Name} (expected GcHeapDisposedException): {e}");
            }
        }

        Expect("Mutator.Allocate", () => m.Allocate(types.Node));
        Expect("Mutator.OpenScope", () => m.OpenScope());
        Expect("Types.DefineObject", () => heap.Types.DefineObject("Late", b => b.Value<long>("x")));
        Expect("Types[name]", () => _ = heap.Types["ModelNode"]);
        Expect("BytesInUse", () => _ = heap.BytesInUse);
        Expect("ResidentBytes", () => _ = heap.ResidentBytes);
        Expect("AttachedThreads", () => _ = heap.AttachedThreads);
        Expect("Capabilities", () => _ = heap.Capabilities);
        Expect("Collect", () => heap.Collect());
        Expect("Verify", () => heap.Verify());
        Expect("AttachCurrentThread", () => heap.AttachCurrentThread());
        _ = (heap.Backend, heap.BackendReason, heap.History, heap.LastCollection, heap.CollectionCount, heap.Configuration, heap.Phase);
    }

    private StressThread Self()
    {
        lock (_threads)
        {
            return _threads.First(t => t.Thread == Thread.CurrentThread);
        }
    }

    private void PrintPhase(int index, Heap heap, StressPhase kind)
    {
        var r = _report;
        string line = r.Read(x =>
            $"phase {index,4} {heap.Backend,-12} {kind,-13} cycles {heap.CollectionCount,5} | total cycles {x.Cycles} " +
            $"({string.Join(", ", x.CyclesByBackend.Select(kv => $"{kv.Key} {kv.Value}"))}), verified {x.VerifiedCycles}, model checks {x.ModelChecks}, " +
            $"EBUSY {x.EbusyFallbacks}, exhausted/recovered {x.Exhaustions}/{x.Recoveries}, .NET GCs {x.DotnetGcs}, bad inputs {x.BadInputs.Values.Sum()}, " +
            $"mismatches {x.Mismatches.Count}, undocumented {x.UndocumentedExceptions.Count}");
        Console.WriteLine(line);
    }

    private void CheckForHang(Stopwatch sw, Action<StressReport> onHang)
    {
        List<StressThread> threads;
        lock (_threads)
        {
            threads = [.. _threads.Where(t => !t.Finished)];
        }

        var stuck = threads.Where(t => t.SecondsSinceProgress > _s.HangSeconds).ToList();
        if (stuck.Count == 0)
        {
            return;
        }

        var heap = _heap;
        var lines = new List<string>
        {
            $"HANG after {sw.Elapsed.TotalSeconds:F0} s: no progress for {_s.HangSeconds} s from {string.Join(", ", stuck.Select(t => t.Name))} in {_phaseName}.",
            "Threads:",
        };
        lines.AddRange(threads.Select(t => "  " + t.Describe()));
        if (heap is not null)
        {
            lines.Add($"Collector: phase {heap.Phase}, completed collections {heap.CollectionCount}, backend {heap.Backend}");
            SafepointStatus? status = null;
            try
            {
                status = heap.GetSafepointStatus();
            }
            catch (Exception e) when (e is ObjectDisposedException or InvalidOperationException)
            {
                lines.Add($"Safepoint: unreadable ({e.GetType().Name})");
            }

            lines.Add(status is null ? "Safepoint: its lock is held (not taken within 1 s)" : $"Safepoint: {status}");
        }

        _report.Update(r => r.Hang = string.Join("\n", lines));
        onHang(_report);
    }

    private static readonly string[] OpNames = Enum.GetNames<GraphOpKind>();
}
