using Spectre.Console;

namespace GcHeap.Experiments.Terminal;

/// <summary>
/// Where the runner talks to people: standard error, so that standard output carries only a
/// workload's own output (binary-trees must print exactly what the benchmark prints). Live
/// displays are used only when standard error is a terminal.
/// </summary>
internal static class Term
{
    private static readonly Lazy<IAnsiConsole> s_err = new(() => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Out = new AnsiConsoleOutput(Console.Error),
        Interactive = Console.IsErrorRedirected ? InteractionSupport.No : InteractionSupport.Yes,
        Ansi = Console.IsErrorRedirected ? AnsiSupport.No : AnsiSupport.Detect,
        ColorSystem = Console.IsErrorRedirected ? ColorSystemSupport.NoColors : ColorSystemSupport.Detect,
    }));

    private static readonly Lazy<IAnsiConsole> s_out = new(() => AnsiConsole.Create(new AnsiConsoleSettings
    {
        Out = new AnsiConsoleOutput(Console.Out),
        Interactive = Console.IsOutputRedirected ? InteractionSupport.No : InteractionSupport.Yes,
        Ansi = Console.IsOutputRedirected ? AnsiSupport.No : AnsiSupport.Detect,
        ColorSystem = Console.IsOutputRedirected ? ColorSystemSupport.NoColors : ColorSystemSupport.Detect,
    }));

    /// <summary>Standard error as a Spectre console.</summary>
    public static IAnsiConsole Err => s_err.Value;

    /// <summary>Standard output as a Spectre console (for commands whose product is a table).</summary>
    public static IAnsiConsole Out => s_out.Value;

    /// <summary>True when live displays (progress bars, refreshing tables) make sense on standard error.</summary>
    public static bool Interactive => !Console.IsErrorRedirected;

    /// <summary>Writes a plain line to standard error.</summary>
    public static void Info(string line) => Console.Error.WriteLine(line);
}
