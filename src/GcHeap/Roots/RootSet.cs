namespace GcHeap.Roots;

/// <summary>
/// The root slots of a heap at one moment: the used global slots, then each mutator's local
/// handle stack, in slot order (so two enumerations of an unchanged heap agree). Only valid
/// while the world is stopped and the global lock is held.
/// </summary>
internal readonly struct RootSet
{
    private readonly List<(int First, int End)> _ranges;

    private RootSet(List<(int First, int End)> ranges) => _ranges = ranges;

    public IReadOnlyList<(int First, int End)> Ranges => _ranges;

    public long Count => _ranges.Sum(r => (long)(r.End - r.First));

    public static RootSet Capture(HandleTable handles, List<Mutator> mutators)
    {
        var ranges = new List<(int First, int End)>(mutators.Count + 1) { (1, handles.GlobalHigh) };
        foreach (var m in mutators)
        {
            var (first, end) = m.LocalRange;
            if (end > first)
            {
                ranges.Add((first, end));
            }
        }

        ranges.Sort(static (a, b) => a.First.CompareTo(b.First));
        return new RootSet(ranges);
    }
}
