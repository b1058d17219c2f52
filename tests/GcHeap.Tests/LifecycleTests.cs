namespace GcHeap.Tests;

/// <summary>
/// Misuse at the edges of a heap's and a thread's lifetime gets a documented exception, never
/// a hang, a race with the collector or a crash (issue 10, items 3 to 6).
/// </summary>
public class LifecycleTests
{
    private static readonly TimeSpan HangGuard = TimeSpan.FromMinutes(1);

    [Theory]
    [MemberData(nameof(TestHeaps.AllBackends), MemberType = typeof(TestHeaps))]
    public void ClosingAScopeInsideASafeRegionIsRejected(GcBackend backend)
    {
        using var heap = TestHeaps.Create(backend, maxBytes: 4 << 20);
        var type = heap.Types.DefineObject("T", t => t.Reference("next").Value<long>("v"));
        var v = type.Field<long>("v");
        using var m = heap.AttachCurrentThread();
        using var root = m.CreateRoot(m.Allocate(type));

        var outer = m.OpenScope();
        var inner = m.OpenScope();
        var obj = m.Allocate(type);
        m.Set(obj, v, 7);
        using (m.EnterSafeRegion())
        {
            // Closing a scope frees slots the collector may be reading or rewriting right now.
            Exception? dispose = null, escape = null;
            try
            {
                inner.Dispose();
            }
            catch (Exception e)
            {
                dispose = e;
            }

            try
            {
                inner.Escape(obj);
            }
            catch (Exception e)
            {
                escape = e;
            }

            Assert.IsType<GcThreadStateException>(dispose);
            Assert.IsType<GcThreadStateException>(escape);
            Assert.Equal(2, m.LocalHandleCount); // nothing was released
            heap.Collect();
        }

        // The scopes still work once the thread left the region.
        var escaped = inner.Escape(obj);
        Assert.Equal(7, m.Get(escaped, v));
        outer.Dispose();
        Assert.Equal(1, m.LocalHandleCount);
        heap.Collect();
        Assert.True(heap.Verify().IsValid);
    }

    [Fact]
    public void CollectAndVerifyFromACompletedHandlerAreRejected()
    {
        using var heap = TestHeaps.Create(GcBackend.StopTheWorld, maxBytes: 1 << 20);
        Exception? fromCollect = null, fromVerify = null;
        int calls = 0;
        heap.CollectionCompleted += _ =>
        {
            if (Interlocked.Increment(ref calls) == 1)
            {
                fromCollect = Record.Exception(() => heap.Collect()); // would wait for itself
                fromVerify = Record.Exception(() => heap.Verify());
            }
        };

        Exception? fromFirst = null;
        var first = new Thread(() => fromFirst = Record.Exception(() => heap.Collect())) { IsBackground = true };
        first.Start();
        Assert.True(first.Join(HangGuard), "Collect() from a CollectionCompleted handler hung the collector");
        Assert.Null(fromFirst);
        Assert.IsType<GcThreadStateException>(fromCollect);
        Assert.IsType<GcThreadStateException>(fromVerify);
        heap.Collect();
        Assert.True(heap.Verify().IsValid);
        Assert.Equal(2, heap.CollectionCount);
    }

    [Fact]
    public void DisposingInAHandlerFailsAQueuedVerifyInsteadOfHangingIt()
    {
        var heap = TestHeaps.Create(GcBackend.StopTheWorld, maxBytes: 1 << 20);
        Thread? verifier = null;
        Exception? fromVerify = null, fromDispose = null;
        heap.CollectionCompleted += _ =>
        {
            verifier = new Thread(() => fromVerify = Record.Exception(() => heap.Verify())) { IsBackground = true };
            verifier.Start();
            // The verification is queued for this (the collector) thread once the verifier waits.
            SpinWait.SpinUntil(() => (verifier.ThreadState & ThreadState.WaitSleepJoin) != 0, HangGuard);
            fromDispose = Record.Exception(heap.Dispose);
        };

        Exception? fromCollect = null;
        var collect = new Thread(() => fromCollect = Record.Exception(() => heap.Collect())) { IsBackground = true };
        collect.Start();
        Assert.True(collect.Join(HangGuard), "Collect() did not return");
        Assert.NotNull(verifier);
        Assert.True(verifier!.Join(HangGuard), "Verify() queued before a Dispose() in a handler hung");
        Assert.Null(fromDispose);
        Assert.True(fromCollect is null or GcHeapDisposedException, $"Collect() threw {fromCollect}");
        Assert.IsType<GcHeapDisposedException>(fromVerify);
        Assert.Throws<GcHeapDisposedException>(() => heap.Verify());
        heap.Dispose();
    }

    /// <summary>
    /// A handler disposes the heap, and its disposal waits for this (running) thread; this thread's
    /// own Dispose must not return before that disposal has finished (found by the stress command:
    /// it returned at once, with the heap half torn down).
    /// </summary>
    [Fact]
    public void SecondDisposeReturnsOnlyOnceTheFirstHasFinished()
    {
        var heap = TestHeaps.Create(GcBackend.Move, maxBytes: 4 << 20);
        var type = heap.Types.DefineObject("T", t => t.Value<long>("v"));
        using var m = heap.AttachCurrentThread();
        using var inHandler = new ManualResetEventSlim();
        using var running = new ManualResetEventSlim();
        heap.CollectionCompleted += _ =>
        {
            inHandler.Set();
            running.Wait(HangGuard);
            heap.Dispose(); // stops the world: waits for this test's thread, running below
        };
        var collect = new Support.BackgroundCall<CollectionStats>(heap.Collect);
        using (m.EnterSafeRegion())
        {
            Assert.True(inHandler.Wait(HangGuard));
        }

        running.Set();
        var deadline = DateTime.UtcNow + HangGuard;
        while (heap.GetSafepointStatus() is not { Stopping: true } s || !s.Awaited.Any())
        {
            Assert.True(DateTime.UtcNow < deadline, $"the handler's disposal never waited for this thread: {heap.GetSafepointStatus()}");
            Thread.Yield();
        }

        heap.Dispose();

        Assert.Throws<GcHeapDisposedException>(() => heap.Types["T"]);
        Assert.Throws<GcHeapDisposedException>(() => m.Allocate(type));
        Assert.True(collect.Wait(HangGuard));
        Assert.True(collect.Error is null or GcHeapDisposedException, $"Collect threw {collect.Error}");
    }

    [Fact]
    public void MutatorDisposeFromAnotherThreadIsRejected()
    {
        using var heap = TestHeaps.Create(GcBackend.StopTheWorld, maxBytes: 1 << 20);
        var type = heap.Types.DefineObject("T", t => t.Value<long>("v"));
        var v = type.Field<long>("v");
        Exception? fromOther = null;
        var errors = new List<Exception>();
        var owner = TestHeaps.StartMutator(heap, "owner", m =>
        {
            var obj = m.Allocate(type);
            using (m.EnterSafeRegion())
            {
                // Another thread tries to detach this mutator while it sits in a safe region.
                var other = new Thread(() => fromOther = Record.Exception(m.Dispose));
                other.Start();
                other.Join();
            }

            // Still attached: the owner goes on using its handles.
            m.Set(obj, v, 5);
            Assert.Equal(5, m.Get(obj, v));
            Assert.Equal(1, heap.AttachedThreads);
        }, errors);
        TestHeaps.JoinAll([owner], HangGuard);
        TestHeaps.ThrowFirst(errors);
        Assert.IsType<GcThreadStateException>(fromOther);
        Assert.Equal(0, heap.AttachedThreads);
        Assert.True(heap.Verify().IsValid);
    }

    [Fact]
    public void EveryMemberOfADisposedHeapThrowsDisposed()
    {
        var heap = TestHeaps.Create(GcBackend.StopTheWorld, maxBytes: 1 << 20);
        var types = heap.Types;
        var type = types.DefineObject("T", t => t.Value<long>("v"));
        var m = heap.AttachCurrentThread();
        var obj = m.Allocate(type);
        var root = m.CreateRoot(obj);
        heap.Dispose();

        Assert.Throws<GcHeapDisposedException>(() => types.DefineObject("U", t => t.Value<long>("v")));
        Assert.Throws<GcHeapDisposedException>(() => types.DefineReferenceArray("refs"));
        Assert.Throws<GcHeapDisposedException>(() => types.DefineDataArray<int>("ints"));
        Assert.Throws<GcHeapDisposedException>(() => types["T"]);
        Assert.Throws<GcHeapDisposedException>(() => types.TryGet("T", out _));
        Assert.Throws<GcHeapDisposedException>(() => types.Count);
        Assert.Throws<GcHeapDisposedException>(() => types.ByteArray);
        Assert.Throws<GcHeapDisposedException>(() => types.ReferenceArray);
        Assert.Throws<GcHeapDisposedException>(() => heap.ResidentBytes);
        Assert.Throws<GcHeapDisposedException>(() => heap.BytesInUse);
        Assert.Throws<GcHeapDisposedException>(() => heap.AttachedThreads);
        Assert.Throws<GcHeapDisposedException>(() => heap.Capabilities);
        Assert.Throws<GcHeapDisposedException>(() => heap.Collect());
        Assert.Throws<GcHeapDisposedException>(() => heap.Verify());
        Assert.Throws<GcHeapDisposedException>(() => heap.AttachCurrentThread());
        Assert.Throws<GcHeapDisposedException>(() => m.EnterSafeRegion());
        Assert.Throws<GcHeapDisposedException>(() => m.OpenScope());
        Assert.Throws<GcHeapDisposedException>(() => m.TypeOf(obj));
        Assert.Throws<GcHeapDisposedException>(() => m.Duplicate(root.Ref));

        // The record of what happened stays readable.
        Assert.Equal(GcBackend.StopTheWorld, heap.Backend);
        Assert.NotEmpty(heap.BackendReason);
        Assert.Equal(0, heap.CollectionCount);
        Assert.Empty(heap.History);
        Assert.Equal(CollectionPhase.Idle, heap.Phase);

        Assert.False(root.Ref.IsNull); // a root stays a value; disposing it is a no-op now
        root.Dispose();
        Assert.True(root.IsDisposed);
        m.Dispose();
        heap.Dispose();
    }

    [Fact]
    public void DisposeAfterAFailedCollectionWaitsForThreadsStillInHeapCode()
    {
        var heap = TestHeaps.Create(GcBackend.StopTheWorld, maxBytes: 1 << 20);
        var type = heap.Types.DefineObject("T", t => t.Value<long>("v"));
        using var attached = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        Exception? afterwards = null;
        var worker = new Thread(() =>
        {
            var m = heap.AttachCurrentThread("worker");
            m.Allocate(type);
            attached.Set();
            release.Wait(); // stands for a thread in the middle of a heap call: running, not polling
            afterwards = Record.Exception(() => m.Allocate(type));
        })
        { IsBackground = true };
        worker.Start();
        attached.Wait();

        heap.Fault(new InvalidOperationException("injected collection failure"));
        var dispose = new Thread(heap.Dispose) { IsBackground = true };
        dispose.Start();

        // Disposal unmaps the heap: it must not finish while the worker may still touch it.
        bool finishedEarly = dispose.Join(TimeSpan.FromMilliseconds(500));
        release.Set();
        Assert.True(worker.Join(HangGuard));
        Assert.True(dispose.Join(HangGuard));
        Assert.False(finishedEarly, "Dispose() unmapped the heap while a thread was still running heap code");
        Assert.IsType<GcCollectionFailedException>(afterwards);
    }

    [Fact]
    public void AfterAFailedCollectionEveryCallSaysSoAttachingIncluded()
    {
        using var heap = TestHeaps.Create(GcBackend.StopTheWorld);
        heap.Fault(new InvalidOperationException("injected collection failure"));
        Exception? attach = null;
        var t = new Thread(() => attach = Record.Exception(() => heap.AttachCurrentThread()));
        t.Start();
        t.Join();
        Assert.IsType<GcCollectionFailedException>(attach);
        Assert.Throws<GcCollectionFailedException>(() => heap.Collect());
    }
}
