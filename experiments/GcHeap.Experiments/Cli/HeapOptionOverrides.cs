using System.CommandLine;
using System.Globalization;
using System.Reflection;

namespace GcHeap.Experiments.Cli;

/// <summary>
/// <c>--option Name=Value</c> (repeatable): sets any public <see cref="HeapOptions"/> property on
/// the heaps a run creates, so an experiment can flip a knob (CopyFaultedPages=false,
/// DensePageThreshold=0.5, BatchPages=16, ...) without a new flag. Recorded in the JSON.
/// </summary>
internal static class HeapOptionOverrides
{
    public static Option<string[]> CreateOption() => new("--option")
    {
        Description = "Set a HeapOptions property, e.g. --option CopyFaultedPages=false (repeatable)",
        AllowMultipleArgumentsPerToken = false,
        Arity = ArgumentArity.ZeroOrMore,
    };

    /// <summary>Parses and checks every override; throws <see cref="ArgumentException"/> naming the bad one.</summary>
    public static IReadOnlyList<(string Name, string Value)> Parse(IEnumerable<string>? specs)
    {
        var result = new List<(string, string)>();
        foreach (var spec in specs ?? [])
        {
            int eq = spec.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                throw new ArgumentException($"--option '{spec}' is not Name=Value.");
            }

            string name = spec[..eq].Trim(), value = spec[(eq + 1)..].Trim();
            Apply(new HeapOptions(), name, value); // validates name and value
            result.Add((name, value));
        }

        return result;
    }

    public static void Apply(HeapOptions options, IEnumerable<(string Name, string Value)> overrides)
    {
        foreach (var (name, value) in overrides)
        {
            Apply(options, name, value);
        }
    }

    private static void Apply(HeapOptions options, string name, string value)
    {
        var prop = typeof(HeapOptions).GetProperty(name, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
        if (prop is null || !prop.CanWrite)
        {
            var known = typeof(HeapOptions).GetProperties(BindingFlags.Public | BindingFlags.Instance).Where(p => p.CanWrite).Select(p => p.Name);
            throw new ArgumentException($"HeapOptions has no settable property '{name}'. Known: {string.Join(", ", known)}.");
        }

        var type = Nullable.GetUnderlyingType(prop.PropertyType) ?? prop.PropertyType;
        object? converted = type != prop.PropertyType && value.Equals("null", StringComparison.OrdinalIgnoreCase)
            ? null
            : type.IsEnum
                ? Enum.Parse(type, value, ignoreCase: true)
                : type == typeof(TimeSpan)
                    ? TimeSpan.Parse(value, CultureInfo.InvariantCulture)
                    : Convert.ChangeType(value, type, CultureInfo.InvariantCulture);
        prop.SetValue(options, converted);
    }
}
