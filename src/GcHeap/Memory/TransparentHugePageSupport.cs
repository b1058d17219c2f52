namespace GcHeap.Memory;

/// <summary>
/// Whether this kernel gives transparent huge pages to a range that asks for them
/// (MADV_HUGEPAGE): <c>/sys/kernel/mm/transparent_hugepage/enabled</c> reads <c>[always]</c> or
/// <c>[madvise]</c>. With <c>[never]</c>, or without the file (a kernel built without THP), spaces
/// stay in 4 KiB pages.
/// </summary>
internal static class TransparentHugePageSupport
{
    private const string EnabledPath = "/sys/kernel/mm/transparent_hugepage/enabled";

    /// <summary>True when a MADV_HUGEPAGE range gets huge pages; otherwise <paramref name="reason"/> says why not.</summary>
    public static bool IsAvailable(out string reason)
    {
        string mode;
        try
        {
            mode = File.ReadAllText(EnabledPath).Trim();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            reason = $"{EnabledPath} cannot be read ({e.Message}): no transparent huge pages";
            return false;
        }

        if (mode.Contains("[always]", StringComparison.Ordinal) || mode.Contains("[madvise]", StringComparison.Ordinal))
        {
            reason = $"{EnabledPath}: {mode}";
            return true;
        }

        reason = $"{EnabledPath} is '{mode}': transparent huge pages are off";
        return false;
    }
}
