using System.Runtime.CompilerServices;
using GcHeap.Collection;
using GcHeap.Interop;

namespace GcHeap.Threads;

/// <summary>
/// Hands the CPU of the thread that completes a stop to the stopper it wakes. A stopper that has
/// spun its 100 us sleeps until the last thread parks; the kernel then queues it on its previous
/// CPU, behind whatever runs there (measured: 2.4 ms behind the runtime's JIT worker, every
/// mutator stopped meanwhile, while the parking thread's CPU sat idle). So the parking thread
/// restricts the sleeping stopper to its own CPU just before it wakes it and sleeps; the stopper
/// gives its affinity mask back as soon as it runs (<c>native/src/threads.c</c>). All members are
/// called under the safepoint coordinator's lock.
/// </summary>
internal sealed unsafe class StopperHandoff
{
    [ThreadStatic]
    private static int t_tid;

    private readonly bool _enabled;
    private readonly byte[] _savedMask = new byte[128];
    private int _sleepingStopper;
    private bool _pinned;

    /// <param name="enabled"><see cref="HeapOptions.StopperHandoff"/>.</param>
    public StopperHandoff(bool enabled) => _enabled = enabled;

    /// <summary>Stops whose stopper was handed a CPU this way, since the heap was created.</summary>
    public long Handoffs { get; private set; }

    /// <summary>The stopper, before it first sleeps in a stop.</summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    public void StopperSleeps()
    {
        if (_enabled)
        {
            _sleepingStopper = t_tid != 0 ? t_tid : (t_tid = NativeMethods.ThreadSelfId(out int tid) == 0 ? tid : 0);
        }
    }

    /// <summary>The stopper, once every thread has stopped (or the stop is given up): its own mask back. True if it had been handed a CPU.</summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    public bool StopperAwake()
    {
        _sleepingStopper = 0;
        if (!_pinned)
        {
            return false;
        }

        _pinned = false;
        fixed (byte* mask = _savedMask)
        {
            _ = NativeMethods.ThreadSetAffinity(0, mask);
        }

        return true;
    }

    /// <summary>The thread whose arrival completes the stop, before it wakes the stopper and sleeps.</summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    public void HandOver()
    {
        if (_sleepingStopper == 0 || _pinned)
        {
            return;
        }

        fixed (byte* mask = _savedMask)
        {
            if (NativeMethods.ThreadPinHere(_sleepingStopper, mask) == 0)
            {
                _pinned = true;
                Handoffs++;
            }
        }
    }
}
