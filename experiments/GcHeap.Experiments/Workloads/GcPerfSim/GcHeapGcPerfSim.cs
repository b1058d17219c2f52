namespace GcHeap.Experiments.Workloads.GcPerfSim;

/// <summary>GCPerfSim on a GcHeap: items are a node (payload, link, size) with a byte-array payload.</summary>
internal sealed class GcHeapGcPerfSim : IGcPerfSimHeap
{
    private const int AllocationsPerScope = 64;
    private readonly Heap _heap;
    private readonly GcPerfSimParameters _p;
    private readonly Mutator _main;
    private readonly GcType _item;
    private readonly GcRefField _payload;
    private readonly GcRefField _link;
    private readonly GcField<long> _size;

    public GcHeapGcPerfSim(Heap heap, GcPerfSimParameters p)
    {
        _heap = heap;
        _p = p;
        _item = heap.Types.DefineObject("PerfSimItem", t => t.Reference("payload").Reference("link").Value<long>("size"));
        _payload = _item.RefField("payload");
        _link = _item.RefField("link");
        _size = _item.Field<long>("size");
        _main = heap.AttachCurrentThread("gcperfsim main");
    }

    public void Run(int threadIndex, int seed, int slots, GcPerfSimCounters c, CancellationToken stop)
    {
        using var m = _heap.AttachCurrentThread($"gcperfsim {threadIndex}");
        var rnd = new Random(unchecked((seed * 31) + threadIndex + 1));
        GcRoot survivors;
        using (m.OpenScope())
        {
            survivors = m.CreateRoot(m.AllocateArray(_heap.Types.ReferenceArray, slots));
        }

        try
        {
            while (!stop.IsCancellationRequested)
            {
                using var scope = m.OpenScope();
                for (int k = 0; k < AllocationsPerScope; k++)
                {
                    int size = rnd.Next(_p.MinSize, _p.MaxSize + 1);
                    var item = m.Allocate(_item);
                    var payload = m.AllocateArray(_heap.Types.ByteArray, size);
                    m.SetItem(payload, size - 1, (byte)size);
                    m.SetRef(item, _payload, payload);
                    m.Set(item, _size, size);
                    c.Allocations++;
                    c.AllocatedBytes += GcPerfSimParameters.ItemBytes(size);
                    if (c.Allocations % _p.SurviveInterval == 0)
                    {
                        int slot = rnd.Next(slots);
                        var old = m.GetElement(survivors.Ref, slot);
                        if (!old.IsNull)
                        {
                            Check(m, old, c);
                        }

                        m.SetRef(item, _link, m.GetElement(survivors.Ref, rnd.Next(slots)));
                        m.SetElement(survivors.Ref, slot, item);
                        c.Survived++;
                    }
                }
            }
        }
        finally
        {
            survivors.Dispose();
        }
    }

    public void WhileBlocked(Action wait)
    {
        using (_main.EnterSafeRegion())
        {
            wait();
        }
    }

    public void Dispose() => _main.Dispose();

    private void Check(Mutator m, GcRef item, GcPerfSimCounters c)
    {
        long size = m.Get(item, _size);
        var payload = m.GetRef(item, _payload);
        if (m.GetLength(payload) != size || m.GetItem<byte>(payload, (int)size - 1) != (byte)size)
        {
            c.DataErrors++;
        }
    }
}
