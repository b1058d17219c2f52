using System.Diagnostics;
using GcHeap;
// The first .NET gen0 collection after creating a GcHeap heap: how long it suspended the runtime, how much it promoted.
long a0 = GC.GetTotalAllocatedBytes();
using var heap = new Heap(new HeapOptions { MaxHeapBytes = 3L << 30 });
long a1 = GC.GetTotalAllocatedBytes();
var p0 = GC.GetTotalPauseDuration();
GC.Collect(0);
var p1 = GC.GetTotalPauseDuration();
var info = GC.GetGCMemoryInfo(GCKind.Any);
Console.WriteLine($"new Heap allocated {(a1 - a0) >> 10} KiB managed; gcs before {GC.CollectionCount(0) - 1}; first gen0: paused {(p1 - p0).TotalMilliseconds:F3} ms, promoted {info.PromotedBytes >> 10} KiB");
GC.Collect(0);
Console.WriteLine($"second gen0: paused {(GC.GetTotalPauseDuration() - p1).TotalMilliseconds:F3} ms, promoted {GC.GetGCMemoryInfo(GCKind.Any).PromotedBytes >> 10} KiB");
