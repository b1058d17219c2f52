using System.Globalization;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Reports;
using BenchmarkDotNet.Running;

namespace GcHeap.Benchmarks;

/// <summary>
/// Hands numbers measured inside a benchmark process (BenchmarkDotNet starts one per benchmark
/// case) to the host process that prints the summary: the benchmark writes one small
/// <c>name=value</c> file per case in its [GlobalCleanup], the host's <see cref="ExtraStatsColumn"/>
/// reads it. The folder is emptied when the host starts, so two runs at once would mix.
/// </summary>
public static class ExtraStats
{
    public static string Folder => Path.Combine(Path.GetTempPath(), "GcHeap.Benchmarks.stats");

    public static void Reset()
    {
        if (Directory.Exists(Folder))
        {
            Directory.Delete(Folder, recursive: true);
        }
    }

    /// <summary>The file key of a benchmark case: its method and its parameter values.</summary>
    public static string Key(string method, params object[] parameters) =>
        string.Join("_", new[] { method }.Concat(parameters.Select(p => Convert.ToString(p, CultureInfo.InvariantCulture) ?? "null")));

    public static void Write(string key, IEnumerable<KeyValuePair<string, string>> values)
    {
        Directory.CreateDirectory(Folder);
        File.WriteAllLines(PathOf(key), values.Select(kv => $"{kv.Key}={kv.Value}"));
    }

    public static string? Read(string key, string name)
    {
        string path = PathOf(key);
        if (!File.Exists(path))
        {
            return null;
        }

        foreach (string line in File.ReadLines(path))
        {
            int eq = line.IndexOf('=', StringComparison.Ordinal);
            if (eq > 0 && line.AsSpan(0, eq).SequenceEqual(name))
            {
                return line[(eq + 1)..];
            }
        }

        return null;
    }

    /// <summary>Median of a sample (0 for none).</summary>
    public static double Median(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0)
        {
            return 0;
        }

        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }

    private static string PathOf(string key) =>
        Path.Combine(Folder, string.Concat(key.Select(c => char.IsLetterOrDigit(c) || c is '_' or '-' or '.' ? c : '_')) + ".txt");
}

/// <summary>
/// A summary column whose value a benchmark process wrote with <see cref="ExtraStats.Write"/>;
/// the case's key is its method name followed by the values of <paramref name="parameterNames"/>.
/// </summary>
public sealed class ExtraStatsColumn(string name, string legend, params string[] parameterNames) : IColumn
{
    public string Id => "GcHeap.Extra." + name;

    public string ColumnName => name;

    public bool AlwaysShow => true;

    public ColumnCategory Category => ColumnCategory.Custom;

    public int PriorityInCategory => 0;

    public bool IsNumeric => false;

    public UnitType UnitType => UnitType.Dimensionless;

    public string Legend => legend;

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase)
    {
        ArgumentNullException.ThrowIfNull(benchmarkCase);
        object[] values = [.. parameterNames.Select(p => benchmarkCase.Parameters[p])];
        return ExtraStats.Read(ExtraStats.Key(benchmarkCase.Descriptor.WorkloadMethod.Name, values), name) ?? "?";
    }

    public string GetValue(Summary summary, BenchmarkCase benchmarkCase, SummaryStyle style) => GetValue(summary, benchmarkCase);

    public bool IsDefault(Summary summary, BenchmarkCase benchmarkCase) => false;

    public bool IsAvailable(Summary summary) => true;

    public override string ToString() => ColumnName;
}
