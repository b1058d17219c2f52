using System.Globalization;
using System.Runtime;
using System.Runtime.InteropServices;

namespace GcHeap.Experiments.Results;

/// <summary>The machine and runtime a result was measured on.</summary>
internal sealed class MachineInfo
{
    public string? Kernel { get; init; }

    public int CpuCount { get; init; }

    public string? CpuModel { get; init; }

    public long? MemoryTotalBytes { get; init; }

    public string? Os { get; init; }

    public string? Runtime { get; init; }

    public bool ServerGc { get; init; }

    public bool ConcurrentGc { get; init; }

    public string? TimestampUtc { get; init; }

    public static MachineInfo Collect() => new()
    {
        Kernel = FirstLine("/proc/sys/kernel/osrelease"),
        CpuCount = Environment.ProcessorCount,
        CpuModel = ValueOf("/proc/cpuinfo", "model name"),
        MemoryTotalBytes = ValueOf("/proc/meminfo", "MemTotal") is string kb
            ? long.Parse(kb.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0], CultureInfo.InvariantCulture) * 1024
            : null,
        Os = RuntimeInformation.OSDescription,
        Runtime = RuntimeInformation.FrameworkDescription,
        ServerGc = GCSettings.IsServerGC,
        ConcurrentGc = AppContext.TryGetSwitch("System.GC.Concurrent", out bool c) ? c : GCSettings.LatencyMode != GCLatencyMode.Batch,
        TimestampUtc = DateTime.UtcNow.ToString("o", CultureInfo.InvariantCulture),
    };

    private static string? FirstLine(string path)
    {
        try
        {
            return File.ReadLines(path).FirstOrDefault()?.Trim();
        }
        catch (IOException)
        {
            return null;
        }
    }

    private static string? ValueOf(string path, string key)
    {
        try
        {
            foreach (string line in File.ReadLines(path))
            {
                int colon = line.IndexOf(':', StringComparison.Ordinal);
                if (colon > 0 && line[..colon].Trim() == key)
                {
                    return line[(colon + 1)..].Trim();
                }
            }
        }
        catch (IOException)
        {
        }

        return null;
    }
}
