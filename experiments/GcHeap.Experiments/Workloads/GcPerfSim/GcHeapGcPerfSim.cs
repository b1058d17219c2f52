namespace GcHeap.Experiments.Workloads.GcPerfSim;

/// <summary>
/// GCPerfSim on a GcHeap: items are a node (payload, link, size) with a byte-array payload,
/// through the handle API or the fast path (<paramref name="views"/>: views, one local handle per
/// thread re-pointed to hold the item across its payload's allocation).
/// </summary>
internal sealed class GcHeapGcPerfSim : IGcPerfSimHeap
{
    private const int AllocationsPerScope = 64;
    private readonly Heap _heap;
    private readonly GcPerfSimParameters _p;
    private readonly bool _views;
    private readonly Mutator _main;
    private readonly GcType _item;
    private readonly GcRefField _payload;
    private readonly GcRefField _link;
    private readonly GcField<long> _size;

    public GcHeapGcPerfSim(Heap heap, GcPerfSimParameters p, bool views)
    {
        _heap = heap;
        _p = p;
        _views = views;
        _item = heap.Types.DefineObject("PerfSimItem", t => t.Reference("payload").Reference("link").Value<long>("size"));
        _payload = _item.RefField("payload");
        _link = _item.RefField("link");
        _size = _item.Field<long>("size");
        _main = heap.AttachCurrentThread("gcperfsim main");
    }

    public void Run(int threadIndex, int seed, int slots, GcPerfSimCounters c, CancellationToken stop)
    {
        if (_views)
        {
            RunViews(threadIndex, seed, slots, c, stop);
            return;
        }

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

    private void RunViews(int threadIndex, int seed, int slots, GcPerfSimCounters c, CancellationToken stop)
    {
        using var m = _heap.AttachCurrentThread($"gcperfsim {threadIndex}");
        GcRefField payloadField = _payload, linkField = _link;
        GcField<long> sizeField = _size;
        GcType bytes = _heap.Types.ByteArray;
        var rnd = new Random(unchecked((seed * 31) + threadIndex + 1));
        var ctx = m.GetContext();
        GcRef survivors = ctx.AllocateArray(_heap.Types.ReferenceArray, slots).ToHandle(); // local handles outside any scope: alive until detach
        GcRef holder = ctx.Allocate(_item).ToHandle();
        while (!stop.IsCancellationRequested)
        {
            for (int k = 0; k < AllocationsPerScope; k++)
            {
                int size = rnd.Next(_p.MinSize, _p.MaxSize + 1);
                ctx.Set(holder, ctx.Allocate(_item));           // held across the payload's allocation
                var payload = ctx.AllocateArray(bytes, size);
                payload.SetItem(size - 1, (byte)size);
                var item = ctx.View(holder);
                item.SetRef(payloadField, payload);
                item.Set(sizeField, size);
                c.Allocations++;
                c.AllocatedBytes += GcPerfSimParameters.ItemBytes(size);
                if (c.Allocations % _p.SurviveInterval == 0)
                {
                    var table = ctx.View(survivors);
                    int slot = rnd.Next(slots);
                    var old = table.GetElement(slot);
                    if (!old.IsNull)
                    {
                        long oldSize = old.Get(sizeField);
                        var oldPayload = old.GetRef(payloadField);
                        if (oldPayload.Length != oldSize || oldPayload.GetItem<byte>((int)oldSize - 1) != (byte)oldSize)
                        {
                            c.DataErrors++;
                        }
                    }

                    item.SetRef(linkField, table.GetElement(rnd.Next(slots)));
                    table.SetElement(slot, item);
                    c.Survived++;
                }
            }

            ctx.Set(holder, GcContext.Null);
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
