using Spectre.Console;

namespace GcHeap.Experiments.Terminal;

/// <summary>
/// Where the runner talks to people: standard error, so that standard output carries only a
/// workload's own output (binary-trees must print exactly what the benchmark prints). Live
/// displays are used only when standard error is a terminal.
/// </summary>
internal static class Term
{
    /// <summary>Width of tables written to a file or pipe (a terminal's own width is used otherwise).</summary>
    private const int RedirectedWidth = 200;

    private static readonly Lazy<IAnsiConsole> s_err = new(() => Create(Console.Error, Console.IsErrorRedirected));

    private static readonly Lazy<IAnsiConsole> s_out = new(() => Create(Console.Out, Console.IsOutputRedirected));

    /// <summary>Standard error as a Spectre console.</summary>
    public static IAnsiConsole Err => s_err.Value;

    /// <summary>Standard output as a Spectre console (for commands whose product is a table).</summary>
    public static IAnsiConsole Out => s_out.Value;

    /// <summary>True when live displays (progress bars, refreshing tables) make sense on standard error.</summary>
    public static bool Interactive => !Console.IsErrorRedirected;

    private static IAnsiConsole Create(TextWriter writer, bool redirected)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Interactive = redirected ? InteractionSupport.No : InteractionSupport.Yes,
            Ansi = redirected ? AnsiSupport.No : AnsiSupport.Detect,
            ColorSystem = redirected ? ColorSystemSupport.NoColors : ColorSystemSupport.Detect,
        });
        if (redirected)
        {
            console.Profile.Width = RedirectedWidth;
        }

        return console;
    }

    /// <summary>Writes a plain line to standard error.</summary>
    public static void Info(string line) => Console.Error.WriteLine(line);
}
