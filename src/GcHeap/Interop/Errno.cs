using System.Runtime.InteropServices;

namespace GcHeap.Interop;

/// <summary>Names and descriptions of the errno values the native layer reports.</summary>
internal static class Errno
{
    public const int EPERM = 1;
    public const int ENOENT = 2;
    public const int EINTR = 4;
    public const int EIO = 5;
    public const int EAGAIN = 11;
    public const int ENOMEM = 12;
    public const int EACCES = 13;
    public const int EFAULT = 14;
    public const int EBUSY = 16;
    public const int EEXIST = 17;
    public const int EINVAL = 22;
    public const int ENOSYS = 38;
    public const int EOPNOTSUPP = 95;
    public const int ETIMEDOUT = 110;

    /// <summary>The symbolic name of an errno (sign ignored).</summary>
    public static string Name(int errno) => Math.Abs(errno) switch
    {
        0 => "OK",
        EPERM => "EPERM",
        ENOENT => "ENOENT",
        EINTR => "EINTR",
        EIO => "EIO",
        EAGAIN => "EAGAIN",
        ENOMEM => "ENOMEM",
        EACCES => "EACCES",
        EFAULT => "EFAULT",
        EBUSY => "EBUSY",
        EEXIST => "EEXIST",
        EINVAL => "EINVAL",
        ENOSYS => "ENOSYS",
        EOPNOTSUPP => "EOPNOTSUPP",
        ETIMEDOUT => "ETIMEDOUT",
        var n => $"errno {n}",
    };

    /// <summary>"EPERM (Operation not permitted)".</summary>
    public static string Describe(int errno)
    {
        int e = Math.Abs(errno);
        string text = Marshal.GetPInvokeErrorMessage(e);
        return $"{Name(e)} ({text})";
    }

    public static void ThrowIfFailed(int rc, string operation)
    {
        if (rc != 0)
        {
            throw new GcNativeException(operation, rc);
        }
    }
}
