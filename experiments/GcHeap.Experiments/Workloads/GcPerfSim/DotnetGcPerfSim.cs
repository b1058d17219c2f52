namespace GcHeap.Experiments.Workloads.GcPerfSim;

/// <summary>GCPerfSim on ordinary .NET objects.</summary>
internal sealed class DotnetGcPerfSim(GcPerfSimParameters p) : IGcPerfSimHeap
{
    public void Run(int threadIndex, int seed, int slots, GcPerfSimCounters c, CancellationToken stop)
    {
        var rnd = new Random(unchecked((seed * 31) + threadIndex + 1));
        var survivors = new Item?[slots];
        while (!stop.IsCancellationRequested)
        {
            int size = rnd.Next(p.MinSize, p.MaxSize + 1);
            var payload = new byte[size];
            payload[size - 1] = (byte)size;
            var item = new Item(payload);
            c.Allocations++;
            c.AllocatedBytes += GcPerfSimParameters.ItemBytes(size);
            if (c.Allocations % p.SurviveInterval == 0)
            {
                int slot = rnd.Next(slots);
                if (survivors[slot] is { } old && (old.Payload.Length != old.Size || old.Payload[^1] != (byte)old.Size))
                {
                    c.DataErrors++;
                }

                item.Link = survivors[rnd.Next(slots)];
                survivors[slot] = item;
                c.Survived++;
            }
        }

        GC.KeepAlive(survivors);
    }

    public void WhileBlocked(Action wait) => wait();

    public void Dispose()
    {
    }

    private sealed class Item(byte[] payload)
    {
        public byte[] Payload { get; } = payload;

        public long Size { get; } = payload.Length;

        public Item? Link { get; set; }
    }
}
