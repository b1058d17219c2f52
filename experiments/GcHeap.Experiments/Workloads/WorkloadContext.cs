using System.Collections.Concurrent;
using System.Diagnostics;
using GcHeap.Experiments.Terminal;

namespace GcHeap.Experiments.Workloads;

/// <summary>What a running workload gets from the harness.</summary>
internal sealed class WorkloadContext(RunSettings settings, IRunProgress progress, TextWriter output, Action endOfWork)
{
    private readonly ConcurrentDictionary<string, object?> _metrics = new(StringComparer.Ordinal);
    private readonly long _start = Stopwatch.GetTimestamp();
    private int _ended;

    public RunSettings Settings { get; } = settings;

    public IRunProgress Progress { get; } = progress;

    /// <summary>The workload's own output (standard output).</summary>
    public TextWriter Output { get; } = output;

    public bool Ended => Volatile.Read(ref _ended) != 0;

    public IReadOnlyDictionary<string, object?> Metrics => _metrics;

    public TimeSpan Elapsed => Stopwatch.GetElapsedTime(_start);

    /// <summary>Records a figure the workload measured (operations done, bytes allocated, check values).</summary>
    public void Metric(string name, object? value) => _metrics[name] = value;

    /// <summary>Called once, on the workload's main thread, with the data still reachable.</summary>
    public void EndOfWork()
    {
        if (Interlocked.Exchange(ref _ended, 1) == 0)
        {
            endOfWork();
        }
    }
}
