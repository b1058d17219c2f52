using System.Globalization;
using GcHeap;

// One million objects with a stable id each, kept alive; three collections per backend. Prints
// how long the collector spent re-keying the id table after each flip and the pauses.
// Run: dotnet run -c Release --project experiments/identity-rekey
foreach (var backend in new[] { GcBackend.Move, GcBackend.StopTheWorld })
{
    using var heap = new Heap(new HeapOptions { Backend = backend, MaxHeapBytes = 1L << 30, BackgroundCollection = false });
    var t = heap.Types.DefineObject("N", b => b.Value<long>("v"));
    using var m = heap.AttachCurrentThread();
    const int N = 1_000_000;
    using var keep = m.CreateRoot(m.AllocateArray(heap.Types.ReferenceArray, N));
    for (int i = 0; i < N; i++)
    {
        using var s = m.OpenScope();
        var o = m.Allocate(t);
        m.SetElement(keep.Ref, i, o);
        m.GetObjectId(o);
    }

    for (int c = 0; c < 3; c++)
    {
        var st = heap.Collect();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{backend}: ids kept {st.ObjectIdsKept}, re-key {st.ObjectIdRekeyMs:F1} ms, flip/full pause {st.FlipPauseMs:F3} ms, max pause {st.MaxPauseMs:F3} ms"));
    }
}
