using GcHeap.Experiments.Results;

namespace GcHeap.Experiments.Compare;

/// <summary>Ratios between backends at one live size (null where a side is missing).</summary>
internal sealed class CompareRatios
{
    public int LiveMb { get; set; }

    /// <summary>Move CompactMs / Copy CompactMs (sums over the measured collections).</summary>
    public double? MoveOverCopyCollectorTime { get; set; }

    /// <summary>Move CollectorCpuMs / Copy CollectorCpuMs.</summary>
    public double? MoveOverCopyCollectorCpu { get; set; }

    /// <summary>Move's largest flip pause / StopTheWorld's largest full pause.</summary>
    public double? MoveOverStwPause { get; set; }

    /// <summary>Move's largest pause of any kind / StopTheWorld's largest pause.</summary>
    public double? MoveOverStwMaxPause { get; set; }

    /// <summary>Continue CompactMs / Move CompactMs (sums over the measured collections).</summary>
    public double? ContinueOverMoveCollectorTime { get; set; }

    /// <summary>Continue CollectorCpuMs / Move CollectorCpuMs.</summary>
    public double? ContinueOverMoveCollectorCpu { get; set; }

    /// <summary>PSS the Continue case added (after compaction minus before the case) / what the Move case added.</summary>
    public double? ContinueOverMovePss { get; set; }
}

/// <summary>An issue target and whether this run met it.</summary>
internal sealed record TargetCheck(string Target, string Measured, bool? Met);

/// <summary>The JSON of the compare command (and of the demo).</summary>
internal sealed class CompareReport
{
    public int SchemaVersion { get; set; } = 1;

    public string Command { get; set; } = "compare";

    public Dictionary<string, object?> Parameters { get; set; } = [];

    public string? Capabilities { get; set; }

    public List<CompareCase> Cases { get; set; } = [];

    /// <summary>memcpy bandwidth measured in the same run (MemcpyProbe), GB/s.</summary>
    public double? MemcpyGbS { get; set; }

    public List<CompareRatios> Ratios { get; set; } = [];

    public List<TargetCheck> Targets { get; set; } = [];

    public MachineInfo Machine { get; set; } = new();

    public List<string> Notes { get; set; } = [];
}
