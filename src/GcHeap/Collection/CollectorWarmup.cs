using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Runtime.CompilerServices;
using GcHeap.Compaction;
using GcHeap.Diagnostics;
using GcHeap.Interop;
using GcHeap.Marking;
using GcHeap.Memory;
using GcHeap.Roots;
using GcHeap.Threads;

namespace GcHeap.Collection;

/// <summary>
/// Compiles the collector's code before the first collection, on the collector thread while it
/// is idle, so that the first pauses do not include JIT time (measured: ~10 ms of the first
/// mark-start pause and ~3 ms of the first flip without it).
/// </summary>
internal static class CollectorWarmup
{
    private static readonly Type[] Types =
    [
        typeof(Collector), typeof(Marker), typeof(Planner), typeof(CompactionPlan), typeof(SafepointCoordinator),
        typeof(HandleTable), typeof(RootSet), typeof(UffdCompactor), typeof(StopTheWorldCompactor), typeof(MarkBitmap),
        typeof(Space), typeof(GraphChecksum), typeof(HeapVerifier), typeof(NativeMethods), typeof(Mutator),
        typeof(HeapOptions), typeof(Heap), typeof(ObjectModel.ObjectScanner), typeof(CollectionStats), typeof(PauseRecord),
        typeof(SatbQueue), typeof(UffdSafeHandle), typeof(CompactorSafeHandle), typeof(TypeRegistry),
        typeof(GcHeapEventSource), typeof(StopperHandoff),
    ];

    /// <summary>Precompiles the collector's methods, then runs the pause machinery once if no mutator is attached.</summary>
    public static unsafe void Run(Heap heap)
    {
        PrepareMethods();

        // Generic instantiations cannot be precompiled by reflection: exercise what the pauses
        // and the statistics use (measured: 138 methods, ~7 ms of JIT, in the first collection).
        // Only while no thread is attached: the warm-up may run late (a busy machine), and a stop
        // must not catch a thread that does not expect one (no collection requested yet).
        if (heap.Safepoints.TryStopTheWorldUnattended())
        {
            heap.Safepoints.ResumeTheWorld();
        }
        lock (heap.Handles.GlobalLock)
        {
            _ = RootSet.Capture(heap.Handles, heap.Safepoints.Mutators).Count;
        }

        var pauses = new List<PauseRecord> { new(PauseKind.Flip, 0) };
        var steps = new List<(string, double)> { ("warm-up", 0) };
        _ = new CollectionStats { Pauses = [.. pauses], PauseSteps = [.. steps] }.MaxPauseMs;
        _ = pauses.Sum(p => p.Milliseconds) + pauses.Where(p => p.Kind == PauseKind.Full).Sum(p => p.Milliseconds);
        using (var satb = new SatbQueue())
        {
            satb.Publish(satb.Rent(), 0);
            if (satb.TryTake(out var taken, out _))
            {
                satb.Return(taken);
            }
        }
        ulong[] pooled = System.Buffers.ArrayPool<ulong>.Shared.Rent(16);
        System.Buffers.ArrayPool<ulong>.Shared.Return(pooled);
        WarmStopperHandoff();
    }

    /// <summary>
    /// The handoff's system calls run on the thread that completes a stop, inside the stop: their
    /// first call in the process (the P/Invoke stubs' generation and JIT) would count as time to
    /// safepoint. Made here on the collector thread itself: pinned to its own CPU, then its mask back.
    /// </summary>
    private static unsafe void WarmStopperHandoff()
    {
        byte* mask = stackalloc byte[128];
        if (NativeMethods.ThreadSelfId(out int tid) == 0 && NativeMethods.ThreadPinHere(tid, mask) == 0)
        {
            _ = NativeMethods.ThreadSetAffinity(0, mask);
        }
    }

    [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = "Warm-up only: a method the trimmer removed is simply not precompiled.")]
    [UnconditionalSuppressMessage("Trimming", "IL2070", Justification = "Warm-up only.")]
    private static void PrepareMethods()
    {
        foreach (var type in Types)
        {
            foreach (var t in type.GetNestedTypes(BindingFlags.Public | BindingFlags.NonPublic).Prepend(type))
            {
                const BindingFlags All = BindingFlags.DeclaredOnly | BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic;
                foreach (var m in t.GetMethods(All).Cast<MethodBase>().Concat(t.GetConstructors(All)))
                {
                    if (m.IsAbstract || m.ContainsGenericParameters || m.DeclaringType?.ContainsGenericParameters == true)
                    {
                        continue;
                    }

                    try
                    {
                        RuntimeHelpers.PrepareMethod(m.MethodHandle);
                    }
                    catch (Exception e) when (e is ArgumentException or InvalidOperationException or NotSupportedException or BadImageFormatException or MissingMethodException)
                    {
                        // Not every method can be compiled ahead (e.g. some stubs); it will be on first use.
                    }
                }
            }
        }
    }
}
