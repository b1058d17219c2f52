using Microsoft.Win32.SafeHandles;

namespace GcHeap.Interop;

/// <summary>Owns a userfaultfd file descriptor.</summary>
internal sealed class UffdSafeHandle : SafeHandleMinusOneIsInvalid
{
    public UffdSafeHandle(int fd) : base(ownsHandle: true) => SetHandle(fd);

    /// <summary>The descriptor, for passing to native calls while the handle is alive.</summary>
    public int Fd => (int)handle;

    protected override bool ReleaseHandle() => NativeMethods.Close((int)handle) == 0;
}
