using System.Runtime.CompilerServices;
using GcHeap.Collection;
using GcHeap.Interop;

namespace GcHeap.Compaction;

/// <summary>
/// The baseline executor: builds every to-space page with plain memory copies while the
/// world is stopped (native gch_compact_stw). Same plan and page builder as the concurrent
/// backends, so the comparison isolates how pages get installed.
/// </summary>
internal static unsafe class StopTheWorldCompactor
{
    [MethodImpl(CollectorCode.OptimizeOnce)]
    public static NativeCompactionStats Run(NativePlan* plan, bool checkForwarding, Func<int, nint, string> describe)
    {
        int rc = NativeMethods.CompactStopTheWorld(plan, checkForwarding ? 1 : 0, out var stats);
        if (rc != 0)
        {
            string detail = stats.ErrorOp is 7 or 11 ? " (" + describe(stats.ErrorOp, (nint)stats.ErrorAddr) + ")" : string.Empty;
            throw new GcCollectionFailedException(
                $"Stop-the-world compaction failed: {Errno.Describe(rc)} in {UffdCompactor.OpName(stats.ErrorOp)} at 0x{stats.ErrorAddr:x}{detail}.");
        }

        return stats;
    }
}
