namespace GcHeap.Tests;

public class SmokeTests
{
    [Theory]
    [InlineData(GcBackend.StopTheWorld)]
    [InlineData(GcBackend.Copy)]
    [InlineData(GcBackend.Move)]
    public void ListSurvivesCollections(GcBackend backend)
    {
        using var heap = new Heap(new HeapOptions { Backend = backend, MaxHeapBytes = 16 << 20, VerifyHeap = true, BackgroundCollection = false });
        Assert.Equal(backend, heap.Backend);
        var node = heap.Types.DefineObject("Node", t => t.Reference("next").Value<long>("value"));
        var next = node.RefField("next");
        var value = node.Field<long>("value");
        using var m = heap.AttachCurrentThread();

        GcRoot head;
        using (var scope = m.OpenScope())
        {
            var first = m.Allocate(node);
            m.Set(first, value, 0);
            head = m.CreateRoot(first);
            var prev = first;
            for (int i = 1; i < 10000; i++)
            {
                var n = m.Allocate(node);
                m.Set(n, value, i);
                m.SetRef(prev, next, n);
                prev = n;
                if (i % 3 == 0)
                {
                    m.Allocate(node); // garbage
                }
            }
        }

        for (int round = 0; round < 3; round++)
        {
            var stats = heap.Collect();
            Assert.True(stats.Verified);
            using var scope = m.OpenScope();
            var cur = m.Duplicate(head);
            long count = 0;
            while (!cur.IsNull)
            {
                Assert.Equal(count, m.Get(cur, value));
                cur = m.GetRef(cur, next);
                count++;
            }

            Assert.Equal(10000, count);
        }
    }
}
