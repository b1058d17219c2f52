using GcHeap.Interop;

namespace GcHeap;

/// <summary>
/// Opens the collector's uffd with the features it wants, dropping the optional ones the process
/// may not have: the kernel refuses UFFD_FEATURE_EVENT_FORK with EPERM without CAP_SYS_PTRACE, so
/// an unprivileged process gets the other events (and no poisoning of a raw-clone child's to-space).
/// </summary>
internal static class CollectorUffd
{
    /// <summary>Tries the wanted features, then without EVENT_FORK, then the backend's bare minimum; returns 0 or the last -errno.</summary>
    public static int Open(UffdOpenMethods allowed, UffdCapabilities caps, GcBackend backend, out int fd, out int method, out ulong granted)
    {
        ulong wanted = caps.CollectorFeatures(backend);
        ulong bare = backend switch
        {
            GcBackend.Move => NativeConstants.FeatureMove,
            GcBackend.Continue => NativeConstants.FeatureMinorShmem,
            _ => 0,
        };
        ulong[] attempts = [wanted, wanted & ~NativeConstants.FeatureEventFork, bare];
        int rc = 0;
        (fd, method, granted) = (-1, 0, 0);
        for (int i = 0; i < attempts.Length; i++)
        {
            if (i > 0 && attempts[i] == attempts[i - 1])
            {
                continue;
            }

            rc = NativeMethods.UffdOpen((int)allowed, attempts[i], out fd, out method, out _);
            if (rc == 0)
            {
                granted = attempts[i];
                return 0;
            }
        }

        return rc;
    }
}
