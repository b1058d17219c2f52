using System.Diagnostics.CodeAnalysis;
using System.Reflection;
using System.Runtime.CompilerServices;
using GcHeap.Compaction;
using GcHeap.Diagnostics;
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
        typeof(Space), typeof(GraphChecksum), typeof(HeapVerifier), typeof(Interop.NativeMethods), typeof(Mutator),
    ];

    [UnconditionalSuppressMessage("Trimming", "IL2075", Justification = "Warm-up only: a method the trimmer removed is simply not precompiled.")]
    [UnconditionalSuppressMessage("Trimming", "IL2070", Justification = "Warm-up only.")]
    public static void Run()
    {
        foreach (var type in Types)
        {
            foreach (var t in type.GetNestedTypes(BindingFlags.Public | BindingFlags.NonPublic).Prepend(type))
            {
                foreach (var m in t.GetMethods(BindingFlags.DeclaredOnly | BindingFlags.Instance | BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic))
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
