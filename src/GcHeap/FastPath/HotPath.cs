using System.Runtime.CompilerServices;

namespace GcHeap;

/// <summary>
/// How the fast path's small methods are compiled. Inlined into optimized callers, as always; and
/// when a caller still runs unoptimized (tiered compilation's first tier: a recursive tree
/// builder can stay there for a large part of a one-second run, because every newly called method
/// postpones tier-up), the method's own body is compiled fully optimized on its first call rather
/// than at tier 0, so it still inlines what it calls. Measured in docs/results/2026-12-07/hotpath.
/// </summary>
internal static class HotPath
{
    /// <summary>AggressiveInlining and AggressiveOptimization (where the method is inlined, inlining wins).</summary>
    public const MethodImplOptions Inline = MethodImplOptions.AggressiveInlining | MethodImplOptions.AggressiveOptimization;
}
