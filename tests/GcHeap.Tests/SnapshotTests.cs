using System.Diagnostics;
using GcHeap.Model;
using GcHeap.Tests.Support;

namespace GcHeap.Tests;

/// <summary>
/// Live snapshots: saved while mutators mutate, loaded into a new heap, compared with the graph
/// captured inside the snapshot's pause (a test hook) or with the .NET model when quiescent; the
/// paths taken are asserted through the counters (pages saved by fault, protected in the pause,
/// copied in the pause); misuse and corrupt files throw their documented exceptions.
/// </summary>
public class SnapshotTests
{
    private static Heap NewHeap(Action<HeapOptions>? configure = null) => TestHeaps.Create(GcBackend.Move, configure: configure);

    [Theory]
    [MemberData(nameof(TestHeaps.AllBackends), MemberType = typeof(TestHeaps))]
    public void QuiescentSnapshotLoadsToTheModelsGraphWithNamedRoots(GcBackend backend)
    {
        using var heap = TestHeaps.Create(backend);
        var types = new ModelTypes(heap);
        using var m = heap.AttachCurrentThread();
        using var graph = new MirroredGraph(m, types, seed: 3);
        graph.Grow(12, 200);
        heap.Collect(); // objects in the other space: the snapshot does not assume space A
        graph.Compare("before saving");

        var names = graph.NamedRoots("r").ToDictionary(x => x.Name, x => x.Root);
        var ms = new MemoryStream();
        var st = heap.SaveSnapshot(ms, new SnapshotOptions { RootNames = names });
        Assert.True(st.Live, st.FallbackReason);
        Assert.Equal(names.Count, st.Roots);
        Assert.Equal(st.Pages, st.PagesSavedInBackground + st.PagesSavedByFault);
        Assert.Equal(0, st.PagesCopiedInPause);
        Assert.Equal(ms.Length, st.BytesWritten);

        ms.Position = 0;
        using var loaded = Heap.LoadSnapshot(ms, new HeapOptions { MaxHeapBytes = 64 << 20, VerifyHeap = true, BackgroundCollection = false });
        var h2 = loaded.Heap;
        Assert.NotNull(h2.Types["ModelNode"]);
        using var m2 = h2.AttachCurrentThread();
        long n = graph.CompareWith(m2, new ModelTypes(h2), i => loaded.Root($"r{i}").Ref, "in the loaded heap");
        Assert.True(n > 20, $"{n} objects compared");

        // The loaded heap is a heap like any other: it collects, allocates and verifies.
        var cs = h2.Collect();
        Assert.True(cs.Verified);
        graph.CompareWith(m2, new ModelTypes(h2), i => loaded.Root($"r{i}").Ref, "after a collection of the loaded heap");

        // And the saving heap was not disturbed.
        graph.Compare("after saving");
        Assert.True(heap.Collect().Verified);
    }

    [Fact]
    public void SnapshotWhileMutatorsMutateEqualsTheGraphAtThePause()
    {
        const int Threads = 3;
        using var heap = NewHeap(o => o.MaxHeapBytes = 128 << 20);
        var types = new ModelTypes(heap);

        // Ballast first, so the mutators' graphs lie beyond what the saver stages while the writer is held.
        var ballast = new List<GcRoot>();
        using (var setup = heap.AttachCurrentThread("setup"))
        {
            for (int i = 0; i < 64; i++)
            {
                using var s = setup.OpenScope();
                ballast.Add(setup.CreateRoot(setup.AllocateArray(heap.Types.ByteArray, 8000)));
            }
        }

        var errors = new List<Exception>();
        using var ready = new CountdownEvent(Threads);
        int stop = 0;
        long stepsAfterPause = 0;
        int paused = 0;
        var threads = Enumerable.Range(0, Threads).Select(i => TestHeaps.StartMutator(heap, $"mutator-{i}", m =>
        {
            using var graph = new MirroredGraph(m, types, seed: 70 + i, owner: i + 1);
            graph.Grow(8, 150);
            ready.Signal();
            while (Volatile.Read(ref stop) == 0)
            {
                graph.Step();
                if (Volatile.Read(ref paused) != 0)
                {
                    Interlocked.Increment(ref stepsAfterPause);
                }
            }

            graph.Compare($"on {m.Name} after the snapshot");
        }, errors)).ToList();
        Assert.True(ready.Wait(TimeSpan.FromSeconds(60)), "mutators did not start");

        GraphDump.Result atPause = default;
        heap.SnapshotHooks.InPause = () => atPause = GraphDump.Of(heap, GraphDump.GlobalRoots(heap));
        heap.SnapshotHooks.AfterPause = () =>
        {
            // Hold the writer (the saver runs at most WindowPages ahead of it) until the mutators
            // have written for a while: their writes to pages not saved yet must be saved first.
            Volatile.Write(ref paused, 1);
            Assert.True(SpinWait.SpinUntil(() => Interlocked.Read(ref stepsAfterPause) >= 3000 || errors.Count > 0, TimeSpan.FromSeconds(60)));
        };

        var ms = new MemoryStream();
        long saveStarted = System.Diagnostics.Stopwatch.GetTimestamp();
        var st = heap.SaveSnapshot(ms, new SnapshotOptions { WindowPages = 64 });
        Volatile.Write(ref stop, 1);
        TestHeaps.JoinAll(threads, TimeSpan.FromSeconds(60));
        TestHeaps.ThrowFirst(errors);

        Assert.True(st.Live, st.FallbackReason);
        Assert.True(st.PagesSavedByFault > 0, st.ToString());
        Assert.True(st.WriteFaults >= st.PagesSavedByFault, st.ToString());
        AssertEveryPageSavedOnce(st);
        Assert.True(st.PagesProtected > 0);
        Assert.True(atPause.Objects > 100, $"{atPause.Objects} objects at the pause");

        // The pause lines up with a trace: it began inside the call, and names what it waited for.
        Assert.InRange(st.PauseStartTimestamp, saveStarted, System.Diagnostics.Stopwatch.GetTimestamp());
        Assert.True(st.SafepointAwaitedThread is null ? st.SafepointAwaitedOsThreadId == 0 : st.SafepointAwaitedOsThreadId > 0, st.ToString());
        Assert.True(st.NetGcPauseMsDuringPause >= 0 && (st.NetGcsDuringPause > 0 || st.NetGcPauseMsDuringPause == 0), st.ToString());

        ms.Position = 0;
        using var loaded = Heap.LoadSnapshot(ms);
        var after = GraphDump.Of(loaded.Heap, GraphDump.Addresses(loaded.Heap, loaded.Roots));
        Assert.Equal(atPause.Roots, after.Roots);
        Assert.Equal(atPause.Objects, after.Objects);
        Assert.Equal(atPause.Hash, after.Hash);

        // Mutators kept going: the live heap moved on from the pause.
        var now = GraphDump.Of(heap, GraphDump.GlobalRoots(heap));
        Assert.NotEqual(atPause.Hash, now.Hash);
        Assert.True(heap.Verify().IsValid);
        foreach (var b in ballast)
        {
            b.Dispose();
        }
    }

    [Fact]
    public void WithoutWriteProtectEveryPageIsCopiedInThePause()
    {
        using var heap = NewHeap(o => o.DisabledKernelFeatures = KernelFeatures.WriteProtect);
        Assert.False(heap.Capabilities.LiveSnapshots);
        Assert.Contains("DisabledKernelFeatures", heap.Capabilities.LiveSnapshotUnavailableReason, StringComparison.Ordinal);
        var types = new ModelTypes(heap);
        using var m = heap.AttachCurrentThread();
        using var graph = new MirroredGraph(m, types, seed: 11);
        graph.Grow(6, 200);
        GraphDump.Result atPause = default;
        heap.SnapshotHooks.InPause = () => atPause = GraphDump.Of(heap, GraphDump.GlobalRoots(heap));
        var ms = new MemoryStream();
        var st = heap.SaveSnapshot(ms);
        Assert.False(st.Live);
        Assert.Contains("DisabledKernelFeatures", st.FallbackReason, StringComparison.Ordinal);
        Assert.Equal(st.Pages, st.PagesCopiedInPause);
        Assert.Equal(0, st.WriteFaults);
        Assert.Equal(0, st.PagesProtected);
        ms.Position = 0;
        using var loaded = Heap.LoadSnapshot(ms);
        Assert.Equal(atPause.Hash, GraphDump.Of(loaded.Heap, GraphDump.Addresses(loaded.Heap, loaded.Roots)).Hash);
    }

    [Fact]
    public void CorruptTruncatedAndForeignFilesThrowFormatExceptions()
    {
        byte[] file;
        using (var heap = NewHeap(o => o.NurseryBytes = 0)) // the last bytes are then the graph's last page
        {
            var types = new ModelTypes(heap);
            using var m = heap.AttachCurrentThread();
            using var graph = new MirroredGraph(m, types, seed: 5);
            graph.Grow(4, 100);
            var ms = new MemoryStream();
            heap.SaveSnapshot(ms);
            file = ms.ToArray();
        }

        using (var ok = Heap.LoadSnapshot(new MemoryStream(file)))
        {
            Assert.True(ok.Roots.Count > 0);
        }

        var flipped = (byte[])file.Clone();
        flipped[file.Length - 100] ^= 0x40; // inside the last page
        Assert.Contains("checksum", Assert.Throws<GcSnapshotFormatException>(() => Heap.LoadSnapshot(new MemoryStream(flipped))).Message, StringComparison.Ordinal);
        Assert.Contains("truncated", Assert.Throws<GcSnapshotFormatException>(() => Heap.LoadSnapshot(new MemoryStream(file[..(file.Length / 2)]))).Message, StringComparison.Ordinal);
        Assert.Contains("trailer", Assert.Throws<GcSnapshotFormatException>(() => Heap.LoadSnapshot(new MemoryStream(file[..^10]))).Message, StringComparison.Ordinal);
        var foreign = (byte[])file.Clone();
        foreign[0] = (byte)'X';
        Assert.Contains("magic", Assert.Throws<GcSnapshotFormatException>(() => Heap.LoadSnapshot(new MemoryStream(foreign))).Message, StringComparison.Ordinal);
        var future = (byte[])file.Clone();
        future[8] = 99;
        Assert.Contains("version 99", Assert.Throws<GcSnapshotFormatException>(() => Heap.LoadSnapshot(new MemoryStream(future))).Message, StringComparison.Ordinal);
        Assert.Throws<ArgumentOutOfRangeException>(() => Heap.LoadSnapshot(new MemoryStream(file), new HeapOptions { MaxHeapBytes = 4096 * 4 }));
        Assert.Throws<ArgumentNullException>(() => Heap.LoadSnapshot((Stream)null!));
    }

    [Fact]
    public void SavingAndLoadingKeepsTheHeapLimitAndReadsVersionOneFiles()
    {
        const long limit = 64L << 20;
        byte[] file;
        SnapshotStats st;
        using (var heap = TestHeaps.Create(GcBackend.Move, maxBytes: limit))
        {
            var types = new ModelTypes(heap);
            using var m = heap.AttachCurrentThread();
            using var graph = new MirroredGraph(m, types, seed: 9);
            graph.Grow(4, 100);
            var ms = new MemoryStream();
            st = heap.SaveSnapshot(ms);
            file = ms.ToArray();
        }

        // Three generations: the limit stays the saving heap's (it once grew by the nursery each time).
        for (int generation = 0; generation < 3; generation++)
        {
            using var loaded = Heap.LoadSnapshot(new MemoryStream(file));
            Assert.Equal(limit, loaded.Info.CapacityBytes);
            Assert.Equal(limit, loaded.Heap.Configuration.MaxHeapBytes);
            Assert.Equal(st.Types, loaded.Info.Types);
            Assert.Equal(2, loaded.Info.Version);
            var ms = new MemoryStream();
            st = loaded.Heap.SaveSnapshot(ms);
            file = ms.ToArray();
        }

        // A version 1 file (no limit field) loads with its capacity as the limit, as it always did.
        const int limitOffset = 8 + 4 + 4 + 8 + 8 + 8 + 4 + 4;
        byte[] v1 = [.. file.AsSpan(0, limitOffset), .. file.AsSpan(limitOffset + 4, file.Length - 16 - limitOffset - 4)];
        v1[8] = 1;
        var sum = GcHeap.Snapshots.Checksum64.Create();
        sum.Append(v1);
        byte[] trailer = new byte[16];
        "GCHSEND1"u8.CopyTo(trailer);
        System.Buffers.Binary.BinaryPrimitives.WriteUInt64LittleEndian(trailer.AsSpan(8), sum.Value);
        using var old = Heap.LoadSnapshot(new MemoryStream([.. v1, .. trailer]));
        Assert.Equal(1, old.Info.Version);
        Assert.True(old.Info.CapacityBytes >= limit);
        Assert.True(old.Heap.Verify().IsValid);
    }

    [Fact]
    public void AStreamThatThrowsLeavesNoProtectionAndTheHeapGoesOn()
    {
        using var heap = NewHeap();
        var types = new ModelTypes(heap);
        var errors = new List<Exception>();
        int stop = 0;
        var t = TestHeaps.StartMutator(heap, "mutator", m =>
        {
            using var graph = new MirroredGraph(m, types, seed: 21);
            graph.Grow(8, 200);
            while (Volatile.Read(ref stop) == 0)
            {
                graph.Step();
            }

            graph.Compare("after the failed snapshot");
        }, errors);
        SpinWait.SpinUntil(() => heap.BytesInUse > (2 << 20), TimeSpan.FromSeconds(30));

        var e = Assert.Throws<IOException>(() => heap.SaveSnapshot(new FailingStream(100_000)));
        Assert.Contains("disk full", e.Message, StringComparison.Ordinal);

        // No write-protection is left: the mutator runs on, collections run, a new snapshot works.
        Assert.True(heap.Collect().Verified);
        var st = heap.SaveSnapshot(Stream.Null);
        Assert.True(st.Live);
        Volatile.Write(ref stop, 1);
        TestHeaps.JoinAll([t], TimeSpan.FromSeconds(60));
        TestHeaps.ThrowFirst(errors);
        Assert.Throws<ArgumentException>(() => heap.SaveSnapshot(new MemoryStream([], writable: false)));
        Assert.Throws<ArgumentOutOfRangeException>(() => heap.SaveSnapshot(Stream.Null, new SnapshotOptions { WindowPages = 1 }));
    }

    [Fact]
    public void DisposingTheHeapDuringASnapshotStopsItWithoutAHang()
    {
        var heap = NewHeap();
        var types = new ModelTypes(heap);
        var errors = new List<Exception>();

        // The graph's roots outlive its thread (the graph is not disposed); this thread is not
        // attached, so the disposal has no running mutator to wait for.
        var builder = TestHeaps.StartMutator(heap, "builder", m => new MirroredGraph(m, types, seed: 8).Grow(8, 200), errors);
        TestHeaps.JoinAll([builder], TimeSpan.FromSeconds(60));
        TestHeaps.ThrowFirst(errors);

        Thread? disposer = null;
        heap.SnapshotHooks.AfterPause = () =>
        {
            disposer = new Thread(heap.Dispose);
            disposer.Start();
            Assert.True(SpinWait.SpinUntil(() => heap.IsDisposing, TimeSpan.FromSeconds(30)));
        };
        Assert.Throws<GcHeapDisposedException>(() => heap.SaveSnapshot(Stream.Null));
        Assert.True(disposer!.Join(TimeSpan.FromSeconds(60)), "Dispose hung");
        Assert.Throws<GcHeapDisposedException>(() => heap.SaveSnapshot(Stream.Null));
    }

    [Fact]
    public void ASnapshotRequestedDuringACollectionWaitsForIt()
    {
        using var heap = NewHeap(o => o.SweepDelayMicros = 2000);
        var types = new ModelTypes(heap);
        using var m = heap.AttachCurrentThread();
        using var graph = new MirroredGraph(m, types, seed: 9);
        graph.Grow(8, 200);
        var collecting = new Thread(() => heap.Collect());
        collecting.Start();
        Assert.True(SpinWait.SpinUntil(() => { m.Safepoint(); return heap.Phase != CollectionPhase.Idle; }, TimeSpan.FromSeconds(30)));
        long before = heap.CollectionCount;
        GraphDump.Result atPause = default;
        heap.SnapshotHooks.InPause = () => atPause = GraphDump.Of(heap, GraphDump.GlobalRoots(heap));
        var ms = new MemoryStream();
        var st = heap.SaveSnapshot(ms); // this thread is in a safe region meanwhile: the cycle can stop it
        Assert.True(collecting.Join(TimeSpan.FromSeconds(60)));
        Assert.True(heap.CollectionCount > before, "the snapshot ran before the collection finished");
        Assert.True(st.Live);
        ms.Position = 0;
        using var loaded = Heap.LoadSnapshot(ms);
        Assert.Equal(atPause.Hash, GraphDump.Of(loaded.Heap, GraphDump.Addresses(loaded.Heap, loaded.Roots)).Hash);
        graph.Compare("after");
    }

    [Fact]
    public void SavingToAPathOpensTheFileInsideTheSafeRegionSoACollectionNeverWaitsForIt()
    {
        using var heap = NewHeap();
        var types = new ModelTypes(heap);
        using var m = heap.AttachCurrentThread();
        using var graph = new MirroredGraph(m, types, seed: 11);
        graph.Grow(8, 200);
        var names = graph.NamedRoots("r").ToDictionary(x => x.Name, x => x.Root);
        string dir = Directory.CreateTempSubdirectory("gcheap-path-").FullName;
        try
        {
            // Options are checked before the file is touched.
            string existing = Path.Combine(dir, "existing.snap");
            File.WriteAllBytes(existing, [1, 2, 3]);
            Assert.Throws<ArgumentOutOfRangeException>(() => heap.SaveSnapshot(existing, new SnapshotOptions { PauseCopyPages = -1 }));
            Assert.Equal(3, new FileInfo(existing).Length);

            // Opening a FIFO for writing blocks until a reader opens it (as replacing a large file
            // can take a file system hundreds of milliseconds). The saving thread is attached and
            // inside a heap call; a collection requested meanwhile must not wait for that open.
            string fifo = Path.Combine(dir, "snapshot.fifo");
            Fifo.Create(fifo);
            var saving = new BackgroundCall<SnapshotStats>(() =>
            {
                using var sm = heap.AttachCurrentThread();
                return heap.SaveSnapshot(fifo, new SnapshotOptions { RootNames = names });
            });
            var collecting = new BackgroundCall<CollectionStats>(heap.Collect);
            bool collected;
            var image = new MemoryStream();
            using (m.EnterSafeRegion()) // this thread blocks too: the snapshot's own pause must not wait for it
            {
                collected = collecting.Wait(TimeSpan.FromSeconds(60));

                // The saving thread is now blocked in its open, or failed before it: opening the
                // read end would then wait forever for a writer, so its error is reported instead.
                Assert.False(saving.IsCompleted, $"the snapshot ended before opening its file: {saving.Error}");
                using (var reader = Fifo.OpenReader(fifo))
                {
                    reader.CopyTo(image);
                }

                Assert.True(saving.Wait(TimeSpan.FromSeconds(60)), "the snapshot did not finish once the file was read");
            }

            Assert.True(collected, "the collection waited for a thread opening its snapshot file");
            Assert.True(collecting.Result.Verified);
            var st = saving.Result;
            Assert.Equal(image.Length, st.BytesWritten);
            image.Position = 0;
            using (var loaded = Heap.LoadSnapshot(image))
            {
                using var m2 = loaded.Heap.AttachCurrentThread();
                graph.CompareWith(m2, new ModelTypes(loaded.Heap), i => loaded.Root($"r{i}").Ref, "loaded from the FIFO");
            }

            // The incremental overload: a chain of two files, loaded back to the graph at the second.
            string basePath = Path.Combine(dir, "base.snap");
            string incPath = Path.Combine(dir, "inc.snap");
            Assert.False(heap.SaveSnapshot(basePath, new SnapshotOptions { TrackChanges = true, RootNames = names }).Incremental);
            for (int i = 0; i < 300; i++)
            {
                graph.Step(allowRootChanges: false);
            }

            var inc = heap.SaveIncrementalSnapshot(incPath, new SnapshotOptions { RootNames = names });
            Assert.True(inc.Incremental, inc.IncrementalFallbackReason);
            Assert.Equal(new FileInfo(incPath).Length, inc.BytesWritten);
            using (var b = File.OpenRead(basePath))
            using (var i = File.OpenRead(incPath))
            using (var loaded = Heap.LoadSnapshot([b, i]))
            {
                using var m2 = loaded.Heap.AttachCurrentThread();
                graph.CompareWith(m2, new ModelTypes(loaded.Heap), k => loaded.Root($"r{k}").Ref, "loaded from base + increment files");
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void SavingToAPathAllocatesLittleOnTheDotnetHeap()
    {
        // Each snapshot used to allocate a 1 MiB file buffer and a copy of the page-kind table (one
        // byte per page, 0.4 MB at 1 GiB): large objects, whose budget brought .NET gen2
        // collections during snapshots, suspending the mutators inside the snapshot's pause
        // (docs/results/2026-12-07/snapshot-alloc/). Now the buffer is 64 KiB and the table is not
        // copied: a save of this heap allocates well under the old buffer alone.
        using var heap = NewHeap(o => o.MaxHeapBytes = 256 << 20);
        var types = new ModelTypes(heap);
        using var m = heap.AttachCurrentThread();
        using var graph = new MirroredGraph(m, types, seed: 12);
        graph.Grow(40, 2000);
        string dir = Directory.CreateTempSubdirectory("gcheap-alloc-").FullName;
        try
        {
            string path = Path.Combine(dir, "a.snap");
            heap.SaveSnapshot(path); // the first call initialises lazily and sizes the reused kind buffer
            long before = GC.GetAllocatedBytesForCurrentThread();
            var st = heap.SaveSnapshot(path);
            long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
            Assert.True(st.Live, st.FallbackReason);
            Assert.True(allocated < 256 << 10, $"a snapshot of {st.Pages} pages allocated {allocated:N0} bytes on .NET's heap");
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void IncrementsWhileMutatorsMutateRestoreTheGraphAtEachPause()
    {
        const int Threads = 2;
        using var heap = NewHeap(o => o.MaxHeapBytes = 128 << 20);
        var types = new ModelTypes(heap);
        var errors = new List<Exception>();
        using var ready = new CountdownEvent(Threads);
        int stop = 0;
        long steps = 0;
        var threads = Enumerable.Range(0, Threads).Select(i => TestHeaps.StartMutator(heap, $"mutator-{i}", m =>
        {
            using var graph = new MirroredGraph(m, types, seed: 300 + i, owner: i + 1);
            graph.Grow(8, 150);
            ready.Signal();
            while (Volatile.Read(ref stop) == 0)
            {
                graph.Step();
                Interlocked.Increment(ref steps);
            }

            graph.Compare($"on {m.Name} after the increments");
        }, errors)).ToList();
        Assert.True(ready.Wait(TimeSpan.FromSeconds(60)), "mutators did not start");

        var dumps = new List<GraphDump.Result>();
        var files = new List<byte[]>();
        var stats = new List<SnapshotStats>();
        heap.SnapshotHooks.InPause = () => dumps.Add(GraphDump.Of(heap, GraphDump.GlobalRoots(heap)));
        for (int k = 0; k < 3; k++)
        {
            long at = Interlocked.Read(ref steps);
            Assert.True(SpinWait.SpinUntil(() => Interlocked.Read(ref steps) >= at + 2000 || errors.Count > 0, TimeSpan.FromSeconds(60)));
            var ms = new MemoryStream();
            stats.Add(k == 0 ? heap.SaveSnapshot(ms, new SnapshotOptions { TrackChanges = true }) : heap.SaveIncrementalSnapshot(ms));
            files.Add(ms.ToArray());
        }

        Volatile.Write(ref stop, 1);
        TestHeaps.JoinAll(threads, TimeSpan.FromSeconds(60));
        TestHeaps.ThrowFirst(errors);

        Assert.False(stats[0].Incremental);
        Assert.Equal(stats[0].Pages, stats[0].PagesInImage);
        for (int k = 1; k < 3; k++)
        {
            var st = stats[k];
            Assert.True(st.Incremental, st.IncrementalFallbackReason);
            Assert.Equal(stats[k - 1].Id, st.ParentId);
            Assert.True(st.PagesInImage < st.Pages, st.ToString()); // only what was written or allocated since
            Assert.True(st.PagesWrittenSincePrevious > 0, st.ToString());
            Assert.True(st.BytesWritten < st.Pages * 4096, st.ToString()); // less than a full image of the same heap
        }

        // A page written after its save is tracked (a fault); a page written around the pause is
        // copied in the pause and stays writable, counted as written for the next increment
        // without a fault. These mutators write a few hot pages, so either may take all of them.
        Assert.True(stats.Sum(s => s.TrackedWrites + s.DirtyPagesCopiedInPause) > 0, "no write after a save was tracked or copied in a pause");
        for (int k = 0; k < 3; k++)
        {
            using var loaded = Heap.LoadSnapshot(files.Take(k + 1).Select(f => (Stream)new MemoryStream(f)).ToList());
            Assert.Equal(k + 1, loaded.Info.Files);
            var d = GraphDump.Of(loaded.Heap, GraphDump.Addresses(loaded.Heap, loaded.Roots));
            Assert.Equal(dumps[k].Objects, d.Objects);
            Assert.Equal(dumps[k].Hash, d.Hash);
        }

        Assert.Contains("order", Assert.Throws<GcSnapshotFormatException>(() => Heap.LoadSnapshot([new MemoryStream(files[0]), new MemoryStream(files[2])])).Message, StringComparison.Ordinal);
        Assert.Contains("increment", Assert.Throws<GcSnapshotFormatException>(() => Heap.LoadSnapshot(new MemoryStream(files[1]))).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ACollectionEndsTheChainAndTheNextIncrementIsFull()
    {
        using var heap = NewHeap();
        var types = new ModelTypes(heap);
        using var m = heap.AttachCurrentThread();
        using var graph = new MirroredGraph(m, types, seed: 13);
        graph.Grow(6, 150);
        var first = heap.SaveIncrementalSnapshot(Stream.Null);
        Assert.False(first.Incremental);
        Assert.Contains("TrackChanges", first.IncrementalFallbackReason, StringComparison.Ordinal);

        // The first snapshot went on tracking (an incremental request keeps tracking): the next one is an increment.
        for (int i = 0; i < 200; i++)
        {
            graph.Step();
        }

        var second = heap.SaveIncrementalSnapshot(Stream.Null);
        Assert.True(second.Incremental, second.IncrementalFallbackReason);
        Assert.True(heap.Collect().Verified); // tracking stops: every object moves
        var third = heap.SaveIncrementalSnapshot(Stream.Null);
        Assert.False(third.Incremental);
        Assert.Contains("collection", third.IncrementalFallbackReason, StringComparison.Ordinal);
        Assert.Equal(third.Pages, third.PagesInImage);
        graph.Compare("after the chain ended");
    }

    /// <summary>
    /// Three 16 KiB byte arrays A, B, C allocated one after another (B's first page lies between
    /// A's and C's, within one re-protect run), after <paramref name="fillerArrays"/> 8,000-byte
    /// arrays; named roots "a", "b", "c".
    /// </summary>
    private static Dictionary<string, GcRoot> ThreeArrays(Heap heap, Mutator m, int fillerArrays)
    {
        var roots = new Dictionary<string, GcRoot>();
        using (m.OpenScope())
        {
            for (int i = 0; i < fillerArrays; i++)
            {
                roots[$"filler{i}"] = m.CreateRoot(m.AllocateArray(heap.Types.ByteArray, 8000));
            }

            foreach (var name in new[] { "a", "b", "c" })
            {
                roots[name] = m.CreateRoot(m.AllocateArray(heap.Types.ByteArray, 16384));
            }
        }

        return roots;
    }

    /// <summary>Writes <paramref name="value"/> into byte 0 of <paramref name="array"/> from a thread of its own; false if it did not finish within 30 s (held in a fault).</summary>
    private static bool WriteWithin(Heap heap, GcRoot array, byte value)
    {
        var t = new Thread(() =>
        {
            using var w = heap.AttachCurrentThread();
            w.SetItem<byte>(array.Ref, 0, value);
        })
        { IsBackground = true, Name = "snapshot writer" };
        t.Start();
        return t.Join(TimeSpan.FromSeconds(30));
    }

    /// <summary>Saves on a thread of its own while <paramref name="m"/> waits in a safe region; returns the stats.</summary>
    private static SnapshotStats SaveBeside(Heap heap, Mutator m, Stream stream, SnapshotOptions options)
    {
        var save = new BackgroundCall<SnapshotStats>(() => heap.SaveSnapshot(stream, options));
        using (m.EnterSafeRegion())
        {
            Assert.True(save.Wait(TimeSpan.FromSeconds(120)), "the snapshot did not finish");
        }

        return save.Result;
    }

    /// <summary>Every page of the image was saved exactly one way: in the background, by fault, or copied in the pause.</summary>
    private static void AssertEveryPageSavedOnce(SnapshotStats st) =>
        Assert.Equal(st.Pages, st.PagesSavedInBackground + st.PagesSavedByFault + st.DirtyPagesCopiedInPause + st.NewPagesCopiedInPause);

    /// <summary>A live save with one pre-copy round (the hooks stage the writes): no write hung, every page saved once.</summary>
    private static SnapshotStats SaveOneRoundBeside(Heap heap, Mutator m, MemoryStream ms, Dictionary<string, GcRoot> roots, int pauseCopyPages, List<string> hung)
    {
        var st = SaveBeside(heap, m, ms, new SnapshotOptions { RootNames = roots, MaxPrecopyRounds = 1, PauseCopyPages = pauseCopyPages, WindowPages = 64 });
        Assert.Empty(hung);
        Assert.True(st.Live, st.FallbackReason);
        AssertEveryPageSavedOnce(st);
        return st;
    }

    /// <summary>Byte 0 of the arrays "a", "b", "c" in the heap loaded from <paramref name="ms"/>.</summary>
    private static (byte A, byte B, byte C) LoadedFirstBytes(MemoryStream ms)
    {
        ms.Position = 0;
        using var loaded = Heap.LoadSnapshot(ms);
        using var m2 = loaded.Heap.AttachCurrentThread();
        return (m2.GetItem<byte>(loaded.Root("a").Ref, 0), m2.GetItem<byte>(loaded.Root("b").Ref, 0), m2.GetItem<byte>(loaded.Root("c").Ref, 0));
    }

    [Fact]
    public void AWriteDuringAPrecopyRoundIsServedAndAPageProtectedAgainAcrossAGapIsReleasedAgain()
    {
        // A round takes its list under the saver's lock and re-protects without it, joining
        // neighbouring pages into one ioctl across gaps. Staged for real: A and C are written
        // before round 0 (listed), B between them is written after the list is taken (served at
        // once, listed for the next round) and then protected again by the run [A, C]; B's next
        // write must be let through (unprotected again), not woken into the same fault forever.
        using var heap = NewHeap();
        using var m = heap.AttachCurrentThread();
        var roots = ThreeArrays(heap, m, fillerArrays: 0);
        GcRoot a = roots["a"], b = roots["b"], c = roots["c"];
        var hung = new List<string>();
        heap.SnapshotHooks.BeforeRound = round =>
        {
            if (round == 0 && (!WriteWithin(heap, a, 1) || !WriteWithin(heap, c, 1)))
            {
                hung.Add("a pre-copy write did not complete");
            }
            else if (round == 1 && !WriteWithin(heap, b, 2))
            {
                hung.Add("the write to B after its page was protected again never completed");
            }
        };
        heap.SnapshotHooks.RoundTaken = round =>
        {
            if (round == 0 && !WriteWithin(heap, b, 1))
            {
                hung.Add("a write during the round's ioctls waited for the round");
            }
        };
        var ms = new MemoryStream();
        var st = SaveBeside(heap, m, ms, new SnapshotOptions { RootNames = roots, PrecopyConvergedPages = 0, MaxPrecopyRounds = 3 });

        Assert.Empty(hung);
        Assert.True(st.Live, st.FallbackReason);
        Assert.True(st.PrecopyFaults >= 3, st.ToString());
        Assert.True(st.PrecopyRefaults >= 1, $"B's second write did not take the refault path: {st}");
        Assert.Equal(2, m.GetItem<byte>(b.Ref, 0));
        Assert.Equal(((byte)1, (byte)2, (byte)1), LoadedFirstBytes(ms));
    }

    [Theory]
    [InlineData(4096)]
    [InlineData(0)]
    public void PagesWrittenAfterTheLastRoundAreCopiedInThePauseOrProtectedAgain(int pauseCopyPages)
    {
        // One pre-copy round. A and C are written before it (listed, protected again by it); B
        // between them is written after its list was taken, so at the pause B is DIRTY and, in
        // the kernel, protected again by the run [A, C]. The pause copies B (or, with
        // PauseCopyPages = 0, protects it again). After the pause B's write must go through (a
        // fault on a page already saved is unprotected again) and the image holds B's value at
        // the pause. A, B and C lie beyond the window the background save may run ahead of the
        // stream (which waits in AfterPause), so they are still unsaved after the pause.
        using var heap = NewHeap();
        using var m = heap.AttachCurrentThread();
        var roots = ThreeArrays(heap, m, fillerArrays: 64);
        GcRoot a = roots["a"], b = roots["b"], c = roots["c"];
        var hung = new List<string>();
        heap.SnapshotHooks.BeforeRound = _ =>
        {
            if (!WriteWithin(heap, a, 1) || !WriteWithin(heap, c, 1))
            {
                hung.Add("a pre-copy write did not complete");
            }
        };
        heap.SnapshotHooks.RoundTaken = _ =>
        {
            if (!WriteWithin(heap, b, 1))
            {
                hung.Add("a write during the round did not complete");
            }
        };
        heap.SnapshotHooks.AfterPause = () =>
        {
            if (!WriteWithin(heap, b, 2) || !WriteWithin(heap, a, 2))
            {
                hung.Add("a write after the pause did not complete");
            }
        };
        var ms = new MemoryStream();
        var st = SaveOneRoundBeside(heap, m, ms, roots, pauseCopyPages, hung);
        if (pauseCopyPages > 0)
        {
            Assert.True(st.DirtyPagesCopiedInPause >= 1, st.ToString());
            Assert.True(st.PrecopyRefaults >= 1, $"B's write after the pause did not take the refault path: {st}");
        }
        else
        {
            Assert.Equal(0, st.DirtyPagesCopiedInPause);
            Assert.True(st.PagesReprotectedInPause >= 1, st.ToString());
        }

        Assert.True(st.PagesSavedByFault >= 1, $"A's write after the pause was not saved first: {st}");
        Assert.Equal(2, m.GetItem<byte>(b.Ref, 0));
        Assert.Equal(2, m.GetItem<byte>(a.Ref, 0));
        Assert.Equal(((byte)1, (byte)1, (byte)1), LoadedFirstBytes(ms));
    }

    [Theory]
    [InlineData(512, false, 1)] // the default: a few pages left after the last round are the pause's to copy
    [InlineData(0, false, 2)] // more left than allowed: one more round, after which nothing is left
    [InlineData(0, true, 2)] // written during every round: the rounds stop at twice MaxPrecopyRounds
    public void RoundsGoOnPastTheirLimitWhileMorePagesAreLeftThanThePauseShouldCopy(int maxLeft, bool writeInEveryRound, int expectedRounds)
    {
        // Convergence is judged by the pages written while a round ran (what the pause would be
        // left with), not by the length of the list the round took. A, B and C are written while
        // round 0 protects; with writeInEveryRound, three other arrays while round 1 does (a page
        // written again before its round protects it faults no more: it is written while listed).
        using var heap = NewHeap();
        using var m = heap.AttachCurrentThread();
        var roots = ThreeArrays(heap, m, fillerArrays: 3);
        var hung = new List<string>();
        heap.SnapshotHooks.RoundTaken = round =>
        {
            var names = round == 0 ? new[] { "a", "b", "c" } : writeInEveryRound ? new[] { "filler0", "filler1", "filler2" } : [];
            foreach (var name in names)
            {
                if (!WriteWithin(heap, roots[name], (byte)(round + 1)))
                {
                    hung.Add($"a write during round {round} did not complete");
                }
            }
        };
        var ms = new MemoryStream();
        var st = SaveBeside(heap, m, ms, new SnapshotOptions { RootNames = roots, PrecopyConvergedPages = 0, MaxPrecopyRounds = 1, PrecopyMaxLeftPages = maxLeft });

        Assert.Empty(hung);
        Assert.True(st.Live, st.FallbackReason);
        Assert.Equal(expectedRounds, st.PrecopyRounds);
        long leftToThePause = st.DirtyPagesCopiedInPause + st.PagesReprotectedInPause;
        if (expectedRounds == 1 || writeInEveryRound)
        {
            Assert.True(leftToThePause >= 3, $"the writes of the last round were not left to the pause: {st}");
        }
        else
        {
            Assert.Equal(0, leftToThePause);
        }

        Assert.Equal(((byte)1, (byte)1, (byte)1), LoadedFirstBytes(ms));
    }

    [Theory]
    [InlineData(4096)]
    [InlineData(0)]
    public void PagesAllocatedAfterTheLastRoundAreCopiedInThePauseOrProtected(int pauseCopyPages)
    {
        // An array allocated (on fresh pages above the high-water mark) while the last round
        // protects is not protected by any round: the pause copies its pages into the pool (they
        // stay writable) or, with no pool, protects them. Either way a write after the pause goes
        // through and the image holds the array as it was at the pause.
        using var heap = NewHeap(o => o.NurseryBytes = 0);
        using var m = heap.AttachCurrentThread();
        var roots = ThreeArrays(heap, m, fillerArrays: 0);
        var hung = new List<string>();
        heap.SnapshotHooks.RoundTaken = _ =>
        {
            var t = new Thread(() =>
            {
                using var w = heap.AttachCurrentThread();
                using var scope = w.OpenScope();
                var d = w.AllocateArray(heap.Types.ByteArray, 3 * 4096);
                w.SetItem<byte>(d, 0, 1);
                roots["d"] = w.CreateRoot(d);
            })
            { IsBackground = true };
            t.Start();
            if (!t.Join(TimeSpan.FromSeconds(30)))
            {
                hung.Add("the allocation during the round did not complete");
            }
        };
        heap.SnapshotHooks.AfterPause = () =>
        {
            if (!WriteWithin(heap, roots["d"], 2))
            {
                hung.Add("a write to the new array after the pause did not complete");
            }
        };
        var ms = new MemoryStream();
        var st = SaveOneRoundBeside(heap, m, ms, roots, pauseCopyPages, hung);
        if (pauseCopyPages > 0)
        {
            Assert.True(st.NewPagesCopiedInPause >= 3, st.ToString());
            Assert.Equal(0, st.PagesProtectedInPause);
        }
        else
        {
            Assert.Equal(0, st.NewPagesCopiedInPause);
            Assert.True(st.PagesProtectedInPause >= 3, st.ToString());
        }

        Assert.Equal(2, m.GetItem<byte>(roots["d"].Ref, 0));
        ms.Position = 0;
        using var loaded = Heap.LoadSnapshot(ms);
        using var m2 = loaded.Heap.AttachCurrentThread();
        Assert.Equal(1, m2.GetItem<byte>(loaded.Root("d").Ref, 0));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void AStopAThreadHoldsUpIsGivenUpAndTriedAgain(bool budgeted)
    {
        // A thread that computes without heap calls (not at a safepoint) holds the snapshot's stop
        // up. With a budget the stop is given up (the threads it had stopped go on) and tried again;
        // here the thread reaches its safepoint once the first attempt was given up. Without one
        // the single stop waits for it.
        using var heap = NewHeap();
        using var m = heap.AttachCurrentThread();
        var roots = ThreeArrays(heap, m, fillerArrays: 0);
        int release = 0;
        using var spinning = new ManualResetEventSlim();
        using var done = new ManualResetEventSlim();
        var late = new Thread(() =>
        {
            using var w = heap.AttachCurrentThread("late thread");
            spinning.Set();
            var sw = Stopwatch.StartNew();
            long limitMs = budgeted ? 30_000 : 100;
            while (Volatile.Read(ref release) == 0 && sw.ElapsedMilliseconds < limitMs)
            {
                Thread.SpinWait(100); // no heap call: this thread does not poll
            }

            w.Safepoint();
            using (w.EnterSafeRegion())
            {
                done.Wait();
            }
        })
        { IsBackground = true };
        late.Start();
        spinning.Wait();
        heap.SnapshotHooks.StopAbandoned = _ => Volatile.Write(ref release, 1);
        var ms = new MemoryStream();
        var st = SaveBeside(heap, m, ms, new SnapshotOptions { RootNames = roots, StopBudget = budgeted ? TimeSpan.FromMilliseconds(1) : Timeout.InfiniteTimeSpan });
        done.Set();
        late.Join();

        Assert.True(st.Live, st.FallbackReason);
        if (budgeted)
        {
            Assert.True(st.StopAttempts >= 2, st.ToString());
            Assert.True(st.AbandonedStopMaxMs > 0, st.ToString());
        }
        else
        {
            Assert.Equal(1, st.StopAttempts);
            Assert.Equal(0, st.AbandonedStopMaxMs);
        }

        Assert.Equal(((byte)0, (byte)0, (byte)0), LoadedFirstBytes(ms));
    }

    [Fact]
    public void SnapshotStopOptionsAreValidated()
    {
        using var heap = NewHeap();
        Assert.Throws<ArgumentOutOfRangeException>(() => heap.SaveSnapshot(new MemoryStream(), new SnapshotOptions { StopBudget = TimeSpan.Zero }));
        Assert.Throws<ArgumentOutOfRangeException>(() => heap.SaveSnapshot(new MemoryStream(), new SnapshotOptions { MaxStopAttempts = 0 }));
        Assert.Throws<ArgumentOutOfRangeException>(() => heap.SaveSnapshot(new MemoryStream(), new SnapshotOptions { PrecopyMaxLeftPages = -1 }));
    }

    [Fact]
    public void AKernelWriteIntoAPageNotSavedYetWaitsForThatPage()
    {
        using var heap = NewHeap();
        using var m = heap.AttachCurrentThread();
        var roots = new List<GcRoot>();
        GcRoot target;
        using (m.OpenScope())
        {
            for (int i = 0; i < 64; i++)
            {
                roots.Add(m.CreateRoot(m.AllocateArray(heap.Types.ByteArray, 8000))); // beyond the 64 pages staged ahead
            }

            var a = m.AllocateArray(heap.Types.ByteArray, 16384);
            m.FillItems<byte>(a, 0, 16384, 0x11);
            target = m.CreateRoot(a);
        }

        string path = Path.Combine(Path.GetTempPath(), $"gcheap-snapshot-kernel-{Environment.ProcessId}.bin");
        File.WriteAllBytes(path, Enumerable.Repeat((byte)0x22, 16384).ToArray());
        using var paused = new ManualResetEventSlim();
        using var written = new ManualResetEventSlim();
        heap.SnapshotHooks.AfterPause = () =>
        {
            paused.Set();
            Assert.True(written.Wait(TimeSpan.FromSeconds(60)), "the kernel write did not complete");
        };
        var ms = new MemoryStream();
        var save = new BackgroundCall<SnapshotStats>(() => heap.SaveSnapshot(ms, new SnapshotOptions { WindowPages = 64, RootNames = new Dictionary<string, GcRoot> { ["target"] = target } }));
        using (m.EnterSafeRegion())
        {
            Assert.True(paused.Wait(TimeSpan.FromSeconds(60)), "no pause");
        }

        // pread straight into the protected array (full-mode uffd: the kernel's write faults too):
        // the saver thread saves those pages first, then lets the write through.
        using (var file = File.OpenHandle(path, FileMode.Open, FileAccess.Read))
        {
            Assert.Equal(16384, m.ReadFromFile(file, 0, target.Ref, 0, 16384));
        }

        written.Set();
        Assert.True(save.Wait(TimeSpan.FromSeconds(60)), "the snapshot did not finish");
        var st = save.Result;
        File.Delete(path);
        Assert.True(st.PagesSavedByFault >= 4, st.ToString());
        var now = new byte[16384];
        m.ReadItems<byte>(target.Ref, 0, now);
        Assert.All(now, b => Assert.Equal(0x22, b));

        ms.Position = 0;
        using var loaded = Heap.LoadSnapshot(ms);
        using var m2 = loaded.Heap.AttachCurrentThread();
        var then = new byte[16384];
        m2.ReadItems<byte>(loaded.Root("target").Ref, 0, then);
        Assert.All(then, b => Assert.Equal(0x11, b)); // the image holds the array as it was at the pause
    }

    private sealed class FailingStream(long failAfter) : Stream
    {
        private long _written;

        public override bool CanRead => false;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => _written;

        public override long Position { get => _written; set => throw new NotSupportedException(); }

        public override void Flush()
        {
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            _written += buffer.Length;
            if (_written > failAfter)
            {
                throw new IOException("disk full (test)");
            }
        }
    }
}
