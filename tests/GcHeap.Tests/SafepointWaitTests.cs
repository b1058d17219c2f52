using System.Diagnostics;
using GcHeap.Model;
using GcHeap.Tests.Support;

namespace GcHeap.Tests;

/// <summary>
/// A thread that blocks outside <see cref="Mutator.EnterSafeRegion"/> holds every stop up (issue
/// 10, item 10). The wait is visible (<see cref="Heap.GetSafepointStatus"/> names the thread and
/// its state; the statistics name the thread a stop waited for last) and, for every stop up to
/// the flip, bounded by <see cref="HeapOptions.SafepointTimeout"/>.
/// </summary>
public class SafepointWaitTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(60);

    [Theory]
    [MemberData(nameof(TestHeaps.AllBackends), MemberType = typeof(TestHeaps))]
    public void FirstStopGivesUpAfterTheTimeoutNamingTheBlockedThread(GcBackend backend)
    {
        using var heap = TestHeaps.Create(backend, configure: o => o.SafepointTimeout = TimeSpan.FromMilliseconds(200));
        var type = heap.Types.DefineObject("T", t => t.Value<long>("v"));
        using var blocker = new BlockedMutator(heap, "blocked outside a safe region");
        blocker.BlockOutsideSafeRegion();

        var collect = Assert.Throws<GcSafepointTimeoutException>(() => heap.Collect());
        var awaited = Assert.Single(collect.Awaited);
        Assert.Equal("blocked outside a safe region", awaited.Name);
        Assert.Equal(MutatorThreadState.Running, awaited.State);
        Assert.Contains("blocked outside a safe region", collect.Message, StringComparison.Ordinal);
        Assert.Equal(1, heap.AbandonedCollections);
        Assert.Equal(0, heap.CollectionCount);

        var verify = Assert.Throws<GcSafepointTimeoutException>(() => heap.Verify());
        Assert.Equal("blocked outside a safe region", Assert.Single(verify.Awaited).Name);

        // Nothing was stopped or done: the heap goes on once the thread comes back.
        var status = heap.GetSafepointStatus()!;
        Assert.False(status.Stopping || status.Stopped);
        using var m = heap.AttachCurrentThread();
        using var root = m.CreateRoot(m.Allocate(type));
        m.Set(root.Ref, type.Field<long>("v"), 7);
        blocker.Release();
        var stats = heap.Collect();
        Assert.True(stats.Verified);
        Assert.Equal(1, stats.Cycle);
        Assert.Equal(1, heap.CollectionCount);
        Assert.Equal(7, m.Get(root.Ref, type.Field<long>("v")));
    }

    [Fact]
    public void StatusNamesTheThreadAStopWaitsForAndTheStatisticsKeepIt()
    {
        long before = Stopwatch.GetTimestamp();
        using var heap = TestHeaps.Create(GcBackend.Move, configure: o => o.MarkStartHandshake = false); // mark start is a stop
        using var blocker = new BlockedMutator(heap, "late");
        blocker.BlockOutsideSafeRegion();
        var collect = new BackgroundCall<CollectionStats>(heap.Collect);

        // Held for a second, so that this stop is the cycle's longest by far.
        var status = WaitForStatus(heap, s => s.Stopping && s.Awaited.Any(m => m.Name == "late") && s.StopWaitMs > 1000);
        Assert.Equal(MutatorThreadState.Running, status.Mutators.Single(m => m.Name == "late").State);
        Assert.False(collect.IsCompleted);
        int lateTid = blocker.OsThreadId;
        Assert.Equal("late", File.ReadAllText($"/proc/self/task/{lateTid}/comm").TrimEnd('\n')); // .NET gives the kernel thread its name

        blocker.Release();
        Assert.True(collect.Wait(Patience));
        Assert.Equal("late", collect.Result.SafepointAwaitedThread);
        Assert.True(collect.Result.MaxTimeToSafepointMs > 0);

        // The pause that waited for it reports that second as time to safepoint, not as work inside.
        var longest = collect.Result.Pauses.MaxBy(p => p.Milliseconds);
        Assert.True(longest.TimeToSafepointMs > 1000, $"{longest}");
        Assert.True(longest.InsideMs < longest.TimeToSafepointMs);
        Assert.All(collect.Result.Pauses, p => Assert.InRange(p.TimeToSafepointMs, 0, p.Milliseconds));

        // And it says when it began and which kernel thread it waited for, to line it up with a
        // scheduler trace.
        Assert.Equal("late", longest.AwaitedThread);
        Assert.InRange(longest.StartTimestamp, before, Stopwatch.GetTimestamp());
        Assert.Equal(lateTid, longest.AwaitedOsThreadId);
        Assert.All(collect.Result.Pauses.Where(p => p.AwaitedThread is null), p => Assert.Equal(0, p.AwaitedOsThreadId));
    }

    [Fact]
    public void ASnapshotsStatisticsNameTheThreadItsPauseWaitedFor()
    {
        using var heap = TestHeaps.Create(GcBackend.Move);
        using var blocker = new BlockedMutator(heap, "late");
        blocker.BlockOutsideSafeRegion();
        var save = new BackgroundCall<SnapshotStats>(() => heap.SaveSnapshot(new MemoryStream()));

        // The pre-copy does not need the thread; the pause's stop waits for it.
        WaitForStatus(heap, s => s.Stopping && s.Awaited.Any(m => m.Name == "late") && s.StopWaitMs > 500);
        Assert.False(save.IsCompleted);
        blocker.Release();
        Assert.True(save.Wait(Patience));
        Assert.Equal("late", save.Result.SafepointAwaitedThread);
        Assert.True(save.Result.TimeToSafepointMs > 500, $"{save.Result}");
        Assert.Contains("waiting last for late", save.Result.ToString(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void ASnapshotsStopGivesUpAfterTheTimeoutAndLeavesNothingBehind(bool incremental)
    {
        using var heap = TestHeaps.Create(GcBackend.Move, configure: o => o.SafepointTimeout = TimeSpan.FromMilliseconds(200));
        var type = heap.Types.DefineObject("T", t => t.Value<long>("v"));
        using var m = heap.AttachCurrentThread();
        using var root = m.CreateRoot(m.Allocate(type));
        m.Set(root.Ref, type.Field<long>("v"), 5);
        var track = new SnapshotOptions { TrackChanges = true };
        if (incremental)
        {
            using (m.EnterSafeRegion())
            {
                heap.SaveSnapshot(new MemoryStream(), track);
            }
        }

        using var blocker = new BlockedMutator(heap, "blocked");
        blocker.BlockOutsideSafeRegion();
        var e = Assert.Throws<GcSafepointTimeoutException>(() =>
        {
            using (m.EnterSafeRegion())
            {
                _ = incremental ? heap.SaveIncrementalSnapshot(new MemoryStream(), track) : heap.SaveSnapshot(new MemoryStream());
            }
        });
        Assert.Equal("blocked", Assert.Single(e.Awaited).Name);

        // Nothing is write-protected: writes go on without waiting, and the next save is whole.
        m.Set(root.Ref, type.Field<long>("v"), 6);
        blocker.Release();
        var image = new MemoryStream();
        SnapshotStats st;
        using (m.EnterSafeRegion())
        {
            st = incremental ? heap.SaveIncrementalSnapshot(image, track) : heap.SaveSnapshot(image);
        }

        Assert.False(st.Incremental); // a failed increment ends its chain
        image.Position = 0;
        using var loaded = Heap.LoadSnapshot(image);
        using var lm = loaded.Heap.AttachCurrentThread();
        Assert.Equal(6, lm.Get(loaded.Roots[0].Ref, loaded.Heap.Types["T"].Field<long>("v")));
        Assert.True(heap.Collect().Verified);
    }

    [Fact]
    public void StatusNamesTheThreadAHandshakeWaitsForAndTheStatisticsKeepIt()
    {
        // Mark start by handshake: the thread that does not poll holds up marking, not the others;
        // the status and the handshake's record name it, and no pause pays for it.
        using var heap = TestHeaps.Create(GcBackend.Move);
        using var blocker = new BlockedMutator(heap, "late");
        blocker.BlockOutsideSafeRegion();
        var collect = new BackgroundCall<CollectionStats>(heap.Collect);

        var status = WaitForStatus(heap, s => s.Handshaking && !s.Stopping && s.Awaited.Any(m => m.Name == "late") && s.HandshakeWaitMs > 1000);
        Assert.Equal(MutatorThreadState.Running, status.Mutators.Single(m => m.Name == "late").State);
        Assert.Contains("handshake waiting", status.ToString());
        Assert.False(collect.IsCompleted);

        blocker.Release();
        Assert.True(collect.Wait(Patience));
        var first = collect.Result.Handshakes[0];
        Assert.Equal(HandshakeKind.MarkStartBarrier, first.Kind);
        Assert.Equal("late", first.AwaitedThread);
        Assert.True(first.Milliseconds > 1000, $"{first}");
        Assert.All(collect.Result.Pauses, p => Assert.True(p.TimeToSafepointMs < 1000, $"{p}"));
    }

    public static TheoryData<GcBackend, string> LaterStops() => new()
    {
        { GcBackend.Move, "MarkEnd" },
        { GcBackend.Copy, "MarkEnd" },
        { GcBackend.Move, "Flip" },
        { GcBackend.Copy, "Flip" },
    };

    [Theory]
    [MemberData(nameof(LaterStops))]
    public void LaterStopsGiveUpTooAndTheNextCollectionIsWhole(GcBackend backend, string stop)
    {
        // Marking has begun (barrier on, marks set), or marking and planning are done and to-space
        // is registered, when the thread blocks: the cycle is abandoned all the same, and the next
        // one must find every object the model has.
        using var heap = TestHeaps.Create(backend, configure: o => o.SafepointTimeout = TimeSpan.FromMilliseconds(100));
        using var m = heap.AttachCurrentThread();
        using var graph = new MirroredGraph(m, new ModelTypes(heap), seed: 11);
        graph.Grow(24, 400);
        using var blocker = new BlockedMutator(heap, "blocks after mark start");
        blocker.WaitInSafeRegion();
        if (stop == "MarkEnd")
        {
            heap.Collector.TestHooks.AfterMarkStart = blocker.BlockOutsideSafeRegion;
        }
        else
        {
            heap.Collector.TestHooks.BeforeFlip = blocker.BlockOutsideSafeRegion;
        }

        var e = Assert.Throws<GcSafepointTimeoutException>(() => heap.Collect());
        Assert.Equal("blocks after mark start", Assert.Single(e.Awaited).Name);
        Assert.Equal(1, heap.AbandonedCollections);
        Assert.Equal(0, heap.CollectionCount);

        heap.Collector.TestHooks.AfterMarkStart = null;
        heap.Collector.TestHooks.BeforeFlip = null;
        blocker.Release();

        // Most of the graph dies, so the next plan is much shorter than the abandoned one: what
        // the abandoned plan said about to-space pages must not survive it.
        while (graph.RootCount > 1)
        {
            graph.Apply(new GraphOp(GraphOpKind.DropRoot));
        }

        for (int round = 0; round < 3; round++)
        {
            for (int i = 0; i < 300; i++)
            {
                graph.Step();
            }

            var stats = heap.Collect();
            Assert.True(stats.Verified);
            Assert.Equal(backend, stats.Backend);
            graph.Compare($"after collection {stats.Cycle}, which followed an abandoned one");
            var report = heap.Verify();
            Assert.True(report.IsValid, report.ToString());
        }
    }

    [Theory]
    [MemberData(nameof(TestHeaps.ConcurrentBackends), MemberType = typeof(TestHeaps))]
    public void ACollectRequestedDuringACycleThatIsAbandonedGivesUpToo(GcBackend backend)
    {
        // Cycle 1 is running (marking has begun) when the second Collect() asks for the cycle
        // after it; cycle 1 is abandoned, so the next one to start is numbered 1 again. The second
        // caller waits for that one, and must hear when it is abandoned as well (it once waited
        // for a cycle 2 that a blocked thread kept from ever starting).
        using var heap = TestHeaps.Create(backend, configure: o => o.SafepointTimeout = TimeSpan.FromMilliseconds(300));
        using var blocker = new BlockedMutator(heap, "blocked");
        blocker.WaitInSafeRegion();
        using var marking = new ManualResetEventSlim();
        heap.Collector.TestHooks.AfterMarkStart = () =>
        {
            blocker.BlockOutsideSafeRegion();
            marking.Set();
        };

        var first = new BackgroundCall<CollectionStats>(heap.Collect);
        Assert.True(marking.Wait(Patience));
        var second = new BackgroundCall<CollectionStats>(heap.Collect);
        Assert.True(first.Wait(Patience), "the first Collect() never returned");
        Assert.True(second.Wait(Patience), "the second Collect() waited past its timeout");
        Assert.IsType<GcSafepointTimeoutException>(first.Error);
        Assert.IsType<GcSafepointTimeoutException>(second.Error);
        Assert.Equal(0, heap.CollectionCount);
        long abandoned = heap.AbandonedCollections;
        Assert.InRange(abandoned, 1, 2);

        // No request is left behind: the collector does not keep retrying for nobody.
        Thread.Sleep(1_000);
        Assert.Equal(abandoned, heap.AbandonedCollections);

        heap.Collector.TestHooks.AfterMarkStart = null;
        blocker.Release();
        var stats = heap.Collect();
        Assert.True(stats.Verified);
        Assert.Equal(1, stats.Cycle);
    }

    private static SafepointStatus WaitForStatus(Heap heap, Func<SafepointStatus, bool> condition)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (DateTime.UtcNow < deadline)
        {
            if (heap.GetSafepointStatus() is { } s && condition(s))
            {
                return s;
            }

            Thread.Sleep(10);
        }

        throw new Xunit.Sdk.XunitException($"the safepoint status never matched: {heap.GetSafepointStatus()}");
    }

    /// <summary>An attached thread that blocks in .NET code, inside or outside a safe region, when told.</summary>
    [Theory]
    [InlineData(GcBackend.Move, true)]
    [InlineData(GcBackend.Move, false)]
    [InlineData(GcBackend.Copy, true)]
    public void AFlipStopAThreadHoldsUpIsGivenUpAndTriedAgainWithABudget(GcBackend backend, bool budgeted)
    {
        // A thread blocked outside a safe region holds the flip's stop up. With
        // HeapOptions.FlipStopBudget the stop is given up (the threads it had parked go on) and tried
        // again; here the thread comes back once the first attempt was given up, and the cycle
        // completes with nothing lost. Without a budget the one stop waits for it.
        using var heap = TestHeaps.Create(backend, configure: o =>
        {
            o.FlipStopBudget = budgeted ? TimeSpan.FromMilliseconds(1) : Timeout.InfiniteTimeSpan;
            o.SafepointTimeout = TimeSpan.FromSeconds(60);
        });
        var types = new ModelTypes(heap);
        using var m = heap.AttachCurrentThread();
        using var graph = new MirroredGraph(m, types, seed: 11);
        graph.Grow(8, 300);
        using var blocker = new BlockedMutator(heap, "late");
        blocker.WaitInSafeRegion();
        heap.Collector.TestHooks.BeforeFlip = () =>
        {
            blocker.BlockOutsideSafeRegion();
            if (!budgeted)
            {
                _ = Task.Delay(100).ContinueWith(_ => blocker.Release(), TaskScheduler.Default);
            }
        };
        heap.Collector.TestHooks.FlipStopGivenUp = _ => blocker.Release();

        var stats = heap.Collect();
        heap.Collector.TestHooks.BeforeFlip = null;
        heap.Collector.TestHooks.FlipStopGivenUp = null;

        Assert.True(stats.Verified);
        if (budgeted)
        {
            Assert.True(stats.FlipStopsGivenUp >= 1, stats.ToString());
            Assert.True(stats.LongestGivenUpStopMs > 0);
        }
        else
        {
            Assert.Equal(0, stats.FlipStopsGivenUp);
            Assert.Equal(0, stats.LongestGivenUpStopMs);
        }

        graph.Compare("after a flip whose stop was held up");
        Assert.True(heap.Verify().IsValid);
    }

    private sealed class BlockedMutator : IDisposable
    {
        private readonly ManualResetEventSlim _blocked = new();
        private readonly ManualResetEventSlim _goOutside = new();
        private readonly ManualResetEventSlim _release = new();
        private readonly Thread _thread;
        private readonly ManualResetEventSlim _attached = new();
        private bool _safeFirst;

        /// <summary>The kernel's id of the thread (gettid).</summary>
        public int OsThreadId { get; private set; }

        public BlockedMutator(Heap heap, string name)
        {
            _thread = new Thread(() =>
            {
                using var m = heap.AttachCurrentThread(name);
                OsThreadId = int.Parse(Path.GetFileName(new FileInfo("/proc/thread-self").LinkTarget!)); // "<pid>/task/<tid>"
                _attached.Set();
                _goOutside.Wait();
                if (_safeFirst)
                {
                    using (m.EnterSafeRegion())
                    {
                        _goOutside.Reset();
                        _blocked.Set();
                        _goOutside.Wait();
                    }
                }

                _blocked.Set();
                _release.Wait(); // blocked in .NET code, Running as far as the heap knows
                m.Safepoint();
            })
            { IsBackground = true, Name = name };
            _thread.Start();
            _attached.Wait();
        }

        /// <summary>Blocks (in a safe region) until <see cref="BlockOutsideSafeRegion"/>.</summary>
        public void WaitInSafeRegion()
        {
            _safeFirst = true;
            _goOutside.Set();
            _blocked.Wait();
            _blocked.Reset();
        }

        public void BlockOutsideSafeRegion()
        {
            _goOutside.Set();
            _blocked.Wait();
        }

        public void Release() => _release.Set();

        public void Dispose()
        {
            _release.Set();
            _goOutside.Set();
            _thread.Join();
        }
    }
}

/// <summary>What a stop-the-world handshake allocates on .NET's heap.</summary>
public class StopAllocationTests
{
    [Fact]
    public void AStopThatWaitsForAThreadAllocatesNothingOnTheDotnetHeap()
    {
        // Any allocation inside a stop can be the one that starts a .NET collection, which then
        // runs inside the pause (a snapshot's 4.6 ms increment pause was 4.0 ms of a gen0 its
        // stopper started: docs/results/2026-12-07/snapshot-first-gc/). The stop copied its list of
        // threads for the spin and its awaited threads into new arrays; now into reused buffers.
        using var heap = TestHeaps.Create(GcBackend.Move, configure: o => o.BackgroundCollection = false);
        int stop = 0;
        long polls = 0;
        using var attached = new ManualResetEventSlim();
        var late = new Thread(() =>
        {
            using var m = heap.AttachCurrentThread("late");
            attached.Set();
            while (Volatile.Read(ref stop) == 0)
            {
                Interlocked.Increment(ref polls);
                Thread.Sleep(5); // outside heap calls well past the stopper's 100 us spin
                m.Safepoint();
            }
        });
        late.Start();
        attached.Wait();
        try
        {
            int awaited = 0;
            // Each stop is requested once the late thread has left its last poll (it is then asleep
            // outside heap calls, so the stop must wait for it), not while it is still parked.
            void AfterNextPoll()
            {
                long seen = Volatile.Read(ref polls);
                var sw = new SpinWait();
                while (Volatile.Read(ref polls) == seen)
                {
                    sw.SpinOnce();
                }
            }

            for (int i = 0; i < 3; i++) // warm: this thread's awaited buffer, first-call paths
            {
                AfterNextPoll();
                _ = heap.Safepoints.StopTheWorld();
                heap.Safepoints.ResumeTheWorld();
            }

            long before = GC.GetAllocatedBytesForCurrentThread();
            for (int i = 0; i < 5; i++)
            {
                AfterNextPoll();
                var r = heap.Safepoints.StopTheWorld();
                awaited += r.AwaitedCount;
                heap.Safepoints.ResumeTheWorld();
            }

            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(awaited > 0, "no stop had to wait for the late thread: the path under test did not run");
            Assert.Equal(0, allocated);
        }
        finally
        {
            Volatile.Write(ref stop, 1);
            late.Join();
        }
    }
}
