using System.Text;
using GcHeap.Compaction;
using GcHeap.Marking;
using GcHeap.Memory;
using GcHeap.ObjectModel;

namespace GcHeap.Diagnostics;

/// <summary>
/// Explains a reference the collector could not forward: which object holds the slot, what
/// the slot points at, and what the marker and the plan recorded about the target. Used to make
/// a failed collection say exactly what it found.
/// </summary>
internal static unsafe class CorruptionReport
{
    public static string DescribeSlot(nint slot, Space from, Space to, MarkBitmap bitmap, CompactionPlan plan, TypeRegistry types)
    {
        var sb = new StringBuilder();
        Space? holderSpace = from.Contains(slot) ? from : to.Contains(slot) ? to : null;
        if (holderSpace is null)
        {
            return $"slot 0x{slot:x} is outside both spaces";
        }

        nint value = *(nint*)slot;
        int page = holderSpace.PageOf(slot);
        sb.Append($"slot 0x{slot:x} (space {holderSpace.Name}, page {page}, kind {holderSpace.Kinds[page]}) holds 0x{value:x}");
        nint obj = FindHolder(holderSpace, slot, types);
        if (obj == slot)
        {
            // The slot is a header: some object before it claimed more reference slots than it has.
            nint prev = FindHolder(holderSpace, slot - 8, types);
            if (prev != 0)
            {
                long psize = ObjectScanner.SizeOf(types.Table, (uint)types.Count, prev, out long prefs);
                sb.Append($"; the object before it, 0x{prev:x}, header 0x{*(ulong*)prev:x16} size {psize} refs {prefs}");
                if (holderSpace == from)
                {
                    sb.Append($" marked {bitmap.IsSet((ulong)(prev - from.Base) >> 3)}, page class {plan.FromClass[from.PageOf(prev)]}");
                }
            }
        }

        if (obj != 0)
        {
            sb.Append($"; holder object 0x{obj:x} type '{types.ById(ObjectLayout.TypeIdOf(obj))?.Name}' slot {(slot - obj - 8) / 8}");
            if (holderSpace == from)
            {
                sb.Append($", holder marked {bitmap.IsSet((ulong)(obj - from.Base) >> 3)}");
            }
        }

        if (from.Contains(value))
        {
            int tp = from.PageOf(value);
            sb.Append($"; target page {tp} kind {from.Kinds[tp]} class {plan.FromClass[tp]} live bytes {bitmap.LiveBytes[tp]}, target marked {bitmap.IsSet((ulong)(value - from.Base) >> 3)}, header 0x{*(ulong*)value:x16}");
        }
        else
        {
            sb.Append(to.Contains(value) ? "; the target is already in to-space" : "; the target is outside the heap");
        }

        return sb.ToString();
    }

    /// <summary>Describes a live source object whose forwarding disagreed with the packed stream.</summary>
    public static string DescribeSource(nint obj, Space from, MarkBitmap bitmap, CompactionPlan plan, TypeRegistry types)
    {
        if (!from.Contains(obj))
        {
            return $"object 0x{obj:x} is not in from-space";
        }

        int p = from.PageOf(obj);
        var sb = new StringBuilder();
        sb.Append($"plan covers from-pages [0, {plan.FromPages}) -> {plan.ToPages} to-pages; space {from.Name} high water {from.HighWater}; ");
        sb.Append($"object 0x{obj:x} at page {p} offset {obj - from.PageAddress(p)}, header 0x{*(ulong*)obj:x16}, marked {bitmap.IsSet((ulong)(obj - from.Base) >> 3)}; ");
        sb.Append($"page class {plan.FromClass[p]} dest granule {plan.FromDest[p]} aux 0x{plan.FromAux[p]:x} live bytes {bitmap.LiveBytes[p]} first live offset {bitmap.FirstLiveOffset(p)}; objects:");
        nint cur = from.PageAddress(p);
        uint count = (uint)types.Count;
        while (cur < from.PageAddress(p) + ObjectLayout.PageSize && ObjectLayout.TypeIdOf(cur) != ObjectLayout.TypeEnd)
        {
            long size = ObjectScanner.SizeOf(types.Table, count, cur, out _);
            sb.Append($" [{cur - from.PageAddress(p)}:{types.ById(ObjectLayout.TypeIdOf(cur))?.Name} {size}{(bitmap.IsSet((ulong)(cur - from.Base) >> 3) ? " live" : string.Empty)}]");
            if (size == 0)
            {
                break;
            }

            cur += (nint)size;
        }

        return sb.ToString();
    }

    private static nint FindHolder(Space space, nint slot, TypeRegistry types)
    {
        int p = space.PageOf(slot);
        while (p > 0 && space.Kinds[p] == PageKind.LargeTail)
        {
            p--;
        }

        nint cur = space.PageAddress(p);
        nint end = cur + ObjectLayout.PageSize;
        if (space.Kinds[p] == PageKind.LargeHead)
        {
            return cur;
        }

        uint count = (uint)types.Count;
        while (cur < end && ObjectLayout.TypeIdOf(cur) != ObjectLayout.TypeEnd)
        {
            long size = ObjectScanner.SizeOf(types.Table, count, cur, out _);
            if (size == 0)
            {
                return 0;
            }

            if (slot >= cur && slot < cur + size)
            {
                return cur;
            }

            cur += (nint)size;
        }

        return 0;
    }
}
