using System.Runtime.CompilerServices;
using GcHeap.Collection;
using GcHeap.Interop;
using GcHeap.ObjectModel;

namespace GcHeap.Memory;

/// <summary>
/// Keeps the next <see cref="HeapOptions.AllocationPrefaultPages"/> pages of the allocation
/// space populated ahead of the mutators, so that taking a fresh page does not cost the mutator a
/// page fault: a native thread (native/src/prefault.c) populates them with MADV_POPULATE_WRITE.
/// <para>Safety: only pages of the current allocation space above the pages mutators have taken
/// are requested, and at a flip allocation resumes above every page registered with the uffd, so
/// a populated page never sits where the compactor installs one. <see cref="Drain"/> runs before
/// a space is discarded (<see cref="Space.Clear"/> discards up to <see cref="Space.PopulatedTo"/>),
/// so a late request cannot leave a page behind in the next cycle's to-space.</para>
/// <para>RSS stays honest: at most one window beyond the pages taken is populated per space.</para>
/// </summary>
internal sealed class AllocationPrefaulter : IDisposable
{
    private readonly PrefaulterSafeHandle _handle;
    private readonly int _window;
    private readonly int _lowWater;

    private AllocationPrefaulter(PrefaulterSafeHandle handle, int window)
    {
        _handle = handle;
        _window = window;
        _lowWater = Math.Max(1, window / 2);
    }

    /// <summary>A prefaulter, or null with the reason when the native thread cannot be created (allocation then faults its own pages).</summary>
    public static AllocationPrefaulter? TryCreate(int windowPages, out string? why)
    {
        why = null;
        if (windowPages <= 0)
        {
            why = "off (HeapOptions.AllocationPrefaultPages = 0)";
            return null;
        }

        int rc = NativeMethods.PrefaulterCreate(out var handle);
        if (rc != 0)
        {
            handle.Dispose();
            why = $"the prefault thread could not be created ({Errno.Describe(rc)})";
            return null;
        }

        return new AllocationPrefaulter(handle, windowPages);
    }

    /// <summary>Called after a mutator took pages up to <paramref name="lastTaken"/> of <paramref name="space"/>: requests the next window when the populated edge is near.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public void Ahead(Space space, int lastTaken)
    {
        if (lastTaken + _lowWater >= space.PopulatedTo)
        {
            RequestWindow(space, lastTaken);
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining | CollectorCode.OptimizeOnce)]
    private void RequestWindow(Space space, int lastTaken)
    {
        int populated = space.PopulatedTo;
        int start = Math.Max(populated, lastTaken + 1);
        int end = (int)Math.Min(space.AllocationLimitPages, (long)lastTaken + 1 + _window);
        if (end <= start || !space.TryAdvancePopulatedTo(populated, end))
        {
            return; // nothing left, or another thread just asked
        }

        // -EAGAIN (queue full) or -ECANCELED (stopped after an error): the pages simply fault on first touch.
        _ = NativeMethods.PrefaulterRequest(_handle, (ulong)space.PageAddress(start), (ulong)(end - start) << ObjectLayout.PageShift);
    }

    /// <summary>Waits until every requested page is populated; the collector calls it before discarding a space.</summary>
    public void Drain() => NativeMethods.PrefaulterDrain(_handle);

    public AllocationPrefaultStats Stats()
    {
        NativeMethods.PrefaulterStats(_handle, out var s);
        return new AllocationPrefaultStats(
            (long)s.Requests,
            (long)s.Pages,
            s.BusyNs / 1e6,
            (long)s.Dropped,
            s.Method == NativeConstants.PrefaultTouch ? "touch (no MADV_POPULATE_WRITE)" : "MADV_POPULATE_WRITE",
            s.LastError == 0 ? null : Errno.Describe(-s.LastError));
    }

    public void Dispose() => _handle.Dispose();
}
