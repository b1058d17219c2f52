using Microsoft.Win32.SafeHandles;

namespace GcHeap.Interop;

/// <summary>Owns the native allocation prefault thread; releasing it stops and joins the thread.</summary>
internal sealed class PrefaulterSafeHandle : SafeHandleZeroOrMinusOneIsInvalid
{
    /// <summary>Used by the P/Invoke marshaller.</summary>
    public PrefaulterSafeHandle() : base(ownsHandle: true)
    {
    }

    protected override bool ReleaseHandle()
    {
        NativeMethods.PrefaulterDestroy(handle);
        return true;
    }
}
