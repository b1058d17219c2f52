using System.Diagnostics;

namespace GcHeap.Experiments.Stress;

/// <summary>
/// One thread of the stress run, as the watchdog sees it: its role, the phase it works in, the
/// operation it is in (or finished last), and when it last made progress.
/// </summary>
internal sealed class StressThread
{
    private long _progress = Stopwatch.GetTimestamp();
    private volatile string _phase = "starting";
    private volatile string? _current;
    private volatile string _last = "none";
    private volatile bool _idle;

    public StressThread(string name, string role)
    {
        Name = name;
        Role = role;
    }

    public string Name { get; }

    public string Role { get; }

    public Thread? Thread { get; set; }

    public bool Finished { get; set; }

    public string Phase
    {
        get => _phase;
        set => _phase = value;
    }

    /// <summary>Seconds since the thread last finished an operation (0 while it waits on purpose).</summary>
    public double SecondsSinceProgress => _idle || Finished ? 0 : Stopwatch.GetElapsedTime(Volatile.Read(ref _progress)).TotalSeconds;

    /// <summary>Starts an operation (a heap call or a group of them).</summary>
    public void Begin(string op)
    {
        _current = op;
    }

    /// <summary>The operation started last finished.</summary>
    public void Done()
    {
        if (_current is { } c)
        {
            _last = c;
        }

        _current = null;
        Volatile.Write(ref _progress, Stopwatch.GetTimestamp());
    }

    /// <summary>Waits on purpose (for other threads, between phases): the watchdog does not count it.</summary>
    public IdleScope Idle(string what)
    {
        _current = what;
        _idle = true;
        return new IdleScope(this);
    }

    public string Describe() =>
        $"{Name} [{Role}] phase '{Phase}': " +
        (_current is { } c ? $"in '{c}'" : "between operations") + $", last finished '{_last}', " +
        (_idle ? "waiting on purpose" : Finished ? "finished" : $"no progress for {SecondsSinceProgress:F1} s") +
        (Thread is { } t ? $", .NET thread state {t.ThreadState}" : string.Empty);

    internal readonly struct IdleScope(StressThread owner) : IDisposable
    {
        public void Dispose()
        {
            owner._idle = false;
            owner.Done();
        }
    }
}
