using System.Numerics;
using System.Runtime.CompilerServices;
using GcHeap.Collection;
using GcHeap.Interop;
using GcHeap.ObjectModel;
using GcHeap.Roots;

namespace GcHeap.Diagnostics;

/// <summary>
/// A fingerprint of the object graph reachable from the roots that does not depend on where
/// objects are: objects are numbered in breadth-first order from the roots (in slot order), and
/// each contributes its type, length, data bytes and the numbers of the objects it references.
/// Equal before and after a collection means the same objects, fields, data and sharing.
/// </summary>
internal static unsafe class GraphChecksum
{
    public readonly record struct Result(ulong Checksum, long Objects, long Bytes);

    [MethodImpl(CollectorCode.OptimizeOnce)]
    public static Result Compute(HandleTable handles, RootSet roots, TypeRegistry types, Func<nint, string>? describe = null)
    {
        var addresses = new List<nint>();
        foreach (var (first, end) in roots.Ranges)
        {
            for (int s = first; s < end; s++)
            {
                addresses.Add(handles.Slots[s]);
            }
        }

        return Compute(addresses, types, describe);
    }

    /// <summary>The same fingerprint from root addresses in order (0 for a null root); the graph of another heap (a loaded snapshot) compares equal when it is the same graph.</summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    public static Result Compute(IReadOnlyList<nint> roots, TypeRegistry types, Func<nint, string>? describe = null)
    {
        NativeTypeInfo* table = types.Table;
        uint typeCount = (uint)types.Count;
        var ids = new Dictionary<nint, long>();
        var queue = new Queue<nint>();
        var parents = new Dictionary<nint, (nint Parent, long Slot)>();
        ulong h = 0x9E3779B97F4A7C15UL;
        long bytes = 0;

        for (int s = 0; s < roots.Count; s++)
        {
            h = Mix(h, Visit(roots[s], ids, queue));
            parents.TryAdd(roots[s], (0, s));
        }

        while (queue.Count > 0)
        {
            nint obj = queue.Dequeue();
            long size = ObjectScanner.SizeOf(table, typeCount, obj, out long refs);
            if (size == 0)
            {
                var (parent, slot) = parents.GetValueOrDefault(obj);
                string where = parent == 0 ? $"root slot {slot}" : $"slot {slot} of 0x{parent:x}";
                string more = describe is null ? string.Empty : $" [{describe(obj)}] [holder: {(parent == 0 ? "root" : describe(parent))}]";
                throw new GcCollectionFailedException($"Graph checksum reached a bad header 0x{*(ulong*)obj:x16} at 0x{obj:x}, referenced from {where}{more}.");
            }

            bytes += size;
            h = Mix(h, *(ulong*)obj);
            nint* slots = (nint*)(obj + ObjectLayout.HeaderSize);
            for (long i = 0; i < refs; i++)
            {
                h = Mix(h, Visit(slots[i], ids, queue));
                if (slots[i] != 0)
                {
                    parents.TryAdd(slots[i], (obj, i));
                }
            }

            // Data: everything after the reference block (padding is always zero).
            byte* data = (byte*)(obj + ObjectLayout.HeaderSize + (refs * 8));
            long dataLen = size - ObjectLayout.HeaderSize - (refs * 8);
            for (long i = 0; i + 8 <= dataLen; i += 8)
            {
                h = Mix(h, *(ulong*)(data + i));
            }
        }

        return new Result(h, ids.Count, bytes);
    }

    [MethodImpl(CollectorCode.OptimizeOnce)]
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

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static ulong Mix(ulong h, ulong v)
    {
        h ^= v + 0x9E3779B97F4A7C15UL + (h << 6) + (h >> 2);
        return BitOperations.RotateLeft(h * 0xBF58476D1CE4E5B9UL, 31);
    }
}
