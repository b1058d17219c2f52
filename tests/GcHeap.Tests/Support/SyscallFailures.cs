using System.Runtime.InteropServices;

namespace GcHeap.Tests.Support;

/// <summary>
/// Makes chosen system calls fail on one thread, for real: a seccomp filter (SECCOMP_RET_ERRNO)
/// installed on a new thread, which then runs the test's code. Filters are per thread (no
/// TSYNC), so the rest of the test process is not affected; threads the filtered thread creates
/// (a heap's collector thread) inherit the filter, as they would in a sandboxed process.
/// </summary>
internal static unsafe partial class SyscallFailures
{
    public const int SysMmap = 9;
    public const int SysIoctl = 16;
    public const int SysMadvise = 28;
    public const int SysUserfaultfd = 323;
    public const int SysClone = 56;
    public const int SysClone3 = 435;

    public const uint UffdioRegister = 0xC020AA00; // _IOWR(0xAA, 0x00, struct uffdio_register)

    public const int MadvNoHugePage = 15;
    public const uint UserfaultfdIocNew = 0xAA00; // _IO(0xAA, 0x00): opening through /dev/userfaultfd

    private const int PrSetSeccomp = 22;
    private const int PrSetNoNewPrivs = 38;
    private const int SeccompModeFilter = 2;
    private const uint AuditArchX8664 = 0xC000003E;
    private const uint RetAllow = 0x7fff0000;
    private const uint RetErrno = 0x00050000;
    private const ushort LdAbsW = 0x20, JeqK = 0x15, RetK = 0x06;
    private const uint OffsetNr = 0, OffsetArch = 4, OffsetArgs = 16;

    /// <summary>One system call to fail: <paramref name="Nr"/>, optionally only when argument <paramref name="ArgIndex"/> equals <paramref name="ArgValue"/>.</summary>
    public readonly record struct Rule(int Nr, int Errno, int ArgIndex = -1, ulong ArgValue = 0);

    /// <summary>Runs <paramref name="body"/> on a new thread where <paramref name="rules"/> hold, and rethrows what it threw.</summary>
    public static void RunOnFilteredThread(IReadOnlyList<Rule> rules, Action body)
    {
        Exception? error = null;
        var t = new Thread(() =>
        {
            try
            {
                Install(rules);
                body();
            }
            catch (Exception e)
            {
                error = e;
            }
        })
        { IsBackground = true, Name = "seccomp-filtered test thread" };
        t.Start();
        Assert.True(t.Join(TimeSpan.FromMinutes(2)), "the filtered thread did not finish");
        if (error is not null)
        {
            throw new AggregateException(error);
        }
    }

    /// <summary>
    /// Makes <paramref name="rules"/> hold on the calling thread from now on, for good (a heap's
    /// collector thread, from a CollectionCompleted handler) and on threads it creates later.
    /// </summary>
    public static void InstallOnCurrentThread(IReadOnlyList<Rule> rules) => Install(rules);

    private static void Install(IReadOnlyList<Rule> rules)
    {
        var prog = new List<SockFilter>
        {
            new(LdAbsW, 0, 0, OffsetArch),
            new(JeqK, 1, 0, AuditArchX8664),
            new(RetK, 0, 0, RetAllow),
        };
        foreach (var r in rules)
        {
            int length = r.ArgIndex < 0 ? 3 : 7;
            prog.Add(new(LdAbsW, 0, 0, OffsetNr));
            prog.Add(new(JeqK, 0, (byte)(length - 2), (uint)r.Nr));
            if (r.ArgIndex >= 0)
            {
                uint offset = OffsetArgs + (8 * (uint)r.ArgIndex);
                prog.Add(new(LdAbsW, 0, 0, offset));
                prog.Add(new(JeqK, 0, (byte)(length - 4), (uint)r.ArgValue));
                prog.Add(new(LdAbsW, 0, 0, offset + 4));
                prog.Add(new(JeqK, 0, 1, (uint)(r.ArgValue >> 32)));
            }

            prog.Add(new(RetK, 0, 0, RetErrno | (uint)r.Errno));
        }

        prog.Add(new(RetK, 0, 0, RetAllow));
        var filters = prog.ToArray();
        fixed (SockFilter* f = filters)
        {
            var fprog = new SockFprog { Len = (ushort)filters.Length, Filter = f };
            Check(Prctl(PrSetNoNewPrivs, 1, 0, 0, 0), "PR_SET_NO_NEW_PRIVS");
            Check(Prctl(PrSetSeccomp, SeccompModeFilter, (nuint)(&fprog), 0, 0), "PR_SET_SECCOMP");
        }
    }

    private static void Check(int rc, string what)
    {
        if (rc != 0)
        {
            throw new InvalidOperationException($"prctl({what}) failed: errno {Marshal.GetLastPInvokeError()}");
        }
    }

    [LibraryImport("libc", EntryPoint = "prctl", SetLastError = true)]
    private static partial int Prctl(int option, nuint arg2, nuint arg3, nuint arg4, nuint arg5);

    [StructLayout(LayoutKind.Sequential)]
    private readonly struct SockFilter(ushort code, byte jt, byte jf, uint k)
    {
        public readonly ushort Code = code;
        public readonly byte Jt = jt;
        public readonly byte Jf = jf;
        public readonly uint K = k;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct SockFprog
    {
        public ushort Len;
        public SockFilter* Filter;
    }
}
