namespace GcHeap.Benchmarks;

/// <summary>
/// Deterministic reproductions of core bugs the benchmarks ran into, runnable from the
/// benchmark program (<c>dotnet run -c Release --project bench/GcHeap.Benchmarks -- repro-split-gap</c>).
/// Each prints one line per case and returns non-zero while the bug is present.
/// </summary>
public static class CoreRepros
{
    /// <summary>
    /// A sparse page whose live objects are split across two compacted to-space pages, with N
    /// dense pages (moved whole) planned in between. The planner stores the split gap in the
    /// upper 16 bits of from_aux (split_off | gap &lt;&lt; 16); from 16 whole pages on, the gap is
    /// 65,536 bytes or more and is truncated, so objects after the split are forwarded to the
    /// wrong place and compaction fails with "EINVAL in forwarding" (every backend).
    /// </summary>
    public static int SplitGap()
    {
        int failures = 0;
        foreach (var backend in new[] { GcBackend.StopTheWorld, GcBackend.Copy, GcBackend.Move })
        {
            foreach (int densePages in new[] { 15, 16, 20 })
            {
                string result = RunSplitGap(backend, densePages);
                Console.WriteLine($"{backend,-12} dense pages between the split: {densePages,2}: {result}");
                failures += result == "OK" ? 0 : 1;
            }
        }

        return failures == 0 ? 0 : 1;
    }

    private static string RunSplitGap(GcBackend backend, int densePages)
    {
        using var heap = new Heap(new HeapOptions { Backend = backend, MaxHeapBytes = 64 << 20, BackgroundCollection = false });
        var longArray = heap.Types.DefineDataArray<long>("long[]"); // long[16]: 136 bytes, 30 per 4 KiB page
        using var m = heap.AttachCurrentThread();
        using var outer = m.OpenScope();
        var live = new List<GcRef>();

        void Alloc(bool keep)
        {
            if (keep)
            {
                var a = m.AllocateArray(longArray, 16);
                m.SetItem(a, 0, (long)live.Count);
                live.Add(a);
            }
            else
            {
                using var garbage = m.OpenScope();
                m.AllocateArray(longArray, 16);
            }
        }

        for (int i = 0; i < 30; i++)
        {
            Alloc(keep: i >= 10); // page A: 20 live (2,720 bytes): sparse, opens compacted page t0
        }

        for (int i = 0; i < 30 * densePages; i++)
        {
            Alloc(keep: true); // dense pages: moved whole, each takes the next to-space page
        }

        for (int i = 0; i < 30; i++)
        {
            Alloc(keep: i < 15); // page Z: 15 live (2,040 bytes): sparse; 10 fit in t0, 5 split to a new page
        }

        try
        {
            heap.Collect();
            for (int i = 0; i < live.Count; i++)
            {
                long v = m.GetItem<long>(live[i], 0);
                if (v != i)
                {
                    return $"WRONG VALUE: object {i} reads {v} after the collection";
                }
            }

            return "OK";
        }
        catch (GcHeapException e)
        {
            return $"{e.GetType().Name}: {e.Message}";
        }
    }
}
