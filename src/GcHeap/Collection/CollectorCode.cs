using System.Runtime.CompilerServices;

namespace GcHeap.Collection;

/// <summary>
/// How the collector's own code is compiled. Code that runs a few times per cycle (the cycle's
/// phases, the stop and the handshakes, the planner, a mutator's answer at its poll) reaches
/// tiered compilation's 30-call threshold around a process's 30th cycle, and each of its tier-1
/// and on-stack-replacement compiles wakes .NET's background JIT worker. Traced per pause
/// (docs/design.md section 7, <c>experiments/diagnostics/pause_attribution.py</c>), that worker
/// was what most slow stops waited for: woken, it preempted the mutator the stop needed (or the
/// stopper inside its pause) and compiled for 1-3 ms while the other CPU idled. Methods marked
/// with <see cref="OptimizeOnce"/> are compiled once, fully optimized, when first called (the
/// collector's warm-up calls <c>RuntimeHelpers.PrepareMethod</c> on them at heap creation), and
/// never again: no instrumentation, no call counting, no rejit. The price is that they get no
/// profile-guided optimization; the mutator's hot paths keep tiering.
/// </summary>
internal static class CollectorCode
{
    /// <summary><see cref="MethodImplOptions.AggressiveOptimization"/>, named for why it is used here.</summary>
    public const MethodImplOptions OptimizeOnce = MethodImplOptions.AggressiveOptimization;
}
