using System.Diagnostics;
using GcHeap.Interop;
using GcHeap.Memory;
using GcHeap.ObjectModel;
using GcHeap.Threads;

namespace GcHeap.Snapshots;

/// <summary>
/// Saves a consistent image of a heap while its mutators run (docs/design.md section 15).
/// Collections are held off for the whole call (<see cref="Collection.CollectionHold"/>); then:
/// <list type="number">
/// <item>pre-copy: the allocation space's pages are write-protected in slices while mutators run;
/// a page written meanwhile is unprotected at once by the native saver thread and re-protected by
/// the next round, until a round finds few;</item>
/// <item>pause: the world stops; the native freeze re-protects the last round's pages and the pages
/// allocated since, and the page table, global roots and types are captured;</item>
/// <item>copy-on-write: mutators resume; the native thread saves pages in order into staging
/// and unprotects them, and saves first any page a mutator writes; this thread streams the
/// staged pages out.</item>
/// </list>
/// Without write-protect of unpopulated pages every page is copied inside the pause.
/// </summary>
internal static unsafe class SnapshotSaver
{
    private const int WaitSliceMs = 100;

    public static SnapshotStats Save(Heap heap, Stream stream, SnapshotOptions o, bool incremental)
    {
        long t0 = Stopwatch.GetTimestamp();
        var hold = heap.Collector.Hold();
        SnapshotSafeHandle? saver = null;
        bool keep = false;
        try
        {
            var space = heap.AllocationSpace;
            string? fallback = FallbackReason(heap, o);
            var tracker = heap.SnapshotTracker;
            heap.SnapshotTracker = null;
            string? incrementFallback = null;
            if (incremental && tracker is null)
            {
                incrementFallback = heap.SnapshotChainBroken ?? "no previous snapshot was saved with SnapshotOptions.TrackChanges";
            }
            else if (incremental && fallback is not null)
            {
                incrementFallback = fallback;
            }

            bool isIncrement = incremental && incrementFallback is null;
            if (tracker is not null && !isIncrement)
            {
                tracker.Handle.Dispose(); // a full snapshot starts a new chain
                tracker = null;
            }

            bool track = (o.TrackChanges || incremental) && fallback is null;
            ulong parent = 0;
            uint from = 0;
            if (isIncrement)
            {
                saver = tracker!.Handle;
                parent = tracker.Id;
                Errno.ThrowIfFailed(NativeMethods.SnapshotStats(saver, out var before), "gch_snapshot_get_stats");
                from = before.FrozenPages;
                Fail(NativeMethods.SnapshotBeginIncrement(saver), "starting an increment");
            }
            else
            {
                saver = Create(space, o, fallback is null ? (int)heap.Options.UffdOpenMethods : 0, track, heap.Options.CollectorThreadNice, out int openRc);
                if (saver is null)
                {
                    fallback = $"opening the write-protect userfaultfd failed ({Errno.Describe(openRc)})";
                    track = false;
                    saver = Create(space, o, 0, false, 0, out openRc) ?? throw new GcSnapshotFailedException($"The snapshot saver could not be created: {Errno.Describe(openRc)}.");
                }
            }

            bool live = fallback is null;
            double protectMs = live && !o.ProtectInPause ? Precopy(heap, space, saver, o, (int)from) : 0;
            var captured = Pause(heap, space, saver, o, protectMs);
            heap.SnapshotHooks.AfterPause?.Invoke();
            long tWrite = Stopwatch.GetTimestamp();
            var w = new SnapshotStreamWriter(stream);
            ulong id = (ulong)Random.Shared.NextInt64(1, long.MaxValue);
            WriteMetadata(w, heap, space, captured, id, parent);
            var (inImage, zeroPages) = WritePages(heap, w, saver, captured.Pages);
            w.Trailer();
            double writeMs = Stopwatch.GetElapsedTime(tWrite).TotalMilliseconds;

            Errno.ThrowIfFailed(NativeMethods.SnapshotStats(saver, out var ns), "gch_snapshot_get_stats");
            if (track)
            {
                Fail(NativeMethods.SnapshotTrack(saver), "starting to track writes");
                heap.SnapshotTracker = new SnapshotTracker(saver, id);
                heap.SnapshotChainBroken = null;
                keep = true;
            }

            return new SnapshotStats
            {
                Live = live,
                FallbackReason = fallback,
                Incremental = isIncrement,
                IncrementalFallbackReason = incrementFallback,
                Id = id,
                ParentId = parent,
                PagesInImage = inImage,
                PagesWrittenSincePrevious = (long)ns.PagesWrittenSince,
                TrackedWrites = (long)ns.TrackedWrites,
                PauseMs = captured.PauseMs,
                TimeToSafepointMs = captured.SafepointMs,
                SafepointAwaitedThread = captured.AwaitedThread,
                SafepointAwaitedOsThreadId = captured.AwaitedOsThreadId,
                PauseStartTimestamp = captured.StartTimestamp,
                FreezeAndCaptureMs = captured.FrozenAndCapturedMs,
                NetGcsDuringPause = captured.NetGcs,
                NetGcPauseMsDuringPause = captured.NetGcPauseMs,
                StopAttempts = captured.StopAttempts,
                AbandonedStopMaxMs = captured.AbandonedStopMaxMs,
                FreezeMs = ns.FreezeNs / 1e6,
                ProtectMs = captured.ProtectMs,
                PagesProtected = (long)ns.PagesProtected,
                PrecopyRounds = (long)ns.ReprotectRounds,
                PrecopyFaults = (long)ns.PrecopyFaults,
                PrecopyRefaults = (long)ns.Refaults,
                PagesReprotectedInPause = (long)ns.PausePagesReprotected,
                DirtyPagesCopiedInPause = (long)ns.PausePagesCopied,
                NewPagesCopiedInPause = (long)ns.PauseNewPagesCopied,
                DirtyCopyInPauseMs = ns.PauseCopyNs / 1e6,
                PagesProtectedInPause = (long)ns.PausePagesProtected,
                Pages = captured.Pages,
                PagesSavedInBackground = (long)ns.PagesSavedBackground,
                PagesSavedByFault = (long)ns.PagesSavedByFault,
                PagesCopiedInPause = (long)ns.PagesCopiedInPause,
                WriteFaults = (long)ns.WriteFaults,
                ZeroPages = zeroPages,
                Roots = captured.Roots.Count,
                Types = captured.Types.Count,
                BytesWritten = w.BytesWritten,
                WriteMs = writeMs,
                TotalMs = Stopwatch.GetElapsedTime(t0).TotalMilliseconds,
            };
        }
        catch (Exception e)
        {
            // The tracker was taken at the start: whatever failed, there is no chain to extend.
            heap.SnapshotChainBroken = $"the previous snapshot failed ({e.GetType().Name})";
            throw;
        }
        finally
        {
            if (!keep)
            {
                saver?.Dispose(); // stops the thread, closes the uffd: no protection is left behind
            }

            hold.Release();
        }
    }

    /// <summary>Why this snapshot cannot be live, or null.</summary>
    private static string? FallbackReason(Heap heap, SnapshotOptions o)
    {
        if (o.CopyInPause)
        {
            return "SnapshotOptions.CopyInPause";
        }

        var caps = heap.Capabilities;
        return caps.LiveSnapshots ? null : caps.LiveSnapshotUnavailableReason;
    }

    private static SnapshotSafeHandle? Create(Space space, SnapshotOptions o, int methods, bool track, int nice, out int rc)
    {
        var config = new NativeSnapshotConfig
        {
            Base = (ulong)space.Base,
            CapacityPages = (uint)space.CapacityPages,
            WindowPages = (uint)o.WindowPages,
            AllowedMethods = methods,
            Track = track ? 1u : 0u,
            ThreadNice = nice,
            PauseCopyPages = (uint)Math.Min(o.PauseCopyPages, space.CapacityPages), // a pool larger than the space is never used
        };
        rc = NativeMethods.SnapshotCreate(config, out var h);
        if (rc != 0)
        {
            h.Dispose();
            return null;
        }

        return h;
    }

    /// <summary>Protects the space in slices, then re-protects what was written meanwhile, while mutators run.</summary>
    private static double Precopy(Heap heap, Space space, SnapshotSafeHandle saver, SnapshotOptions o, int from)
    {
        long t = Stopwatch.GetTimestamp();
        int hw = space.HighWater;
        for (int first = from; first < hw; first += o.ProtectSlicePages)
        {
            ThrowIfDisposing(heap);
            int n = Math.Min(o.ProtectSlicePages, hw - first);
            Fail(NativeMethods.SnapshotProtect(saver, (uint)first, (uint)n), "protecting the heap");
        }

        double protectMs = Stopwatch.GetElapsedTime(t).TotalMilliseconds;

        // Rounds: protect the pages allocated since, re-protect the pages written since, until what
        // is left for the pause (written or allocated while the last round ran) is few; after
        // MaxPrecopyRounds, go on (up to as many again) only while more is left than the pause
        // should copy. Under steady writes the rounds stop shrinking (each re-protected scattered
        // page costs about what the writers take to dirty another) and end on their limit with a
        // few hundred pages left, copied in the pause at ~1 us each; a round slowed down (this
        // thread kept off its CPU) can leave thousands.
        int limit = o.MaxPrecopyRounds * 2;
        for (int round = 0; round < limit; round++)
        {
            ThrowIfDisposing(heap);
            heap.SnapshotHooks.BeforeRound?.Invoke(round);
            int now = space.HighWater;
            if (now > hw)
            {
                Fail(NativeMethods.SnapshotProtect(saver, (uint)hw, (uint)(now - hw)), "protecting new pages");
            }

            // Two steps: the list is taken under the saver's lock, the ioctls run without it, so
            // a write meanwhile is served at once (and cannot delay a stop that follows).
            Fail(NativeMethods.SnapshotRoundTake(saver, out _), "re-protecting written pages");
            heap.SnapshotHooks.RoundTaken?.Invoke(round);
            Fail(NativeMethods.SnapshotRoundProtect(saver, out uint written), "re-protecting written pages");
            hw = now;
            long left = written + Math.Max(0, space.HighWater - hw);
            if (left <= o.PrecopyConvergedPages || (round + 1 >= o.MaxPrecopyRounds && left <= o.PrecopyMaxLeftPages))
            {
                break;
            }
        }

        return protectMs;
    }

    /// <summary>What the pause captured. Kinds and roots are views of reused or pre-sized buffers, not copies: a copy of the kinds is a large-object allocation (one byte per page) per snapshot.</summary>
    internal sealed record Captured(int Pages, ReadOnlyMemory<byte> Kinds, ArraySegment<(int Slot, nint Address, string Name)> Roots, List<GcType> Types,
        double PauseMs, double SafepointMs, string? AwaitedThread, double ProtectMs, double FrozenAndCapturedMs, int NetGcs)
    {
        /// <summary>Stopwatch timestamp of the stop request.</summary>
        public long StartTimestamp { get; init; }

        /// <summary>gettid of the first thread the stop waited for last; 0 when none.</summary>
        public int AwaitedOsThreadId { get; init; }

        /// <summary>.NET's own GC pauses (GC.GetTotalPauseDuration) from the stop request to the resume.</summary>
        public double NetGcPauseMs { get; init; }

        /// <summary>Stops tried, the last one complete.</summary>
        public int StopAttempts { get; init; }

        /// <summary>The longest abandoned attempt, from its request to the release of the threads it had parked.</summary>
        public double AbandonedStopMaxMs { get; init; }
    }

    private static Captured Pause(Heap heap, Space space, SnapshotSafeHandle saver, SnapshotOptions o, double protectMs)
    {
        var names = new Dictionary<int, string>();
        if (o.RootNames is not null)
        {
            foreach (var (name, root) in o.RootNames)
            {
                var r = root?.Ref ?? GcRef.Null;
                if (r.IsNull || root!.IsDisposed || r.HeapTag != heap.Tag)
                {
                    throw new ArgumentException($"The root named '{name}' is disposed or belongs to another heap.", nameof(o));
                }

                if (!names.TryAdd(r.Slot, name))
                {
                    throw new ArgumentException($"The root named '{name}' is also named '{names[r.Slot]}'.", nameof(o));
                }
            }
        }

        // Nothing is allocated inside the pause: the page table and root buffers are sized before it.
        // Both buffers are written to every 4 KiB here, before the stop: a fresh array's pages are
        // only mapped, and their first touch inside the pause cost ~14 us a page in this VM
        // (docs/results/2026-11-29/populate-touch.txt; the kinds buffer of a 1 GiB heap is ~190 pages).
        var kindBuffer = heap.SnapshotKindBuffer ??= Touched(new byte[space.CapacityPages]); // reused: no large allocation right before a pause
        var rootBuffer = Touched(new (int, nint, string)[heap.Handles.GlobalHigh + 1024]);
        // The snapshot's moment does not matter, so a stop that is not complete within
        // SnapshotOptions.StopBudget is given up (the threads already parked go on) and tried again
        // after a short wait: a thread whose CPU the host took away (docs/results/2026-12-07/vcpu-gaps/)
        // then holds no other thread for longer than the budget. The last attempt is bounded like a
        // collection's stops (HeapOptions.SafepointTimeout): nothing is frozen yet, so giving up
        // leaves nothing behind (the caller's finally disposes the saver).
        int attempts = 0;
        double abandonedMaxMs = 0;
        int gcs;
        TimeSpan netPaused;
        long t;
        StopResult stop;
        while (true)
        {
            attempts++;
            bool last = attempts >= o.MaxStopAttempts || o.StopBudget == Timeout.InfiniteTimeSpan;
            gcs = GC.CollectionCount(0);
            netPaused = GC.GetTotalPauseDuration();
            t = Stopwatch.GetTimestamp();
            stop = heap.Safepoints.StopTheWorld(heap.Options.SafepointTimeout, abandonable: true, last ? Timeout.InfiniteTimeSpan : o.StopBudget);
            if (!stop.Abandoned)
            {
                break;
            }

            abandonedMaxMs = Math.Max(abandonedMaxMs, Stopwatch.GetElapsedTime(t, stop.ReleasedTimestamp).TotalMilliseconds);
            heap.SnapshotHooks.StopAbandoned?.Invoke(attempts);
            ThrowIfDisposing(heap);
            Thread.Sleep(Math.Min(2 * attempts, 20)); // the threads run; the written pages the pause copies grow meanwhile
        }

        int pages;
        int rootCount = 0;
        int rc;
        long tStopped = Stopwatch.GetTimestamp(), tCaptured = tStopped, released = tStopped;
        try
        {
            pages = space.HighWater;
            rc = NativeMethods.SnapshotFreeze(saver, (uint)pages);
            new ReadOnlySpan<byte>(space.Kinds, pages).CopyTo(kindBuffer);
            lock (heap.Handles.GlobalLock)
            {
                int high = heap.Handles.GlobalHigh;
                for (int s = 1; s < high; s++)
                {
                    nint a = heap.Handles.Slots[s];
                    if (a != 0 || names.ContainsKey(s))
                    {
                        if (rootCount == rootBuffer.Length)
                        {
                            Array.Resize(ref rootBuffer, rootBuffer.Length * 2); // over 1,024 roots created since the sizing: rare
                        }

                        rootBuffer[rootCount++] = (s, a, names.GetValueOrDefault(s, string.Empty));
                    }
                }
            }

            tCaptured = Stopwatch.GetTimestamp();
            if (rc == 0)
            {
                heap.SnapshotHooks.InPause?.Invoke();
            }
        }
        finally
        {
            released = heap.Safepoints.ResumeTheWorld();
        }

        // As the collector measures its pauses: from asking threads to stop until they were released.
        double pauseMs = Stopwatch.GetElapsedTime(t, released).TotalMilliseconds;
        NativeMethods.SnapshotResumed(saver);
        gcs = GC.CollectionCount(0) - gcs;
        netPaused = GC.GetTotalPauseDuration() - netPaused;
        Fail(rc, "freezing the snapshot in the pause");
        double stopMs = Stopwatch.GetElapsedTime(t, tStopped).TotalMilliseconds;
        double inPauseMs = Stopwatch.GetElapsedTime(tStopped, tCaptured).TotalMilliseconds;

        // Types after the pause: every object of the snapshot has a type registered before it, so
        // the list read now is the pause's list or a superset (types are never removed).
        var types = heap.Types.AllTypes();
        return new Captured(pages, kindBuffer.AsMemory(0, pages), new ArraySegment<(int, nint, string)>(rootBuffer, 0, rootCount), types, pauseMs, stopMs, stop.LastAwaited, protectMs, inPauseMs, gcs)
        {
            StopAttempts = attempts,
            AbandonedStopMaxMs = abandonedMaxMs,
            StartTimestamp = t,
            AwaitedOsThreadId = stop.LastAwaitedOsThreadId,
            NetGcPauseMs = netPaused.TotalMilliseconds,
        };
    }

    /// <summary>Writes the default value into one element of every 4 KiB of <paramref name="a"/>, so that its pages are resident.</summary>
    private static T[] Touched<T>(T[] a)
    {
        int step = Math.Max(1, 4096 / Math.Max(1, System.Runtime.CompilerServices.Unsafe.SizeOf<T>()));
        for (int i = 0; i < a.Length; i += step)
        {
            a[i] = default!;
        }

        return a;
    }

    private static void WriteMetadata(SnapshotStreamWriter w, Heap heap, Space space, Captured c, ulong id, ulong parent)
    {
        w.Write(SnapshotFormat.Magic);
        w.U32(SnapshotFormat.Version);
        w.U32(parent != 0 ? SnapshotFormat.FlagIncrement : 0u);
        w.U64(id);
        w.U64(parent);
        w.U64((ulong)space.Base);
        w.U32((uint)c.Pages);
        w.U32((uint)heap.CapacityPages);
        w.U32((uint)(heap.Options.MaxHeapBytes >> ObjectLayout.PageShift));
        w.U32((uint)c.Types.Count + 2);
        w.U32((uint)c.Roots.Count);
        foreach (var t in c.Types)
        {
            w.Str(t.Name);
            w.U8((byte)t.Kind);
            w.I32(t.InstanceSize);
            w.I32(t.ReferenceFieldCount);
            w.I32(t.ElementSize);
            w.U8(t.ElementType is null ? ValueCodes.None : ValueCodes.Of(t.ElementType));
            var fields = t.Fields;
            w.I32(fields.Count);
            foreach (var f in fields)
            {
                w.Str(f.Name);
                w.U8((byte)f.Kind);
                w.U8(f.ValueType is null ? ValueCodes.None : ValueCodes.Of(f.ValueType));
                w.I32(f.Size);
            }
        }

        foreach (var (slot, address, name) in c.Roots)
        {
            w.U32((uint)slot);
            w.U64((ulong)address);
            w.Str(name);
        }

        w.Write(c.Kinds.Span);
    }

    /// <summary>Streams the staged pages of the image in order, in blocks; returns how many were in the image and how many of those were zero.</summary>
    private static (long InImage, long Zero) WritePages(Heap heap, SnapshotStreamWriter w, SnapshotSafeHandle saver, int pages)
    {
        long zero = 0, inImage = 0;
        var at = new ulong[SnapshotFormat.BlockPages];
        for (int first = 0; first < pages; first += SnapshotFormat.BlockPages)
        {
            ThrowIfDisposing(heap);
            int n = Math.Min(SnapshotFormat.BlockPages, pages - first);
            ulong present = 0, mask = 0;
            for (int i = 0; i < n; i++)
            {
                at[i] = WaitStaged(heap, saver, (uint)(first + i));
                if (at[i] == 0)
                {
                    continue; // not in this increment
                }

                present |= 1UL << i;
                inImage++;
                var page = new ReadOnlySpan<byte>((byte*)at[i], ObjectLayout.PageSize);
                if (!page.ContainsAnyExcept((byte)0))
                {
                    mask |= 1UL << i;
                    zero++;
                }
            }

            w.U32((uint)first);
            w.U32((uint)n);
            w.U64(present);
            w.U64(mask);
            for (int i = 0; i < n; i++)
            {
                if ((present & ~mask & (1UL << i)) != 0)
                {
                    w.Write(new ReadOnlySpan<byte>((byte*)at[i], ObjectLayout.PageSize));
                }
            }

            Fail(NativeMethods.SnapshotConsumed(saver, (uint)(first + n)), "releasing staged pages");
            heap.SnapshotHooks.AfterBlock?.Invoke(first + n);
        }

        return (inImage, zero);
    }

    /// <summary>The address of the saved copy of <paramref name="page"/>, or 0 when it is not in the image.</summary>
    private static ulong WaitStaged(Heap heap, SnapshotSafeHandle saver, uint page)
    {
        while (true)
        {
            int rc = NativeMethods.SnapshotWait(saver, page, WaitSliceMs, out ulong address);
            if (rc == 0)
            {
                return address;
            }

            if (rc == 1)
            {
                return 0;
            }

            if (rc != -Errno.ETIMEDOUT)
            {
                Fail(rc, $"saving page {page}");
            }

            ThrowIfDisposing(heap);
        }
    }

    private static void ThrowIfDisposing(Heap heap)
    {
        if (heap.IsDisposing)
        {
            throw new GcHeapDisposedException("heap");
        }
    }

    private static void Fail(int rc, string what)
    {
        if (rc != 0)
        {
            throw new GcSnapshotFailedException($"The snapshot failed {what}: {Errno.Describe(rc)}. Every write-protection was removed; the heap is usable.");
        }
    }
}
