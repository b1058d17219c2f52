namespace GcHeap.Tests;

/// <summary>The census counts exactly the reachable objects per type, and leaves the heap as it found it.</summary>
public class HeapCensusTests
{
    [Theory]
    [MemberData(nameof(TestHeaps.AllBackends), MemberType = typeof(TestHeaps))]
    public void TheCensusCountsExactlyTheReachableObjectsPerType(GcBackend backend)
    {
        using var heap = TestHeaps.Create(backend);
        var pair = heap.Types.DefineObject("Pair", b => b.Reference("car").Reference("cdr"));
        var box = heap.Types.DefineObject("Box", b => b.Value<long>("v"));
        var longs = heap.Types.DefineDataArray<long>("Longs");
        var unused = heap.Types.DefineObject("Unused", b => b.Value<int>("x"));
        var car = pair.RefField("car");
                using var m = heap.AttachCurrentThread();
        using var list = m.CreateRoot(m.Allocate(pair));

        // 1,000 reachable pairs, each holding a box, plus garbage of every type.
        for (int i = 0; i < 1000; i++)
        {
            using var s = m.OpenScope();
            var p = m.Allocate(pair, m.Allocate(box), list.Ref);
            list.Set(m, p);
            if (i % 10 == 0)
            {
                m.AllocateArray(longs, 100); // garbage
            }

            m.Allocate(pair); // garbage
            m.Allocate(unused); // garbage
        }

        using (m.OpenScope())
        {
            var arrays = m.AllocateArray(longs, 100);
            m.SetRef(list.Ref, car, arrays); // the head's box replaced by an array
        }

        var census = heap.TakeCensus();
        Assert.Equal(1001, census[pair].Count); // 1000 + the root's initial pair
        Assert.Equal(999, census[box].Count);
        Assert.Equal(1, census[longs].Count);
        Assert.Equal(0, census[unused].Count);
        Assert.DoesNotContain(census.Types, t => ReferenceEquals(t.Type, unused));
        Assert.Equal(1001L * pair.InstanceSize, census[pair].Bytes);
        Assert.Equal(999L * box.InstanceSize, census[box].Bytes);
        Assert.Equal(longs.ArraySize(100), census[longs].Bytes);
        Assert.Equal(census.Types.Sum(t => t.Count), census.Objects);
        Assert.True(census.Types.Zip(census.Types.Skip(1)).All(p => p.First.Bytes >= p.Second.Bytes), "most bytes first");
        Assert.Equal(pair, census.Top(1)[0].Type);

        // The census neither moved nor freed anything: a collection afterwards finds the same live set.
        var stats = heap.Collect();
        Assert.True(stats.Verified);
        Assert.Equal(census.Objects, stats.LiveObjects);
        Assert.Equal(census.Bytes, stats.LiveBytes);
        Assert.Equal(census.Objects, heap.TakeCensus().Objects);
    }

    [Fact]
    public void TheCensusRefusesWhereItCannotRun()
    {
        var heap = TestHeaps.Create(GcBackend.Move);
        Exception? inHandler = null;
        heap.CollectionCompleted += _ => inHandler ??= Record.Exception(() => heap.TakeCensus());
        heap.Collect();
        Assert.IsType<GcThreadStateException>(inHandler); // the collector thread cannot wait for itself
        Assert.Equal(0, heap.TakeCensus().Objects); // an empty heap
        heap.Dispose();
        Assert.Throws<GcHeapDisposedException>(() => heap.TakeCensus());
    }
}
