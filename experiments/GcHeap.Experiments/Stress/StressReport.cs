namespace GcHeap.Experiments.Stress;

/// <summary>What a stress run counted; shared by every thread (each update takes the lock).</summary>
internal sealed class StressReport
{
    private readonly object _lock = new();

    public string Command { get; init; } = string.Empty;

    public int Seed { get; init; }

    public int Threads { get; init; }

    public double SecondsRequested { get; init; }

    public double PhaseSeconds { get; init; }

    public IReadOnlyList<string> Backends { get; init; } = [];

    public double DurationSeconds { get; set; }

    public int Phases { get; set; }

    public SortedDictionary<string, long> PhasesByKind { get; } = [];

    /// <summary>Completed collections by the backend that ran them.</summary>
    public SortedDictionary<string, long> CyclesByBackend { get; } = [];

    /// <summary>Collections whose verifier (heap check and graph checksum across the collection) ran and passed.</summary>
    public long VerifiedCycles { get; set; }

    public long Cycles { get; set; }

    /// <summary>Comparisons of a thread's graph with its .NET model that passed, and the objects they compared.</summary>
    public long ModelChecks { get; set; }

    public long ModelObjectsCompared { get; set; }

    /// <summary>Weak references (with their objects' stable ids) found pointing at their live objects, and weak references of dead objects found cleared.</summary>
    public long WeakReferencesChecked { get; set; }

    public long WeakClearsChecked { get; set; }

    public long MutatorOperations { get; set; }

    public long VerifyCalls { get; set; }

    public long EbusyFallbacks { get; set; }

    public long CyclesWithEbusy { get; set; }

    public long CyclesWhileForked { get; set; }

    public long StopTheWorldFallbacks { get; set; }

    public long AbandonedCollections { get; set; }

    public long DotnetGcs { get; set; }

    public long Exhaustions { get; set; }

    public long Recoveries { get; set; }

    public SortedDictionary<string, long> Disposals { get; } = [];

    /// <summary>Documented exceptions seen, by type (fuzzed misuse, full heaps, calls racing a disposal, timeouts).</summary>
    public SortedDictionary<string, long> ExceptionsByType { get; } = [];

    /// <summary>Bad inputs tried, by case, each of which threw the documented exception.</summary>
    public SortedDictionary<string, long> BadInputs { get; } = [];

    /// <summary>Longest stop-the-world handshake (time to safepoint) per backend, ms.</summary>
    public SortedDictionary<string, double> MaxTimeToSafepointMs { get; } = [];

    /// <summary>Longest pause per backend, ms.</summary>
    public SortedDictionary<string, double> MaxPauseMs { get; } = [];

    /// <summary>The longest handshakes of the run: when, on which backend, whom they waited for, and how much of the wait .NET's GC had the process suspended.</summary>
    public List<SlowSafepoint> SlowestSafepoints { get; } = [];

    public List<string> Mismatches { get; } = [];

    public List<string> UndocumentedExceptions { get; } = [];

    public string? Hang { get; set; }

    public bool Passed => Mismatches.Count == 0 && UndocumentedExceptions.Count == 0 && Hang is null;

    public void Update(Action<StressReport> change)
    {
        lock (_lock)
        {
            change(this);
        }
    }

    public T Read<T>(Func<StressReport, T> read)
    {
        lock (_lock)
        {
            return read(this);
        }
    }

    public void Documented(Exception e) => Update(r => Bump(r.ExceptionsByType, e.GetType().Name));

    public void Mismatch(string what) => Update(r =>
    {
        if (r.Mismatches.Count < 100)
        {
            r.Mismatches.Add(what);
        }
    });

    public void Undocumented(string what) => Update(r =>
    {
        if (r.UndocumentedExceptions.Count < 100)
        {
            r.UndocumentedExceptions.Add(what);
        }
    });

    public static void Bump<TKey>(SortedDictionary<TKey, long> d, TKey key, long by = 1)
        where TKey : notnull => d[key] = d.GetValueOrDefault(key) + by;

    public static void Max(SortedDictionary<string, double> d, string key, double value)
    {
        if (value > d.GetValueOrDefault(key))
        {
            d[key] = value;
        }
    }
}

/// <summary>
/// One slow stop-the-world handshake: the phase and collection, how long the stop waited, the
/// thread(s) it waited for last, how long .NET's GC had the process suspended while this
/// cycle's stops waited, and the cycle's longest pause.
/// </summary>
internal sealed record SlowSafepoint(string Phase, long Cycle, string Backend, double TimeToSafepointMs, string AwaitedThread, double DotnetGcPauseDuringStopsMs, double MaxPauseMs);
