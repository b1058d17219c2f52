using System.Runtime.InteropServices;

namespace GcHeap.Tests.Support;

/// <summary>
/// Named pipes: opening one for writing blocks in the kernel until a reader opens it, a stand-in
/// for a file whose open or replacement takes long.
/// </summary>
internal static partial class Fifo
{
    public static void Create(string path)
    {
        Assert.True(mkfifo(path, 0x180 /* 0600 */) == 0, $"mkfifo failed: errno {Marshal.GetLastPInvokeError()}");
    }

    /// <summary>
    /// Opens the read end (blocks until a writer opens it) without .NET's advisory lock: a
    /// FileStream's shared lock would make the writer's exclusive one fail.
    /// </summary>
    public static FileStream OpenReader(string path)
    {
        int fd = open(path, 0 /* O_RDONLY */);
        Assert.True(fd >= 0, $"open failed: errno {Marshal.GetLastPInvokeError()}");
        return new FileStream(new Microsoft.Win32.SafeHandles.SafeFileHandle(fd, ownsHandle: true), FileAccess.Read);
    }

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int open(string path, int flags);

    [LibraryImport("libc", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int mkfifo(string path, uint mode);
}
