using GcHeap.Diagnostics;

namespace GcHeap.Tests.Support;

/// <summary>
/// A fingerprint of the graph reachable from a list of root addresses, independent of where the
/// objects are (<see cref="GraphChecksum"/>): two heaps with equal fingerprints hold the same graph
/// (a loaded snapshot keeps type ids). Read raw: call it with the
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

    /// <summary>The fingerprint (the verifier's <see cref="GraphChecksum"/>, from root addresses).</summary>
    public static Result Of(Heap heap, List<nint> roots)
    {
        var r = GraphChecksum.Compute(roots, heap.Types);
        return new Result(r.Checksum, r.Objects, roots.Count);
    }
}
