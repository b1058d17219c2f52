namespace GcHeap;

/// <summary>Live objects of one type, found by <see cref="Heap.TakeCensus"/>.</summary>
/// <param name="Type">The type.</param>
/// <param name="Count">Live objects of the type.</param>
/// <param name="Bytes">Bytes they occupy, headers included.</param>
public sealed record GcTypeStatistics(GcType Type, long Count, long Bytes);

/// <summary>
/// What the heap holds alive at one moment, per type: the answer to "what is using my heap".
/// Taken by <see cref="Heap.TakeCensus"/> by marking from every root inside one pause, so it
/// counts exactly the objects reachable at that moment (garbage not yet collected is not counted).
/// </summary>
public sealed class HeapCensus
{
    internal HeapCensus(IReadOnlyList<GcTypeStatistics> types, double pauseMs)
    {
        Types = types;
        PauseMs = pauseMs;
        Objects = types.Sum(t => t.Count);
        Bytes = types.Sum(t => t.Bytes);
    }

    /// <summary>Every type with at least one live object, most bytes first.</summary>
    public IReadOnlyList<GcTypeStatistics> Types { get; }

    /// <summary>Live objects in all.</summary>
    public long Objects { get; }

    /// <summary>Live bytes in all.</summary>
    public long Bytes { get; }

    /// <summary>How long mutators were stopped for the census (it marks the whole live graph: proportional to live data).</summary>
    public double PauseMs { get; }

    /// <summary>The <paramref name="n"/> types with the most live bytes.</summary>
    public IReadOnlyList<GcTypeStatistics> Top(int n) => Types.Take(Math.Max(0, n)).ToList();

    /// <summary>The statistics of <paramref name="type"/> (zero counts when none is alive).</summary>
    public GcTypeStatistics this[GcType type] => Types.FirstOrDefault(t => ReferenceEquals(t.Type, type)) ?? new GcTypeStatistics(type, 0, 0);
}
