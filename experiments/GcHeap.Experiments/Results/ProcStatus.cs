using System.Globalization;

namespace GcHeap.Experiments.Results;

/// <summary>Resident memory of this process from /proc/self/status (VmHWM = peak, VmRSS = now).</summary>
internal static class ProcStatus
{
    /// <summary>Peak resident set size in bytes, or null where /proc is unavailable.</summary>
    public static long? PeakRssBytes() => ReadKb("VmHWM:");

    /// <summary>Current resident set size in bytes, or null where /proc is unavailable.</summary>
    public static long? RssBytes() => ReadKb("VmRSS:");

    /// <summary>Resident shared memory (shmem/memfd pages mapped by this process: the Continue backend's spaces) in bytes (RssShmem in /proc/self/status).</summary>
    public static long? RssShmemBytes() => ReadKb("RssShmem:");

    /// <summary>hugetlbfs pages mapped by this process in bytes (HugetlbPages in /proc/self/status; not part of RSS): the Continue backend's spaces on 2 MiB pages.</summary>
    public static long? HugetlbBytes() => ReadKb("HugetlbPages:");

    /// <summary>Resident anonymous memory in bytes (RssAnon in /proc/self/status).</summary>
    public static long? RssAnonBytes() => ReadKb("RssAnon:");

    /// <summary>
    /// Proportional set size in bytes (Pss in /proc/self/smaps_rollup, Linux 4.14+): each resident
    /// page divided by the number of processes mapping it; for a shmem page mapped twice by this
    /// process only (the Continue backend's two views) it counts once.
    /// </summary>
    public static long? PssBytes() => ReadKb("Pss:", "/proc/self/smaps_rollup");

    /// <summary>
    /// Resets the peak (VmHWM) to the current RSS by writing 5 to /proc/self/clear_refs (Linux 4.0+),
    /// so that a later <see cref="PeakRssBytes"/> covers only what ran in between. False when it failed.
    /// </summary>
    public static bool TryResetPeak()
    {
        try
        {
            File.WriteAllText("/proc/self/clear_refs", "5");
            return true;
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    private static long? ReadKb(string key, string path = "/proc/self/status")
    {
        try
        {
            foreach (string line in File.ReadLines(path))
            {
                if (line.StartsWith(key, StringComparison.Ordinal))
                {
                    string[] parts = line[key.Length..].Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
                    return long.Parse(parts[0], CultureInfo.InvariantCulture) * 1024;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }

        return null;
    }
}
