using System.Runtime.InteropServices;
using GcHeap.Interop;

namespace GcHeap.Tests;

/// <summary>
/// A system call that reads or writes heap memory while the page is not in to-space yet.
/// In full mode (the default) the kernel's own access waits for the collector like a user
/// access; in user-mode-only mode it would fail with EFAULT, so GcHeap's I/O methods touch the
/// pages from user mode first. Both must move the right bytes.
/// </summary>
public class KernelAccessTests
{
    [Theory]
    [InlineData(UffdOpenMethods.All)]
    [InlineData(UffdOpenMethods.UserModeOnly)]
    public void FileIoStraightFromHeapMemoryDuringCompaction(UffdOpenMethods allowed)
    {
        if (Environment.UserName != "root" && allowed != UffdOpenMethods.UserModeOnly)
        {
            return;
        }

        using var heap = TestHeaps.Create(GcBackend.Move, configure: o =>
        {
            o.UffdOpenMethods = allowed;
            // 10 ms a page (~2 s for the ~210 pages): the sweepers start 1 ms after the plan even
            // while the flip pause lasts, so a flip held up for a second (1,093 ms once, in a loaded
            // fresh-clone run) let a 0.5 ms-a-page sweep finish before this thread could fault.
            o.SweepDelayMicros = 10_000;
            o.VerifyHeap = false; // the mutator, not the verifier, must be the one to fault
        });
        using var m = heap.AttachCurrentThread();
        var rnd = new Random(11);
        var arrays = new List<(GcRoot Root, byte[] Data)>();
        using (m.OpenScope())
        {
            for (int i = 0; i < 300; i++)
            {
                var data = new byte[i % 7 == 0 ? 9000 : 700];
                rnd.NextBytes(data);
                var a = m.AllocateArray(heap.Types.ByteArray, data.Length);
                m.WriteItems<byte>(a, 0, data);
                m.AllocateArray(heap.Types.ByteArray, 500); // garbage, so pages get compacted
                arrays.Add((m.CreateRoot(a), data));
            }
        }

        string path = Path.Combine(Path.GetTempPath(), $"gcheap-io-{Environment.ProcessId}-{allowed}.bin");
        try
        {
            using var file = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite);
            var collect = new Thread(() => Record.Exception(() => heap.Collect()));
            collect.Start();
            Assert.True(SpinWait.SpinUntil(() => { m.Safepoint(); return heap.Phase == CollectionPhase.Compacting; }, TimeSpan.FromSeconds(30)), "compaction never started");

            // Write every array to the file straight from heap memory, then read each back into
            // another heap array, all while the (throttled) compaction runs. Last array first: the
            // compactor works upwards through to-space, so the mutator does not trail behind it
            // (where every page is in place already) even if it was scheduled late.
            var offsets = new long[arrays.Count];
            for (int i = 1; i < arrays.Count; i++)
            {
                offsets[i] = offsets[i - 1] + arrays[i - 1].Data.Length;
            }

            for (int i = arrays.Count - 1; i >= 0; i--)
            {
                m.WriteToFile(file, offsets[i], arrays[i].Root.Ref, 0, arrays[i].Data.Length);
            }

            for (int i = 0; i < arrays.Count; i++)
            {
                using var s = m.OpenScope();
                var copy = m.AllocateArray(heap.Types.ByteArray, arrays[i].Data.Length);
                Assert.Equal(arrays[i].Data.Length, m.ReadFromFile(file, offsets[i], copy, 0, arrays[i].Data.Length));
                var got = new byte[arrays[i].Data.Length];
                m.ReadItems<byte>(copy, 0, got);
                Assert.Equal(arrays[i].Data, got);
            }

            using (m.EnterSafeRegion())
            {
                collect.Join();
            }

            var stats = heap.LastCollection!;
            Assert.True(stats.FaultsServed > 0, $"no fault was served: {stats}");
            var onDisk = File.ReadAllBytes(path);
            Assert.Equal(arrays.SelectMany(a => a.Data).ToArray(), onDisk);
        }
        finally
        {
            File.Delete(path);
            foreach (var (root, _) in arrays)
            {
                root.Dispose();
            }
        }
    }

    /// <summary>
    /// The raw kernel behaviour behind the I/O methods: pwrite(2) of a heap page that is not in
    /// to-space yet (checked with mincore just before). A full-mode uffd makes the kernel wait for
    /// the collector; a user-mode-only uffd makes the system call fail with EFAULT.
    /// </summary>
    [Theory]
    [InlineData(UffdOpenMethods.FullModeOnly, 0)]
    [InlineData(UffdOpenMethods.UserModeOnly, 14)] // EFAULT
    public unsafe void SystemCallOnAMissingToSpacePage(UffdOpenMethods allowed, int expectedErrno)
    {
        if (Environment.UserName != "root" && allowed != UffdOpenMethods.UserModeOnly)
        {
            return;
        }

        using var heap = TestHeaps.Create(GcBackend.Move, configure: o =>
        {
            o.UffdOpenMethods = allowed;
            o.SweepDelayMicros = 20_000; // ~150 pages: the last is installed seconds after the cycle starts (3 ms a page lost the race once under a loaded fresh-clone run)
            o.VerifyHeap = false;
            o.DensePageThreshold = 0; // every page moves whole, in address order
        });
        using var m = heap.AttachCurrentThread();
        var roots = new List<GcRoot>();
        using (m.OpenScope())
        {
            for (int i = 0; i < 200; i++)
            {
                var a = m.AllocateArray(heap.Types.ByteArray, 3000);
                m.SetItem<byte>(a, 100, (byte)(i + 1));
                roots.Add(m.CreateRoot(a));
            }
        }

        var collect = new Thread(() => Record.Exception(() => heap.Collect()));
        collect.Start();
        Assert.True(SpinWait.SpinUntil(() => { m.Safepoint(); return heap.Phase == CollectionPhase.Compacting; }, TimeSpan.FromSeconds(30)));

        // The last array lives on one of the last pages the (throttled) sweep will install.
        nint obj = m.AddressOf(roots[^1].Ref);
        nint page = obj & ~(nint)4095;
        Assert.Equal(0, NativeMethods.MemResidentPages((ulong)page, 4096, out ulong resident));
        Assert.Equal(0UL, resident); // really missing right now

        string path = Path.Combine(Path.GetTempPath(), $"gcheap-raw-{Environment.ProcessId}-{allowed}.bin");
        try
        {
            using var file = File.OpenHandle(path, FileMode.Create, FileAccess.ReadWrite);
            long n = PWrite(file.DangerousGetHandle().ToInt32(), (void*)(obj + 8), 3000, 0);
            int errno = n < 0 ? Marshal.GetLastPInvokeError() : 0;
            Assert.Equal(expectedErrno, errno);
            if (expectedErrno == 0)
            {
                Assert.Equal(3000, n);
                Assert.Equal(200, File.ReadAllBytes(path)[100]);
            }
        }
        finally
        {
            File.Delete(path);
        }

        using (m.EnterSafeRegion())
        {
            collect.Join();
        }

        // In full mode the kernel's own access was a fault the native collector served; in
        // user-mode-only mode it failed instead and nothing else touched to-space.
        Assert.Equal(expectedErrno == 0, heap.LastCollection!.FaultsServed > 0);
        roots.ForEach(r => r.Dispose());
    }

    [DllImport("libc", EntryPoint = "pwrite", SetLastError = true)]
    private static extern unsafe long PWrite(int fd, void* buf, nuint count, long offset);
}
