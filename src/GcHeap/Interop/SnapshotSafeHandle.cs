using Microsoft.Win32.SafeHandles;

namespace GcHeap.Interop;

/// <summary>
/// Owns a native snapshot saver. Releasing it stops its thread and closes its userfaultfd, which
/// clears every write-protection left and wakes every thread waiting in a fault.
/// </summary>
internal sealed class SnapshotSafeHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    /// <summary>Used by the P/Invoke marshaller.</summary>
    public SnapshotSafeHandle() : base(ownsHandle: true)
    {
    }

    protected override bool ReleaseHandle()
    {
        NativeMethods.SnapshotDestroy(handle);
        return true;
    }
}
