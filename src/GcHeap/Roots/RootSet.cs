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

    public static RootSet Capture(HandleTable handles, IEnumerable<Mutator> mutators)
    {
        var ranges = new List<(int, int)> { (1, handles.GlobalHigh) };
        foreach (var (first, end) in mutators.Select(m => m.LocalRange).OrderBy(r => r.First))
        {
            if (end > first)
            {
                ranges.Add((first, end));
            }
        }

        return new RootSet(ranges);
    }
}
