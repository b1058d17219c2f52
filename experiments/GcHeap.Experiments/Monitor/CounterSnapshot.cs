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
