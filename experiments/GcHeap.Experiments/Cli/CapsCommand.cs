using System.CommandLine;

namespace GcHeap.Experiments.Cli;

/// <summary>caps: what userfaultfd offers on this machine.</summary>
internal static class CapsCommand
{
    public static Command Create()
    {
        var command = new Command("caps", "Print what userfaultfd offers here (UffdCapabilities.Probe())");
        command.SetAction(_ =>
        {
            Console.WriteLine(UffdCapabilities.Probe().ToString());
            return 0;
        });
        return command;
    }
}
