using Microsoft.Win32.SafeHandles;

namespace GcHeap.Tests;

/// <summary>
/// Bulk operations (fills, copies, comparisons, many-item reads and writes, file I/O) serve a
/// pending stop between chunks, so a thread working through a huge array never holds a pause up
/// for the whole operation. The tests hold the mutator between two chunks until the collector asks
/// for a stop, so every pause of a collection (mark start, mark end, flip) lands in the middle of
/// one operation and the array moves under it; the contents must come out exactly right. They
/// run alone (serial collection): a thread held between chunks keeps a CPU busy, which would
/// disturb the tests that count how the compactor's runs went.
/// </summary>
[Collection(SerialTests.Name)]
public class BulkChunkTests
{
    private const int Longs = 2 << 20; // 16 MiB: 256 chunks

    [Theory]
    [InlineData(GcBackend.Move)]
    [InlineData(GcBackend.Copy)]
    [InlineData(GcBackend.StopTheWorld)]
    public void FillsAndCopiesOfDataArraysLetEveryPauseOfACollectionThrough(GcBackend backend)
    {
        using var heap = TestHeaps.Create(backend, 128L << 20);
        var longs = heap.Types.DefineDataArray<long>("longs");
        using var m = heap.AttachCurrentThread();
        using var array = m.CreateRoot(m.AllocateArray(longs, Longs));

        var s1 = CollectDuring(heap, m, () => m.FillItems(array.Ref, 0, Longs, 7L));
        AssertAll(m, array.Ref, i => 7L);

        // A pattern, then an overlapping copy towards the end of the same array (memmove order).
        var pattern = new long[Longs];
        for (int i = 0; i < Longs; i++)
        {
            pattern[i] = i;
        }

        var s2 = CollectDuring(heap, m, () => m.WriteItems<long>(array.Ref, 0, pattern));
        AssertAll(m, array.Ref, i => i);
        var s3 = CollectDuring(heap, m, () => m.CopyItems<long>(array.Ref, 0, array.Ref, 1000, Longs - 1000));
        AssertAll(m, array.Ref, i => i < 1000 ? i : i - 1000);

        var back = new long[Longs];
        var s4 = CollectDuring(heap, m, () => m.ReadItems<long>(array.Ref, 0, back));
        for (int i = 0; i < Longs; i++)
        {
            Assert.Equal(i < 1000 ? i : i - 1000, back[i]);
        }

        foreach (var s in new[] { s1, s2, s3, s4 })
        {
            Assert.True(s.Verified);
        }
    }

    [Fact]
    public void ReferenceFillsAndCopiesKeepEveryReferenceAcrossTheFlip()
    {
        using var heap = TestHeaps.Create(GcBackend.Move, 128L << 20);
        var node = heap.Types.DefineObject("node", b => b.Value<long>("v"));
        var refs = heap.Types.DefineReferenceArray("refs");
        var v = node.Field<long>("v");
        using var m = heap.AttachCurrentThread();
        const int N = 1 << 20; // 8 MiB of references: 128 chunks
        using var array = m.CreateRoot(m.AllocateArray(refs, N));
        using var a = m.CreateRoot(m.Allocate(node));
        using var b = m.CreateRoot(m.Allocate(node));
        m.Set(a.Ref, v, 1);
        m.Set(b.Ref, v, 2);

        var s1 = CollectDuring(heap, m, () => m.FillElements(array.Ref, 0, N, a.Ref));
        m.FillElements(array.Ref, N / 2, N / 2, b.Ref);
        var s2 = CollectDuring(heap, m, () => m.CopyElements(array.Ref, 0, array.Ref, 100, N - 100)); // overlapping, towards the end
        bool equal = true;
        var s3 = CollectDuring(heap, m, () => equal = m.ElementsEqual(array.Ref, 100, array.Ref, 100, N - 100));
        Assert.True(equal);
        for (int i = 0; i < N; i += 997)
        {
            using var scope = m.OpenScope();
            long expected = i < 100 ? 1 : (i - 100 < N / 2 ? 1 : 2);
            Assert.Equal(expected, m.Get(m.GetElement(array.Ref, i), v));
        }

        Assert.All(new[] { s1, s2, s3 }, s => Assert.True(s.Verified));
    }

    [Fact]
    public void FileTransfersGoInChunksWithSafepointsBetween()
    {
        using var heap = TestHeaps.Create(GcBackend.Move, 128L << 20);
        var bytes = heap.Types.DefineDataArray<byte>("bytes");
        using var m = heap.AttachCurrentThread();
        const int Size = 8 << 20; // 8 system calls
        using var array = m.CreateRoot(m.AllocateArray(bytes, Size));
        var data = new byte[Size];
        new Random(5).NextBytes(data);
        m.WriteItems<byte>(array.Ref, 0, data);

        string path = Path.Combine(Path.GetTempPath(), $"gcheap-bulk-{Environment.ProcessId}-{Guid.NewGuid():N}");
        try
        {
            using (SafeFileHandle f = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite))
            {
                var s1 = CollectDuring(heap, m, () => m.WriteToFile(f, 0, array.Ref, 0, Size));
                m.FillItems<byte>(array.Ref, 0, Size, 0);
                int read = 0;
                var s2 = CollectDuring(heap, m, () => read = m.ReadFromFile(f, 0, array.Ref, 0, Size));
                Assert.Equal(Size, read);
                Assert.True(s1.Verified && s2.Verified);

                // Past the end of the file: a short read, stopping there.
                Assert.Equal(Size - 1000, m.ReadFromFile(f, 1000, array.Ref, 0, Size));
            }

            Assert.True(data.AsSpan().SequenceEqual(File.ReadAllBytes(path)), "the file holds what the array held");
            var back = new byte[Size];
            m.ReadItems<byte>(array.Ref, 0, back);
            Assert.True(data.AsSpan(1000).SequenceEqual(back.AsSpan(0, Size - 1000)), "the short read brought the file's tail");
        }
        finally
        {
            File.Delete(path);
        }
    }

    /// <summary>
    /// Runs <paramref name="operation"/> on the mutator while a collection runs on another thread,
    /// holding the mutator between two chunks until the collector asks for a stop, so each pause
    /// lands inside the operation. Returns the collection's statistics.
    /// </summary>
    private static CollectionStats CollectDuring(Heap heap, Mutator m, Action operation)
    {
        Task<CollectionStats>? collection = null;
        bool completedInside = false;
        long pollsBefore = m.BulkChunkPolls;
        m.BetweenBulkChunks = mm =>
        {
            collection ??= Task.Run(() => heap.Collect());
            // Hold this thread (running, not polling) until the collector wants it, or is done.
            var spin = default(SpinWait);
            while (!collection.IsCompleted && Volatile.Read(ref mm.PollFlag) == 0)
            {
                spin.SpinOnce(); // sleeps after a few spins: the collector needs the CPU more
            }

            completedInside |= collection.IsCompleted;
        };
        try
        {
            operation();
        }
        finally
        {
            m.BetweenBulkChunks = null;
        }

        Assert.NotNull(collection);
        CollectionStats stats;
        using (m.EnterSafeRegion())
        {
            stats = collection!.GetAwaiter().GetResult();
        }

        // Every pause came and went between two chunks of the one operation (a parked thread may
        // sleep through two pauses in a row, so polls can be fewer than pauses).
        Assert.True(completedInside, $"the collection outlasted the operation ({stats})");
        Assert.True(m.BulkChunkPolls > pollsBefore, $"no poll between chunks served a pause ({stats})");
        return stats;
    }

    private static void AssertAll(Mutator m, GcRef array, Func<long, long> expected)
    {
        var values = new long[Longs];
        m.ReadItems<long>(array, 0, values);
        for (int i = 0; i < Longs; i++)
        {
            if (values[i] != expected(i))
            {
                Assert.Fail($"element {i}: {values[i]}, expected {expected(i)}");
            }
        }
    }
}
