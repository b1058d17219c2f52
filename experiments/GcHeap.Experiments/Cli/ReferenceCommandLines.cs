using System.Globalization;

namespace GcHeap.Experiments.Cli;

/// <summary>
/// The command lines of the programs the workloads reproduce, read as the runner's named options:
/// <list type="bullet">
/// <item><c>binary-trees 21</c> (the Benchmarks Game: one argument, the depth) is <c>binary-trees --depth 21</c>;</item>
/// <item><c>gcperfsim -tc 2 -tagb 1 -tlgb 0.1 -sohsi 30 -sohsr 100-4000 ...</c> (GCPerfSim's switches) is
/// <c>gcperfsim --threads 2 --allocate-gb 1 --live-mb 102 --survive-interval 30 --min-size 100 --max-size 4000</c>.
/// GCPerfSim switches for what this workload does not model (large and pinned object heaps,
/// pinning, finalization) are accepted with the value that turns them off and refused otherwise.</item>
/// </list>
/// GCBench (Ellis, Kovac, Boehm) takes no arguments. Named options pass through unchanged.
/// </summary>
internal static class ReferenceCommandLines
{
    /// <summary>Switches GCPerfSim uses for features this workload does not model: accepted when they turn the feature off.</summary>
    private static readonly Dictionary<string, string> OffWhenZero = new(StringComparer.Ordinal)
    {
        ["-lohar"] = "large object allocations",
        ["-pohar"] = "pinned object heap allocations",
        ["-lohsi"] = "large object survival",
        ["-pohsi"] = "pinned object heap survival",
        ["-sohpi"] = "pinning",
        ["-lohpi"] = "large object pinning",
        ["-sohfi"] = "finalizable objects",
        ["-lohfi"] = "finalizable large objects",
        ["-pohfi"] = "finalizable pinned objects",
        ["-ramb"] = "request allocation",
        ["-rlmb"] = "request live data",
    };

    /// <summary>Switches whose value does not matter here (size ranges of unmodelled heaps, defaults).</summary>
    private static readonly HashSet<string> Ignored = new(StringComparer.Ordinal) { "-lohsr", "-pohsr", "-rsohsi", "-rlohsi" };

    /// <summary>
    /// Returns the arguments with reference command lines rewritten, and what was rewritten
    /// (null when nothing was); an argument that cannot be honoured is an error.
    /// </summary>
    public static (string[] Args, string? Rewritten, string? Error) Translate(string[] args)
    {
        if (args.Length < 2)
        {
            return (args, null, null);
        }

        return args[0] switch
        {
            "binary-trees" => BinaryTrees(args),
            "gcperfsim" => GcPerfSim(args),
            _ => (args, null, null),
        };
    }

    private static (string[], string?, string?) BinaryTrees(string[] args)
    {
        if (!int.TryParse(args[1], NumberStyles.None, CultureInfo.InvariantCulture, out _))
        {
            return (args, null, null);
        }

        string[] result = ["binary-trees", "--depth", args[1], .. args[2..]];
        return (result, string.Join(' ', result), null);
    }

    private static (string[], string?, string?) GcPerfSim(string[] args)
    {
        var result = new List<string> { args[0] };
        bool rewritten = false;
        for (int i = 1; i < args.Length; i++)
        {
            string a = args[i];
            bool isReference = a is "-tc" or "-tagb" or "-tlgb" or "-sohsi" or "-sohsr" or "-allocType" or "-testKind" || OffWhenZero.ContainsKey(a) || Ignored.Contains(a);
            if (!isReference)
            {
                result.Add(a);
                continue;
            }

            if (i + 1 >= args.Length)
            {
                return (args, null, $"gcperfsim: {a} needs a value");
            }

            string v = args[++i];
            rewritten = true;
            switch (a)
            {
                case "-tc":
                    result.AddRange(["--threads", v]);
                    break;
                case "-tagb":
                    result.AddRange(["--allocate-gb", v]);
                    break;
                case "-tlgb":
                    if (!double.TryParse(v, NumberStyles.Float, CultureInfo.InvariantCulture, out double gb) || gb < 0)
                    {
                        return (args, null, $"gcperfsim: -tlgb takes the live data in GB, not '{v}'");
                    }

                    result.AddRange(["--live-mb", Math.Max(1, (int)Math.Round(gb * 1024)).ToString(CultureInfo.InvariantCulture)]);
                    break;
                case "-sohsi":
                    if (v == "0")
                    {
                        return (args, null, "gcperfsim: -sohsi 0 (nothing survives) is not modelled: every survive-interval-th item survives here; give a large interval instead");
                    }

                    result.AddRange(["--survive-interval", v]);
                    break;
                case "-sohsr":
                    string[] range = v.Split('-');
                    if (range.Length != 2)
                    {
                        return (args, null, $"gcperfsim: -sohsr takes a size range MIN-MAX in bytes, not '{v}'");
                    }

                    result.AddRange(["--min-size", range[0], "--max-size", range[1]]);
                    break;
                case "-allocType" when v != "reference":
                    return (args, null, $"gcperfsim: -allocType {v} is not modelled: every item here is a node referencing its payload array (-allocType reference)");
                case "-testKind" when v != "time":
                    return (args, null, $"gcperfsim: -testKind {v} is not modelled (-testKind time is)");
                case "-allocType" or "-testKind":
                    break;
                default:
                    if (OffWhenZero.TryGetValue(a, out string? feature) && v != "0")
                    {
                        return (args, null, $"gcperfsim: {a} {v} asks for {feature}, which this workload does not model (only {a} 0 is accepted)");
                    }

                    break;
            }
        }

        string[] translated = [.. result];
        return (translated, rewritten ? string.Join(' ', translated) : null, null);
    }
}
