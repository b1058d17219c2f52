using System.Numerics;
using GcHeap.ObjectModel;

namespace GcHeap.Tests.Support;

/// <summary>
/// A fingerprint of the graph reachable from a list of root addresses, independent of where the
/// objects are: breadth-first numbering, each object's type name, length, data and the numbers it
/// references. Two heaps with equal fingerprints hold the same graph. Read raw: call it with the
/// world stopped (inside a snapshot's pause) or with no mutator running.
/// </summary>
internal static unsafe class GraphDump
{
    public readonly record struct Result(ulong Hash, long Objects, long Roots);

    /// <summary>The non-null global roots of <paramref name="heap"/> in slot order (what a snapshot saves).</summary>
    public static List<nint> GlobalRoots(Heap heap)
    {
        var list = new List<nint>();
        for (int s = 1; s < heap.Handles.GlobalHigh; s++)
        {
            if (heap.Handles.Slots[s] != 0)
            {
                list.Add(heap.Handles.Slots[s]);
            }
        }

        return list;
    }

    /// <summary>The addresses <paramref name="roots"/> hold (read raw).</summary>
    public static List<nint> Addresses(Heap heap, IEnumerable<GcRoot> roots) =>
        roots.Select(r => heap.Handles.Slots[r.Ref.Slot]).Where(a => a != 0).ToList();

    public static Result Of(Heap heap, List<nint> roots)
    {
        var table = heap.Types.Table;
        uint count = (uint)heap.Types.Count;
        var ids = new Dictionary<nint, long>();
        var queue = new Queue<nint>();
        ulong h = 17;
        foreach (var r in roots)
        {
            h = Mix(h, Visit(r, ids, queue));
        }

        while (queue.Count > 0)
        {
            nint obj = queue.Dequeue();
            long size = ObjectScanner.SizeOf(table, count, obj, out long refs);
            Assert.True(size > 0, $"bad header at 0x{obj:x}");
            h = Mix(h, (ulong)heap.Types.ById(ObjectLayout.TypeIdOf(obj))!.Name.GetHashCode(StringComparison.Ordinal));
            h = Mix(h, ObjectLayout.LengthOf(obj));
            var slots = (nint*)(obj + ObjectLayout.HeaderSize);
            for (long i = 0; i < refs; i++)
            {
                h = Mix(h, Visit(slots[i], ids, queue));
            }

            byte* data = (byte*)(obj + ObjectLayout.HeaderSize + (refs * 8));
            long n = size - ObjectLayout.HeaderSize - (refs * 8);
            for (long i = 0; i + 8 <= n; i += 8)
            {
                h = Mix(h, *(ulong*)(data + i));
            }
        }

        return new Result(h, ids.Count, roots.Count);
    }

    private static ulong Visit(nint a, Dictionary<nint, long> ids, Queue<nint> queue)
    {
        if (a == 0)
        {
            return ulong.MaxValue;
        }

        if (!ids.TryGetValue(a, out long id))
        {
            id = ids.Count;
            ids.Add(a, id);
            queue.Enqueue(a);
        }

        return (ulong)id;
    }

    private static ulong Mix(ulong h, ulong v) => BitOperations.RotateLeft((h ^ v) * 0xBF58476D1CE4E5B9UL, 31) + 0x9E3779B97F4A7C15UL;
}
