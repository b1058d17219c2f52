using System.Runtime.InteropServices;
using GcHeap.Interop;
using GcHeap.Model;

namespace GcHeap.Tests.Support;

/// <summary>
/// Walks a heap's graph natively from the roots of a <see cref="MirroredGraph"/>, in this process
/// or in a forked child that reports through a pipe and exits (the .NET runtime never runs in the
/// child). The checksum numbers objects in the order found, so it does not depend on addresses.
/// </summary>
internal static unsafe class ForkedWalk
{
    public const int SigBus = 7;

    private const ulong MaxObjects = 1 << 20;

    /// <summary>Walks in this process.</summary>
    public static NativeWalkResult Here(Heap heap, MirroredGraph graph)
    {
        using var slots = RootSlots(heap, graph);
        Assert.Equal(0, NativeMethods.TestWalk(heap.Types.Table, (uint)heap.Types.Count, (ulong**)slots.Pointer, (uint)slots.Count, MaxObjects, out var r));
        return r;
    }

    /// <summary>Forks (through glibc, or past its atfork handlers like a raw clone) and walks in the child.</summary>
    public static NativeWalkResult InChild(Heap heap, MirroredGraph graph, bool bypassAtfork, int timeoutMs = 30_000)
    {
        using var slots = RootSlots(heap, graph);
        int rc = NativeMethods.TestForkWalk(heap.Types.Table, (uint)heap.Types.Count, (ulong**)slots.Pointer, (uint)slots.Count, MaxObjects, bypassAtfork ? 1 : 0, timeoutMs, out var r);
        Assert.True(rc == 0, $"the forked child did not report within {timeoutMs} ms ({Errno.Describe(rc)}): it hung");
        return r;
    }

    public static NativeForkGateStats GateStats()
    {
        Assert.Equal(0, NativeMethods.ForkGateStats(out var s));
        return s;
    }

    private static SlotArray RootSlots(Heap heap, MirroredGraph graph)
    {
        var a = new SlotArray(graph.RootCount);
        for (int i = 0; i < graph.RootCount; i++)
        {
            a.Pointer[i] = (nint)(heap.Handles.Slots + graph.RootHandle(i).Slot);
        }

        return a;
    }

    /// <summary>Addresses of handle slots in native memory (the child reads them after the fork).</summary>
    private sealed class SlotArray(int count) : IDisposable
    {
        public nint* Pointer { get; } = (nint*)NativeMemory.AllocZeroed((nuint)Math.Max(1, count), (nuint)sizeof(nint));

        public int Count { get; } = count;

        public void Dispose() => NativeMemory.Free(Pointer);
    }
}
