using GcHeap.Threads;
using GcHeap.Tests.Support;

namespace GcHeap.Tests;

/// <summary>
/// A stop that outlasts its 100 us spin puts the stopper to sleep; the thread whose arrival
/// completes the stop hands its CPU to it (<see cref="HeapOptions.StopperHandoff"/>) by
/// restricting the stopper's affinity to its own CPU before waking it, and the stopper gives its
/// mask back as soon as it runs. These tests take that path with a real thread that arrives late
/// and check that nothing of the pinning outlives the stop.
/// </summary>
public class StopperHandoffTests
{
    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void TheLastThreadToParkHandsItsCpuToTheSleepingStopperWhichRestoresItsMask(bool handoff)
    {
        using var heap = TestHeaps.Create(GcBackend.Move, configure: o =>
        {
            o.BackgroundCollection = false;
            o.StopperHandoff = handoff;
        });
        string maskBefore = AllowedCpus();
        using var attached = new ManualResetEventSlim();
        using var stopRequested = new ManualResetEventSlim();
        var late = new Thread(() =>
        {
            using var m = heap.AttachCurrentThread("late");
            attached.Set();
            stopRequested.Wait();

            // Busy outside heap calls well past the stopper's spin, then reach a poll.
            Thread.Sleep(50);
            m.Safepoint();
        });
        late.Start();
        attached.Wait();

        long before = heap.Safepoints.StopperHandoffs;
        var stop = StopRequested(heap, stopRequested);
        try
        {
            Assert.True(stop.WaitMs >= 40, $"the stop waited {stop.WaitMs:F1} ms");
            Assert.Equal(handoff, stop.HandedCpu);
            Assert.Equal(handoff ? before + 1 : before, heap.Safepoints.StopperHandoffs);
            Assert.Equal(maskBefore, AllowedCpus()); // given back before the stop returned
        }
        finally
        {
            heap.Safepoints.ResumeTheWorld();
        }

        late.Join();
        Assert.Equal(maskBefore, AllowedCpus());
    }

    [Fact]
    public void ACollectionWhoseFlipWaitsForALateThreadRecordsTheHandoffInItsPause()
    {
        using var heap = TestHeaps.Create(GcBackend.Move, configure: o =>
        {
            o.BackgroundCollection = false;
            o.MarkStartHandshake = true;
            o.MarkEndHandshake = true;
        });
        var node = heap.Types.DefineObject("node", t => t.Reference("next").Value<long>("v"));
        using var go = new ManualResetEventSlim();
        using var done = new ManualResetEventSlim();
        int flipComing = 0;
        heap.Collector.TestHooks.BeforeFlip = () => Volatile.Write(ref flipComing, 1);
        var late = new Thread(() =>
        {
            using var m = heap.AttachCurrentThread("late");
            using var root = m.CreateRoot(m.Allocate(node));
            go.Set();
            while (!done.IsSet)
            {
                // Polls every millisecond (the handshakes of marking need it), except that once the
                // flip is about to be requested it stays away 20 ms: the flip outlasts the spin.
                Thread.Sleep(1);
                if (Interlocked.Exchange(ref flipComing, 0) == 1)
                {
                    Thread.Sleep(20);
                }

                m.Safepoint();
            }
        });
        late.Start();
        go.Wait();
        var stats = heap.Collect();
        done.Set();
        late.Join();
        heap.Collector.TestHooks.BeforeFlip = null;

        Assert.True(stats.Verified);
        var flip = Assert.Single(stats.Pauses, p => p.Kind == PauseKind.Flip);
        Assert.True(flip.TimeToSafepointMs > 1, $"time to safepoint {flip.TimeToSafepointMs:F2} ms");
        Assert.True(flip.StopperHandoff, $"flip {flip.Milliseconds:F2} ms, time to safepoint {flip.TimeToSafepointMs:F2} ms");
    }

    private static StopResult StopRequested(Heap heap, ManualResetEventSlim stopRequested)
    {
        // The late thread learns of the stop only after the poll flags are set (it sleeps 50 ms first).
        stopRequested.Set();
        return heap.Safepoints.StopTheWorld();
    }

    /// <summary>This thread's allowed CPUs, as the kernel reports them.</summary>
    private static string AllowedCpus() =>
        File.ReadAllLines("/proc/thread-self/status").Single(l => l.StartsWith("Cpus_allowed_list:", StringComparison.Ordinal));
}
