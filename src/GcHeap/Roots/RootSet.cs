using System.Runtime.CompilerServices;
using GcHeap.Collection;

namespace GcHeap.Roots;

/// <summary>
/// The root slots of a heap at one moment: the used global slots, then each mutator's local
/// handle stack, in slot order (so two enumerations of an unchanged heap agree). Only valid
/// while the world is stopped and the global lock is held. Built from plain arrays: it is used
/// inside pauses, where no generic code should still need compiling.
/// </summary>
internal readonly struct RootSet
{
    private readonly (int First, int End)[] _ranges;
    private readonly int _count;

    private RootSet((int First, int End)[] ranges, int count)
    {
        _ranges = ranges;
        _count = count;
    }

    /// <summary>The ranges [First, End) of slots, in slot order.</summary>
    public ReadOnlySpan<(int First, int End)> Ranges => new(_ranges, 0, _count);

    public long Count
    {
        get
        {
            long n = 0;
            for (int i = 0; i < _count; i++)
            {
                n += _ranges[i].End - _ranges[i].First;
            }

            return n;
        }
    }

    [MethodImpl(CollectorCode.OptimizeOnce)]
    public static RootSet Capture(HandleTable handles, List<Mutator> mutators)
    {
        var ranges = new (int First, int End)[mutators.Count + 1];
        ranges[0] = (1, handles.GlobalHigh);
        int n = 1;
        for (int i = 0; i < mutators.Count; i++)
        {
            var (first, end) = mutators[i].LocalRange;
            if (end <= first)
            {
                continue;
            }

            // insertion sort by First: a handful of ranges
            int j = n++;
            while (j > 1 && ranges[j - 1].First > first)
            {
                ranges[j] = ranges[j - 1];
                j--;
            }

            ranges[j] = (first, end);
        }

        return new RootSet(ranges, n);
    }
}
