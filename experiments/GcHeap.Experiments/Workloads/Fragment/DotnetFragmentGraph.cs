using System.Buffers.Binary;
using GcHeap.Experiments.Terminal;

namespace GcHeap.Experiments.Workloads.Fragment;

/// <summary>The fragment graph on ordinary .NET objects: the same items for the same seed as <see cref="GcFragmentGraph"/>.</summary>
internal sealed class DotnetFragmentGraph : IFragmentGraph
{
    private object?[]?[] _directory = [];
    private int _buckets;

    public BuildReport Build(long targetBytes, double drop, int seed, IRunProgress progress)
    {
        var rnd = new Random(seed);
        int capacity = (int)Math.Min(int.MaxValue / 2, (targetBytes / FragmentShape.AverageItemBytes * 1.5 / FragmentShape.BucketSize) + 16);
        long items = 0, bytes = 0, nextId = 1;
        progress.Phase($"building {targetBytes >> 20} MiB", targetBytes);
        _directory = new object?[]?[capacity];
        int b = 0;
        for (; b < capacity && bytes < targetBytes; b++)
        {
            var bucket = new object?[FragmentShape.BucketSize];
            _directory[b] = bucket;
            for (int i = 0; i < FragmentShape.BucketSize && bytes < targetBytes; i++)
            {
                var spec = FragmentShape.Next(rnd);
                bucket[i] = Create(spec, ref nextId);
                bytes += spec.GcHeapBytes;
                items++;
            }

            progress.Set(bytes);
        }

        _buckets = b;
        long dropped = 0;
        var dropRnd = new Random(seed + 1);
        progress.Phase($"dropping {drop:P0} of the entries", _buckets);
        for (int k = 0; k < _buckets; k++)
        {
            var bucket = _directory[k]!;
            for (int i = 0; i < FragmentShape.BucketSize; i++)
            {
                if (dropRnd.NextDouble() < drop && bucket[i] is not null)
                {
                    bucket[i] = null;
                    dropped++;
                }
            }

            progress.Set(k + 1);
        }

        return new BuildReport(items, bytes, dropped, _buckets);
    }

    public void Mutate(int threadIndex, int seed, MutatorCounters c, CancellationToken stop)
    {
        var rnd = new Random(unchecked((seed * 7919) + threadIndex + 1));
        long nextId = ((long)threadIndex + 1) << 40;
        while (!stop.IsCancellationRequested)
        {
            var bucket = _directory[rnd.Next(_buckets)]!;
            int i = rnd.Next(FragmentShape.BucketSize);
            int op = rnd.Next(100);
            if (op < 45)
            {
                Read(Volatile.Read(ref bucket[i]), c);
                c.Reads++;
            }
            else if (op < 65)
            {
                if (Volatile.Read(ref bucket[i]) is Node n)
                {
                    n.Value++;
                }

                c.Writes++;
            }
            else if (op < 80)
            {
                var other = _directory[rnd.Next(_buckets)]!;
                int j = rnd.Next(FragmentShape.BucketSize);
                var x = Volatile.Read(ref bucket[i]);
                var y = Volatile.Read(ref other[j]);
                Volatile.Write(ref bucket[i], y);
                Volatile.Write(ref other[j], x);
                if (x is Node xn && y is not null)
                {
                    xn.B = y;
                }

                c.Moves++;
            }
            else
            {
                var spec = FragmentShape.Next(rnd);
                Volatile.Write(ref bucket[i], Create(spec, ref nextId));
                c.Allocations++;
                c.AllocatedBytes += spec.GcHeapBytes;
            }
        }
    }

    public void Collect() => GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);

    public void WhileBlocked(Action wait) => wait();

    public void Dispose() => _directory = [];

    private static object Create(ItemSpec spec, ref long nextId)
    {
        if (spec.Kind == ItemKind.Nodes)
        {
            var head = new Node(nextId++);
            var prev = head;
            for (int k = 1; k < spec.Size; k++)
            {
                var n = new Node(nextId++);
                prev.A = n;
                if ((k & 1) == 0)
                {
                    n.B = head;
                }

                prev = n;
            }

            return head;
        }

        int len = spec.Size;
        var array = new byte[len];
        BinaryPrimitives.WriteInt64LittleEndian(array, FragmentShape.Mix(len));
        for (int off = 4096; off < len - 1; off += 4096)
        {
            array[off] = 1;
        }

        array[len - 1] = (byte)len;
        return array;
    }

    private static void Read(object? item, MutatorCounters c)
    {
        if (item is Node n)
        {
            Node? cur = n;
            for (int steps = 0; steps < 8 && cur is not null; steps++)
            {
                if (cur.Check != FragmentShape.Mix(cur.Id))
                {
                    c.DataErrors++;
                }

                cur = cur.A;
            }
        }
        else if (item is byte[] array)
        {
            if (BinaryPrimitives.ReadInt64LittleEndian(array) != FragmentShape.Mix(array.Length) || array[^1] != (byte)array.Length)
            {
                c.DataErrors++;
            }
        }
    }

    private sealed class Node(long id)
    {
        public Node? A { get; set; }

        public object? B { get; set; }

        public long Id { get; } = id;

        public long Check { get; } = FragmentShape.Mix(id);

        public long Value { get; set; }
    }
}
