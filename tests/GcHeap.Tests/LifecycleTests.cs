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
}
