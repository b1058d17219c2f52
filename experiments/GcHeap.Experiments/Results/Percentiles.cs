namespace GcHeap.Experiments.Results;

/// <summary>Nearest-rank percentiles (the same rule GcHeap uses for its fault stalls).</summary>
internal static class Percentiles
{
    /// <summary>The nearest-rank <paramref name="q"/> quantile, or null for no samples.</summary>
    public static double? Of(IEnumerable<double> values, double q)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0)
        {
            return null;
        }

        int i = (int)Math.Ceiling(q * sorted.Length) - 1;
        return sorted[Math.Clamp(i, 0, sorted.Length - 1)];
    }

    /// <summary>
    /// The weighted median of per-group medians: sort the groups by value and take the value at
    /// which the cumulative weight reaches half of the total. Null when no group has weight.
    /// </summary>
    public static double? WeightedMedian(IEnumerable<(double Value, double Weight)> groups)
    {
        var sorted = groups.Where(g => g.Weight > 0).OrderBy(g => g.Value).ToArray();
        double total = sorted.Sum(g => g.Weight);
        if (total <= 0)
        {
            return null;
        }

        double acc = 0;
        foreach (var (value, weight) in sorted)
        {
            acc += weight;
            if (acc >= total / 2)
            {
                return value;
            }
        }

        return sorted[^1].Value;
    }
}
