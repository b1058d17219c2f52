using System.Diagnostics;
using GcHeap;
// Stop-the-world backend collections of a small heap, with a second thread polling: cycles per second.
var heap = new Heap(new HeapOptions { Backend = GcBackend.StopTheWorld, MaxHeapBytes = 16 << 20, BackgroundCollection = false });
var n = heap.Types.DefineObject("N", b => b.Reference("f").Value<long>("id"));
using var m = heap.AttachCurrentThread();
using var root = m.CreateRoot(m.AllocateArray(heap.Types.ReferenceArray, 1000));
for (int i = 0; i < 1000; i++) { using var s = m.OpenScope(); m.SetElement(root.Ref, i, m.Allocate(n)); }
int stop = 0;
var t = new Thread(() => { using var mm = heap.AttachCurrentThread("poller"); while (Volatile.Read(ref stop) == 0) { mm.Safepoint(); Thread.SpinWait(200); } });
t.Start();
for (int i = 0; i < 500; i++) heap.Collect();
for (int r = 0; r < 3; r++)
{
    var sw = Stopwatch.StartNew();
    int c = 0;
    while (sw.ElapsedMilliseconds < 3000) { heap.Collect(); c++; }
    Console.WriteLine($"{args[0]} round {r}: {c / sw.Elapsed.TotalSeconds:F0} collections/s");
}
Volatile.Write(ref stop, 1); t.Join();
using (m.EnterSafeRegion()) { }
