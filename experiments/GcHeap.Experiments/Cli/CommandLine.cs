namespace GcHeap.Experiments.Cli;

/// <summary>The arguments this process was started with (the dotnet backend passes them on to its child).</summary>
internal static class CommandLine
{
    public static IReadOnlyList<string> Arguments { get; set; } = [];
}
