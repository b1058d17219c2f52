using Microsoft.Win32.SafeHandles;

namespace GcHeap.Interop;

/// <summary>
/// Owns a native concurrent compactor. Releasing it waits for the compaction to finish
/// (mutators may be blocked on pages only the compactor can install) and joins its threads.
/// </summary>
internal sealed class CompactorSafeHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    /// <summary>Used by the P/Invoke marshaller.</summary>
    public CompactorSafeHandle() : base(ownsHandle: true)
    {
    }

    protected override bool ReleaseHandle()
    {
        NativeMethods.CompactorDestroy(handle);
        return true;
    }
}
