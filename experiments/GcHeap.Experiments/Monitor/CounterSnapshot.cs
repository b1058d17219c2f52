namespace GcHeap.Experiments.Monitor;

/// <summary>The latest value of each counter, keyed by counter name, updated as EventCounters events arrive.</summary>
internal sealed class CounterSnapshot
{
    private readonly object _lock = new();
    private readonly SortedDictionary<string, CounterValue> _values = new(StringComparer.Ordinal);

    public int Updates { get; private set; }

    public void Update(CounterValue v)
    {
        lock (_lock)
        {
            _values[v.Name] = v;
            Updates++;
        }
    }

    private readonly SortedDictionary<(string Heap, int Rank), TypeCensusRow> _census = new();

    public void Update(TypeCensusRow row)
    {
        lock (_lock)
        {
            if (_census.Keys.FirstOrDefault(k => k.Heap == row.Heap) is { Heap: not null } && row.Rank == 1)
            {
                foreach (var k in _census.Keys.Where(k => k.Heap == row.Heap).ToList())
                {
                    _census.Remove(k); // a new census of this heap replaces the last one
                }
            }

            _census[(row.Heap, row.Rank)] = row;
        }
    }

    /// <summary>The latest census of each heap, by heap and rank.</summary>
    public IReadOnlyList<TypeCensusRow> Census()
    {
        lock (_lock)
        {
            return [.. _census.Values];
        }
    }

    public IReadOnlyList<CounterValue> Values()
    {
        lock (_lock)
        {
            return [.. _values.Values];
        }
    }
}

/// <summary>One counter reading: a mean (polling counters) or an increment over the interval (rate counters).</summary>
internal sealed record CounterValue(string Name, string DisplayName, double Value, string Units, bool IsRate, DateTime Time);

/// <summary>One type of a heap census: rank 1 has the most live bytes.</summary>
internal sealed record TypeCensusRow(string Heap, int Rank, string Type, long Count, long Bytes, double PauseMs, DateTime Time);
