using BenchmarkDotNet.Running;

namespace GcHeap.Benchmarks;

/// <summary>
/// Entry point: BenchmarkDotNet's switcher, so every standard option works
/// (<c>--filter '*Allocation*'</c>, <c>--job short</c>, <c>--list flat</c>, ...).
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        // Extra columns (collection pauses) are passed from the benchmark processes through files
        // in a temporary folder; a new run starts from an empty folder.
        ExtraStats.Reset();
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
        return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
    }
}
