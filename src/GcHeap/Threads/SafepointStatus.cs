using System.Text;

namespace GcHeap;

/// <summary>What an attached thread is doing, as far as the collector's stop-the-world handshake is concerned.</summary>
public enum MutatorThreadState
{
    /// <summary>May touch the heap: a stop must wait until it reaches its next heap call (a poll).</summary>
    Running,

    /// <summary>Stopped at a poll, waiting for the world to resume.</summary>
    Parked,

    /// <summary>Inside <see cref="Mutator.EnterSafeRegion"/>: a stop does not wait for it.</summary>
    InSafeRegion,

    /// <summary>Detached.</summary>
    Detached,
}

/// <summary>One attached thread in a <see cref="SafepointStatus"/>.</summary>
/// <param name="Name">The mutator's name (the thread's name by default).</param>
/// <param name="ManagedThreadId">The owning thread's <see cref="Environment.CurrentManagedThreadId"/>.</param>
/// <param name="State">What it is doing.</param>
/// <param name="ThreadAlive">False when the thread ended without detaching (the next stop drops it).</param>
/// <param name="Awaited">True when a stop or a handshake in progress is waiting for this thread.</param>
public sealed record MutatorStatus(string Name, int ManagedThreadId, MutatorThreadState State, bool ThreadAlive, bool Awaited);

/// <summary>
/// A snapshot of the stop-the-world handshake (<see cref="Heap.GetSafepointStatus"/>): whether a
/// stop is in progress, how long it has waited, and every attached thread with its state and
/// whether the stop is waiting for it.
/// </summary>
/// <param name="Stopping">A stop is waiting for threads to reach a poll.</param>
/// <param name="Stopped">The world is stopped (a pause is running).</param>
/// <param name="StopWaitMs">How long the stop in progress has waited so far (0 when none is).</param>
/// <param name="Mutators">Every attached thread.</param>
public sealed record SafepointStatus(bool Stopping, bool Stopped, double StopWaitMs, IReadOnlyList<MutatorStatus> Mutators)
{
    /// <summary>The threads a stop or handshake in progress is waiting for.</summary>
    public IEnumerable<MutatorStatus> Awaited => Mutators.Where(m => m.Awaited);

    /// <summary>A handshake (see <see cref="CollectionStats.Handshakes"/>) is waiting for threads to reach a poll; nobody is stopped by it.</summary>
    public bool Handshaking { get; init; }

    /// <summary>How long the handshake in progress has waited so far (0 when none is).</summary>
    public double HandshakeWaitMs { get; init; }

    /// <inheritdoc />
    public override string ToString()
    {
        var sb = new StringBuilder();
        sb.Append(Stopping ? $"stopping for {StopWaitMs:F1} ms" : Stopped ? "stopped" : Handshaking ? $"running, handshake waiting for {HandshakeWaitMs:F1} ms" : "running");
        foreach (var m in Mutators)
        {
            sb.Append("; ").Append(Describe(m));
        }

        return sb.ToString();
    }

    internal static string Describe(MutatorStatus m) =>
        $"'{m.Name}' (thread {m.ManagedThreadId}) {m.State}{(m.ThreadAlive ? string.Empty : ", thread ended")}{(m.Awaited ? ", awaited" : string.Empty)}";
}
