using System.Runtime.ExceptionServices;

namespace GcHeap.Experiments.Workloads;

/// <summary>
/// Worker threads whose exceptions are kept instead of ending the process, so that a failure
/// on a mutator (for example a collection that failed) reaches the main thread and the report.
/// </summary>
internal sealed class WorkerThreads
{
    private readonly List<Thread> _threads = [];
    private Exception? _first;

    public WorkerThreads(int count, string name, Action<int> body)
    {
        for (int i = 0; i < count; i++)
        {
            int index = i;
            _threads.Add(new Thread(() =>
            {
                try
                {
                    body(index);
                }
                catch (Exception e)
                {
                    Interlocked.CompareExchange(ref _first, e, null);
                }
            }) { Name = $"{name} {i}", IsBackground = true });
        }
    }

    public bool AnyAlive => _threads.Any(t => t.IsAlive);

    public Exception? Failure => Volatile.Read(ref _first);

    public void Start() => _threads.ForEach(t => t.Start());

    public void Join() => _threads.ForEach(t => t.Join());

    /// <summary>Rethrows the first exception a worker threw, if any.</summary>
    public void ThrowIfFailed()
    {
        if (Failure is { } e)
        {
            ExceptionDispatchInfo.Capture(e).Throw();
        }
    }
}
