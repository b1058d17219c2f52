using System.Buffers.Binary;
using GcHeap.Experiments.Terminal;

namespace GcHeap.Experiments.Workloads.Fragment;

/// <summary>
/// The fragment graph on a GcHeap; see <see cref="IFragmentGraph"/>. With <c>views</c> the
/// mutators read, write and move references through the fast path (<see cref="GcView"/>) and
/// build new items with the handle API, as a runtime would (allocation-heavy construction keeps
/// its values in handles; hot reads and writes use views).
/// </summary>
internal sealed class GcFragmentGraph : IFragmentGraph
{
    private readonly Heap _heap;
    private readonly Mutator _main;
    private readonly GcType _node;
    private readonly GcType _bytes;
    private readonly GcType _refs;
    private readonly GcRefField _a;
    private readonly GcRefField _b;
    private readonly GcField<long> _id;
    private readonly GcField<long> _check;
    private readonly GcField<long> _value;
    private readonly bool _views;
    private GcRoot? _directory;
    private int _buckets;

    public GcFragmentGraph(Heap heap, bool views)
    {
        _heap = heap;
        _views = views;
        _node = heap.Types.DefineObject("FragmentNode", t => t.Reference("a").Reference("b").Value<long>("id").Value<long>("check").Value<long>("value"));
        _bytes = heap.Types.ByteArray;
        _refs = heap.Types.ReferenceArray;
        _a = _node.RefField("a");
        _b = _node.RefField("b");
        _id = _node.Field<long>("id");
        _check = _node.Field<long>("check");
        _value = _node.Field<long>("value");
        _main = heap.AttachCurrentThread("fragment main");
    }

    public BuildReport Build(long targetBytes, double drop, int seed, IRunProgress progress)
    {
        var m = _main;
        var rnd = new Random(seed);
        int capacity = (int)Math.Min(int.MaxValue / 2, (targetBytes / FragmentShape.AverageItemBytes * 1.5 / FragmentShape.BucketSize) + 16);
        long items = 0, bytes = 0, nextId = 1;
        progress.Phase($"building {targetBytes >> 20} MiB", targetBytes);
        using (m.OpenScope())
        {
            _directory = m.CreateRoot(m.AllocateArray(_refs, capacity));
        }

        int b = 0;
        for (; b < capacity && bytes < targetBytes; b++)
        {
            using var bucketScope = m.OpenScope();
            var bucket = m.AllocateArray(_refs, FragmentShape.BucketSize);
            m.SetElement(_directory.Ref, b, bucket);
            for (int i = 0; i < FragmentShape.BucketSize && bytes < targetBytes; i++)
            {
                using var scope = m.OpenScope();
                var spec = FragmentShape.Next(rnd);
                m.SetElement(bucket, i, Create(m, spec, ref nextId));
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
            using var scope = m.OpenScope();
            var bucket = m.GetElement(_directory.Ref, k);
            for (int i = 0; i < FragmentShape.BucketSize; i++)
            {
                if (dropRnd.NextDouble() < drop && !m.GetElement(bucket, i).IsNull)
                {
                    m.SetElement(bucket, i, GcRef.Null);
                    dropped++;
                }
            }

            progress.Set(k + 1);
        }

        return new BuildReport(items, bytes, dropped, _buckets);
    }

    public void Mutate(int threadIndex, int seed, MutatorCounters c, CancellationToken stop)
    {
        if (_views)
        {
            MutateViews(threadIndex, seed, c, stop);
            return;
        }

        using var m = _heap.AttachCurrentThread($"fragment mutator {threadIndex}");
        var rnd = new Random(unchecked((seed * 7919) + threadIndex + 1));
        long nextId = ((long)threadIndex + 1) << 40;
        Span<byte> tag = stackalloc byte[8];
        while (!stop.IsCancellationRequested)
        {
            using var scope = m.OpenScope();
            var bucket = m.GetElement(_directory!.Ref, rnd.Next(_buckets));
            int i = rnd.Next(FragmentShape.BucketSize);
            int op = rnd.Next(100);
            if (op < 45)
            {
                Read(m, m.GetElement(bucket, i), tag, c);
                c.Reads++;
            }
            else if (op < 65)
            {
                var item = m.GetElement(bucket, i);
                if (!item.IsNull && ReferenceEquals(m.TypeOf(item), _node))
                {
                    m.Set(item, _value, m.Get(item, _value) + 1);
                }

                c.Writes++;
            }
            else if (op < 80)
            {
                var other = m.GetElement(_directory.Ref, rnd.Next(_buckets));
                int j = rnd.Next(FragmentShape.BucketSize);
                var x = m.GetElement(bucket, i);
                var y = m.GetElement(other, j);
                m.SetElement(bucket, i, y);
                m.SetElement(other, j, x);
                if (!x.IsNull && !y.IsNull && ReferenceEquals(m.TypeOf(x), _node))
                {
                    m.SetRef(x, _b, y); // a reference moves into a field of another entry
                }

                c.Moves++;
            }
            else
            {
                var spec = FragmentShape.Next(rnd);
                m.SetElement(bucket, i, Create(m, spec, ref nextId));
                c.Allocations++;
                c.AllocatedBytes += spec.GcHeapBytes;
            }
        }
    }

    private void MutateViews(int threadIndex, int seed, MutatorCounters c, CancellationToken stop)
    {
        using var m = _heap.AttachCurrentThread($"fragment mutator {threadIndex}");
        var rnd = new Random(unchecked((seed * 7919) + threadIndex + 1));
        long nextId = ((long)threadIndex + 1) << 40;
        Span<byte> tag = stackalloc byte[8];
        GcRef directory = _directory!.Ref;
        while (!stop.IsCancellationRequested)
        {
            int b = rnd.Next(_buckets);
            int i = rnd.Next(FragmentShape.BucketSize);
            int op = rnd.Next(100);
            if (op >= 80)
            {
                // New items are built with handles (their construction allocates), then stored through a view.
                using var scope = m.OpenScope();
                var spec = FragmentShape.Next(rnd);
                var item = Create(m, spec, ref nextId);
                var ctx = m.GetContext();
                ctx.View(directory).GetElement(b).SetElement(i, ctx.View(item));
                c.Allocations++;
                c.AllocatedBytes += spec.GcHeapBytes;
                continue;
            }

            // Reads, writes and moves never allocate: one context, views only, then a poll.
            var cx = m.GetContext();
            var bucket = cx.View(directory).GetElement(b);
            if (op < 45)
            {
                ReadView(bucket.GetElement(i), tag, c);
                c.Reads++;
            }
            else if (op < 65)
            {
                var item = bucket.GetElement(i);
                if (item.Is(_node))
                {
                    item.Set(_value, item.Get(_value) + 1);
                }

                c.Writes++;
            }
            else
            {
                var other = cx.View(directory).GetElement(rnd.Next(_buckets));
                int j = rnd.Next(FragmentShape.BucketSize);
                var x = bucket.GetElement(i);
                var y = other.GetElement(j);
                bucket.SetElement(i, y);
                other.SetElement(j, x);
                if (!y.IsNull && x.Is(_node))
                {
                    x.SetRef(_b, y); // a reference moves into a field of another entry
                }

                c.Moves++;
            }

            cx.Safepoint();
        }
    }

    private void ReadView(GcView item, Span<byte> tag, MutatorCounters c)
    {
        if (item.IsNull)
        {
            return;
        }

        if (item.Is(_node))
        {
            var cur = item;
            for (int steps = 0; steps < 8 && !cur.IsNull; steps++)
            {
                if (cur.Get(_check) != FragmentShape.Mix(cur.Get(_id)))
                {
                    c.DataErrors++;
                }

                cur = cur.GetRef(_a);
            }

            return;
        }

        int len = item.Length;
        item.ReadItems(0, tag);
        if (BinaryPrimitives.ReadInt64LittleEndian(tag) != FragmentShape.Mix(len) || item.GetItem<byte>(len - 1) != (byte)len)
        {
            c.DataErrors++;
        }
    }

    public void Collect() => _heap.Collect();

    public void WhileBlocked(Action wait)
    {
        using (_main.EnterSafeRegion())
        {
            wait();
        }
    }

    public void Dispose()
    {
        _directory?.Dispose();
        _main.Dispose();
    }

    private GcRef Create(Mutator m, ItemSpec spec, ref long nextId)
    {
        if (spec.Kind == ItemKind.Nodes)
        {
            var head = NewNode(m, nextId++);
            var prev = head;
            for (int k = 1; k < spec.Size; k++)
            {
                var n = NewNode(m, nextId++);
                m.SetRef(prev, _a, n);
                if ((k & 1) == 0)
                {
                    m.SetRef(n, _b, head);
                }

                prev = n;
            }

            return head;
        }

        int len = spec.Size;
        var array = m.AllocateArray(_bytes, len);
        Span<byte> tag = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(tag, FragmentShape.Mix(len));
        m.WriteItems<byte>(array, 0, tag);
        for (int off = 4096; off < len - 1; off += 4096)
        {
            m.SetItem<byte>(array, off, 1); // touch every page, as real data would
        }

        m.SetItem(array, len - 1, (byte)len);
        return array;
    }

    private GcRef NewNode(Mutator m, long id)
    {
        var n = m.Allocate(_node);
        m.Set(n, _id, id);
        m.Set(n, _check, FragmentShape.Mix(id));
        return n;
    }

    private void Read(Mutator m, GcRef item, Span<byte> tag, MutatorCounters c)
    {
        if (item.IsNull)
        {
            return;
        }

        if (ReferenceEquals(m.TypeOf(item), _node))
        {
            var cur = item;
            for (int steps = 0; steps < 8 && !cur.IsNull; steps++)
            {
                if (m.Get(cur, _check) != FragmentShape.Mix(m.Get(cur, _id)))
                {
                    c.DataErrors++;
                }

                cur = m.GetRef(cur, _a);
            }

            return;
        }

        int len = m.GetLength(item);
        m.ReadItems(item, 0, tag);
        if (BinaryPrimitives.ReadInt64LittleEndian(tag) != FragmentShape.Mix(len) || m.GetItem<byte>(item, len - 1) != (byte)len)
        {
            c.DataErrors++;
        }
    }
}
