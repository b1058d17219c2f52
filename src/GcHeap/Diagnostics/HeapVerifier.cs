using System.Runtime.CompilerServices;
using GcHeap.Collection;
using GcHeap.Interop;
using GcHeap.Memory;
using GcHeap.ObjectModel;
using GcHeap.Roots;

namespace GcHeap.Diagnostics;

/// <summary>
/// Checks the whole heap while the world is stopped: every page parses into valid objects
/// (known type ids, sizes inside the page, large objects covering exactly their page run),
/// every reference in every object and every root points at the start of an object in the
/// allocation space, and nothing points at a filler. Then it fingerprints the reachable graph
/// (<see cref="GraphChecksum"/>).
/// </summary>
internal static unsafe class HeapVerifier
{
    private const int MaxErrors = 20;

    [MethodImpl(CollectorCode.OptimizeOnce)]
    public static HeapVerificationReport Verify(Space space, HandleTable handles, RootSet roots, TypeRegistry types)
    {
        var errors = new List<string>();
        NativeTypeInfo* table = types.Table;
        uint typeCount = (uint)types.Count;
        int pages = space.HighWater;
        var starts = new ulong[Math.Max(1, pages * ObjectLayout.BitmapWordsPerPage)];
        long objects = 0, objectBytes = 0, fillers = 0, largeObjects = 0;

        void Error(string e)
        {
            if (errors.Count < MaxErrors)
            {
                errors.Add(e);
            }
        }

        // Pass 1: parse every page, remember object starts.
        for (int p = 0; p < pages; p++)
        {
            PageKind kind = space.Kinds[p];
            nint page = space.PageAddress(p);
            if (kind == PageKind.Small)
            {
                nint cur = page;
                while (cur < page + ObjectLayout.PageSize && ObjectLayout.TypeIdOf(cur) != ObjectLayout.TypeEnd)
                {
                    long size = ObjectScanner.SizeOf(table, typeCount, cur, out _);
                    if (size == 0 || cur + size > page + ObjectLayout.PageSize)
                    {
                        Error($"page {p}: bad object header 0x{*(ulong*)cur:x16} at offset {cur - page}");
                        break;
                    }

                    if (ObjectLayout.TypeIdOf(cur) == ObjectLayout.TypeFiller)
                    {
                        fillers++;
                    }
                    else
                    {
                        MarkStart(starts, space, cur);
                        objects++;
                        objectBytes += size;
                    }

                    cur += (nint)size;
                }
            }
            else if (kind == PageKind.LargeHead)
            {
                long size = ObjectScanner.SizeOf(table, typeCount, page, out _);
                long n = ObjectLayout.PagesFor(size);
                if (size <= ObjectLayout.LargeObjectThreshold || p + n > pages)
                {
                    Error($"page {p}: large object with bad header 0x{*(ulong*)page:x16}");
                    continue;
                }

                for (long i = 1; i < n; i++)
                {
                    if (space.Kinds[p + i] != PageKind.LargeTail)
                    {
                        Error($"page {p + i}: expected a tail page of the large object at page {p}, found {space.Kinds[p + i]}");
                    }
                }

                MarkStart(starts, space, page);
                objects++;
                largeObjects++;
                objectBytes += size;
                p += (int)n - 1;
            }
            else if (kind == PageKind.LargeTail)
            {
                Error($"page {p}: tail page without a head");
            }
        }

        [MethodImpl(CollectorCode.OptimizeOnce)]
        bool IsStart(nint a) => space.Contains(a) && (a & 7) == 0 && (long)space.PageOf(a) < pages && IsMarked(starts, space, a);

        // Pass 2: every reference and every root points at an object start.
        for (int p = 0; p < pages && errors.Count < MaxErrors; p++)
        {
            PageKind kind = space.Kinds[p];
            nint page = space.PageAddress(p);
            if (kind == PageKind.Small)
            {
                nint cur = page;
                while (cur < page + ObjectLayout.PageSize && ObjectLayout.TypeIdOf(cur) != ObjectLayout.TypeEnd)
                {
                    long size = ObjectScanner.SizeOf(table, typeCount, cur, out long refs);
                    if (size == 0)
                    {
                        break;
                    }

                    CheckRefs(cur, refs);
                    cur += (nint)size;
                }
            }
            else if (kind == PageKind.LargeHead)
            {
                long size = ObjectScanner.SizeOf(table, typeCount, page, out long refs);
                CheckRefs(page, refs);
                p += (int)ObjectLayout.PagesFor(size) - 1;
            }
        }

        [MethodImpl(CollectorCode.OptimizeOnce)]
        void CheckRefs(nint obj, long refs)
        {
            nint* slots = (nint*)(obj + ObjectLayout.HeaderSize);
            for (long i = 0; i < refs; i++)
            {
                nint v = slots[i];
                if (v != 0 && !IsStart(v))
                {
                    Error($"object 0x{obj:x} (type {types.ById(ObjectLayout.TypeIdOf(obj))?.Name}) slot {i} holds 0x{v:x}, which is not an object in space {space.Name}");
                }
            }
        }

        long rootCount = 0;
        foreach (var (first, end) in roots.Ranges)
        {
            for (int s = first; s < end; s++)
            {
                nint v = handles.Slots[s];
                if (v == 0)
                {
                    continue;
                }

                rootCount++;
                if (!IsStart(v))
                {
                    Error($"root slot {s} holds 0x{v:x}, which is not an object in space {space.Name}");
                }
            }
        }

        GraphChecksum.Result graph = errors.Count == 0 ? GraphChecksum.Compute(handles, roots, types) : default;
        return new HeapVerificationReport
        {
            Errors = errors,
            Pages = pages,
            Objects = objects,
            LargeObjects = largeObjects,
            ObjectBytes = objectBytes,
            Fillers = fillers,
            Roots = rootCount,
            ReachableObjects = graph.Objects,
            ReachableBytes = graph.Bytes,
            GraphChecksum = graph.Checksum,
        };
    }

    [MethodImpl(CollectorCode.OptimizeOnce)]
    private static void MarkStart(ulong[] starts, Space space, nint a)
    {
        long g = (a - space.Base) >> ObjectLayout.GranuleShift;
        starts[g >> 6] |= 1UL << (int)(g & 63);
    }

    [MethodImpl(CollectorCode.OptimizeOnce)]
    private static bool IsMarked(ulong[] starts, Space space, nint a)
    {
        long g = (a - space.Base) >> ObjectLayout.GranuleShift;
        return (g >> 6) < starts.Length && (starts[g >> 6] & (1UL << (int)(g & 63))) != 0;
    }
}

/// <summary>What <see cref="Heap.Verify"/> found.</summary>
public sealed class HeapVerificationReport
{
    /// <summary>Problems found (at most 20); empty when the heap is consistent.</summary>
    public IReadOnlyList<string> Errors { get; init; } = [];

    /// <summary>True when no problem was found.</summary>
    public bool IsValid => Errors.Count == 0;

    /// <summary>Pages in use.</summary>
    public long Pages { get; init; }

    /// <summary>Objects in the heap (reachable or not), fillers excluded.</summary>
    public long Objects { get; init; }

    /// <summary>Of those, large objects.</summary>
    public long LargeObjects { get; init; }

    /// <summary>Bytes of those objects.</summary>
    public long ObjectBytes { get; init; }

    /// <summary>Filler objects (dead objects in pages that moved whole).</summary>
    public long Fillers { get; init; }

    /// <summary>Non-null root slots.</summary>
    public long Roots { get; init; }

    /// <summary>Objects reachable from the roots.</summary>
    public long ReachableObjects { get; init; }

    /// <summary>Bytes of reachable objects.</summary>
    public long ReachableBytes { get; init; }

    /// <summary>Fingerprint of the reachable graph, independent of addresses: equal before and after a collection.</summary>
    public ulong GraphChecksum { get; init; }

    /// <inheritdoc />
    public override string ToString() =>
        IsValid
            ? $"heap valid: {Objects} objects ({ObjectBytes} bytes, {LargeObjects} large, {Fillers} fillers) on {Pages} pages; {ReachableObjects} reachable from {Roots} roots; graph checksum {GraphChecksum:x16}"
            : $"heap INVALID: {string.Join("; ", Errors)}";
}
