using System.Diagnostics;
using System.Reflection;

namespace GcHeap.Experiments.Harness;

/// <summary>Starts this program again as a child process with the given arguments.</summary>
internal static class ChildProcess
{
    /// <summary>
    /// Starts the child with standard input, output and error inherited (so a workload's output
    /// reaches the terminal unchanged) and the extra environment variables given.
    /// </summary>
    public static Process Start(IEnumerable<string> args, IReadOnlyDictionary<string, string> environment)
    {
        string self = Environment.ProcessPath ?? throw new InvalidOperationException("The path of this program is unknown.");
        var psi = new ProcessStartInfo(self) { UseShellExecute = false };
        if (Path.GetFileNameWithoutExtension(self).Equals("dotnet", StringComparison.OrdinalIgnoreCase))
        {
            // Started as "dotnet GcHeap.Experiments.dll": pass the assembly again.
            psi.ArgumentList.Add(Assembly.GetEntryAssembly()!.Location);
        }

        foreach (string a in args)
        {
            psi.ArgumentList.Add(a);
        }

        foreach (var (k, v) in environment)
        {
            psi.Environment[k] = v;
        }

        return Process.Start(psi) ?? throw new InvalidOperationException($"Could not start {self}.");
    }
}
