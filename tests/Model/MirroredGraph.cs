namespace GcHeap.Model;

/// <summary>The kinds of object the model knows.</summary>
internal enum ModelKind
{
    Node,
    RefArray,
    ByteArray,
}

/// <summary>A plain .NET object mirroring one heap object.</summary>
internal sealed class ModelObject
{
    public ModelObject(long id, ModelKind kind, int refs, int bytes)
    {
        Id = id;
        Kind = kind;
        Refs = new ModelObject?[refs];
        Data = new byte[bytes];
    }

    public long Id { get; }

    public ModelKind Kind { get; }

    public long Value { get; set; }

    /// <summary>Reference slots: a node's three fields, or an array's elements.</summary>
    public ModelObject?[] Refs { get; }

    /// <summary>A node's 16-byte tag, or a byte array's contents (the first 8 bytes hold the id).</summary>
    public byte[] Data { get; }
}

/// <summary>The heap types the model uses, defined once per heap.</summary>
internal sealed class ModelTypes
{
    public ModelTypes(Heap heap)
    {
        Node = heap.Types.TryGet("ModelNode", out var t)
            ? t
            : heap.Types.DefineObject("ModelNode", b => b.Reference("a").Reference("b").Reference("c").Value<long>("id").Value<long>("value").Bytes("tag", 16));
        Fields = [Node.RefField("a"), Node.RefField("b"), Node.RefField("c")];
        Id = Node.Field<long>("id");
        Value = Node.Field<long>("value");
        Tag = Node.BytesField("tag");
        RefArray = heap.Types.ReferenceArray;
        ByteArray = heap.Types.ByteArray;
    }

    public GcType Node { get; }

    public GcRefField[] Fields { get; }

    public GcField<long> Id { get; }

    public GcField<long> Value { get; }

    public GcBytesField Tag { get; }

    public GcType RefArray { get; }

    public GcType ByteArray { get; }
}

/// <summary>
/// A random object graph kept in two copies: on the heap (through one mutator) and as plain
/// .NET objects. Every mutation (<see cref="GraphOp"/>) is applied to both; <see cref="Compare"/>
/// walks both from the roots and fails on the first difference in objects, fields, data or
/// sharing. Allocation happens before either copy changes, so an operation that throws (a full
/// heap: <see cref="GcHeapExhaustedException"/>) leaves the two copies equal.
/// <para>Every fourth object also gets a weak reference and a stable id when it is created:
/// <see cref="Compare"/> checks that each one still reachable in the model has both pointing at
/// its object, and that one found unreachable is cleared once two more collections have
/// completed (the first may have started before it died: floating garbage).</para>
/// </summary>
internal sealed class MirroredGraph : IDisposable
{
    /// <summary>The random steps drop a root only while more than this many exist.</summary>
    public const int MinRandomRoots = 4;

    /// <summary>The random steps add a root only while fewer than this many exist.</summary>
    public const int MaxRandomRoots = 48;

    private Mutator _m;
    private ModelTypes _t;
    private readonly Random _rnd;
    private readonly long _idBase;
    private readonly List<(ModelObject Model, GcRoot Root)> _roots = [];
    private readonly bool _largeObjects;
    private readonly Dictionary<ModelObject, (GcWeakRef Weak, GcObjectId Id)> _tracked = new(ReferenceEqualityComparer.Instance);
    private readonly List<(GcWeakRef Weak, long CollectionsWhenDead, long ModelId)> _dead = [];
    private long _nextId = 1;

    public MirroredGraph(Mutator m, ModelTypes types, int seed, int owner = 0, bool largeObjects = true)
    {
        _m = m;
        _t = types;
        _rnd = new Random(seed);
        _idBase = (long)owner << 40;
        _largeObjects = largeObjects;
    }

    public int RootCount => _roots.Count;

    /// <summary>The global handle of root <paramref name="i"/> (modulo the count), or null when there is none.</summary>
    public GcRef RootHandle(int i) => _roots.Count == 0 ? GcRef.Null : _roots[i % _roots.Count].Root.Ref;

    /// <summary>Continues on another thread's mutator (the roots are global handles).</summary>
    public void Rebind(Mutator m) => _m = m;

    public long Steps { get; private set; }

    /// <summary>Weak references checked alive and pointing at their object (with the same id) by <see cref="Compare"/>.</summary>
    public long WeakChecked { get; private set; }

    /// <summary>Weak references of dead objects checked cleared by <see cref="Compare"/>.</summary>
    public long WeakClearedChecked { get; private set; }

    /// <summary>Adds <paramref name="count"/> rooted subgraphs of random shape.</summary>
    public void Grow(int count, int size)
    {
        for (int i = 0; i < count; i++)
        {
            Apply(new GraphOp(GraphOpKind.AddRoot, Seed: _rnd.Next()));
            for (int k = 0; k < size; k++)
            {
                Step(allowRootChanges: false);
            }
        }
    }

    /// <summary>One random mutation, mirrored on both sides; returns it.</summary>
    public GraphOp Step(bool allowRootChanges = true)
    {
        var op = GraphOp.Random(_rnd);
        bool rootChange = op.Kind switch
        {
            GraphOpKind.DropRoot => allowRootChanges && _roots.Count > MinRandomRoots,
            GraphOpKind.AddRoot => allowRootChanges && _roots.Count < MaxRandomRoots,
            _ => true,
        };
        if (!rootChange)
        {
            op = op with { Kind = GraphOpKind.SetSlot };
        }

        Apply(op);
        return op;
    }

    /// <summary>Applies one operation to both copies (an operation with nothing to work on does nothing).</summary>
    public void Apply(GraphOp op)
    {
        Steps++;
        using var scope = _m.OpenScope();
        var r = new Random(op.Seed);
        switch (op.Kind)
        {
            case GraphOpKind.DropRoot:
                if (_roots.Count > 0)
                {
                    int i = op.Root % _roots.Count;
                    _roots[i].Root.Dispose(); // the subgraph may become garbage
                    _roots.RemoveAt(i);
                }

                return;
            case GraphOpKind.AddRoot:
            {
                var (nm, nh) = NewObject(r);
                var root = _m.CreateRoot(nh);
                _roots.Add((nm, root));
                return;
            }

            case GraphOpKind.Garbage:
                NewObject(r); // pure garbage
                return;
        }

        var (model, h) = Walk(op.Root, op.Depth, r);
        if (model is null)
        {
            return;
        }

        switch (op.Kind)
        {
            case GraphOpKind.SetSlot when model.Refs.Length > 0:
            {
                int slot = op.Slot % model.Refs.Length;
                (ModelObject? tm, GcRef th) = op.Target switch
                {
                    GraphTarget.New => NewObject(r),
                    GraphTarget.Existing => Walk(r.Next(1 << 16), r.Next(8), r),
                    _ => (null, GcRef.Null),
                };
                SetSlot(model, h, slot, tm, th);
                break;
            }

            case GraphOpKind.MoveRef when model.Refs.Length > 1:
            {
                int from = op.Slot % model.Refs.Length;
                int to = r.Next(model.Refs.Length);
                var moving = model.Refs[from];
                GcRef mh = GetSlot(model, h, from);
                SetSlot(model, h, to, moving, mh);
                if (from != to)
                {
                    SetSlot(model, h, from, null, GcRef.Null);
                }

                break;
            }

            case GraphOpKind.WriteData:
                WriteData(model, h, op.Slot, r);
                break;

            case GraphOpKind.RangeOp when model.Kind == ModelKind.RefArray && model.Refs.Length > 1:
                RangeOp(model, h, r);
                break;
        }
    }

    /// <summary>CopyElements within one array (overlapping, either direction) or FillElements of a range, on both copies.</summary>
    private void RangeOp(ModelObject mo, GcRef h, Random r)
    {
        int len = mo.Refs.Length;
        int count = 1 + r.Next(len - 1);
        int from = r.Next(len - count + 1), to = r.Next(len - count + 1);
        if (r.Next(2) == 0)
        {
            _m.CopyElements(h, from, h, to, count);
            Array.Copy(mo.Refs, from, mo.Refs, to, count); // memmove semantics, as CopyElements
            return;
        }

        (ModelObject? tm, GcRef th) = r.Next(3) switch
        {
            0 => (null, GcRef.Null),
            1 => NewObject(r),
            _ => Walk(r.Next(1 << 16), r.Next(8), r),
        };
        _m.FillElements(h, to, count, th);
        Array.Fill(mo.Refs, tm, to, count);
    }

    /// <summary>Names for this graph's roots (index order), e.g. to save them in a snapshot.</summary>
    public IEnumerable<(string Name, GcRoot Root)> NamedRoots(string prefix) =>
        _roots.Select((r, i) => ($"{prefix}{i}", r.Root));

    /// <summary>Walks model and heap in step from the roots; throws on the first difference.</summary>
    public long Compare(string when) => CompareWith(_m, _t, i => _roots[i].Root.Ref, when, checkWeak: true);

    /// <summary>Compares this model with a graph in another heap (a loaded snapshot): <paramref name="root"/> gives the handle of model root i there.</summary>
    public long CompareWith(Mutator m, ModelTypes t, Func<int, GcRef> root, string when) => CompareWith(m, t, root, when, checkWeak: false);

    /// <summary>As above; <paramref name="checkWeak"/>: also check the weak references and ids (only in the heap that made them).</summary>
    private long CompareWith(Mutator m, ModelTypes t, Func<int, GcRef> root, string when, bool checkWeak)
    {
        var (savedM, savedT) = (_m, _t);
        (_m, _t) = (m, t);
        try
        {
            return CompareCore(root, when, checkWeak);
        }
        finally
        {
            (_m, _t) = (savedM, savedT);
        }
    }

    private long CompareCore(Func<int, GcRef> root, string when, bool checkWeak)
    {
        using var scope = _m.OpenScope();
        var visited = new Dictionary<ModelObject, GcRef>(ReferenceEqualityComparer.Instance);
        var arrays = new List<GcRef>();
        var queue = new Queue<(ModelObject? Model, GcRef Heap, string Path)>();
        Span<byte> tag = stackalloc byte[16];
        for (int i = 0; i < _roots.Count; i++)
        {
            queue.Enqueue((_roots[i].Model, _m.Duplicate(root(i)), $"root[{i}]"));
        }

        while (queue.Count > 0)
        {
            var (mo, h, path) = queue.Dequeue();
            if (mo is null)
            {
                Check(h.IsNull, when, path, "expected null");
                continue;
            }

            Check(!h.IsNull, when, path, $"expected object {mo.Id}, found null");
            if (visited.TryGetValue(mo, out var seen))
            {
                Check(_m.IsSameObject(seen, h), when, path, $"object {mo.Id} is shared in the model but not on the heap");
                continue;
            }

            visited.Add(mo, h);
            if (checkWeak && _tracked.TryGetValue(mo, out var tracked))
            {
                var w = tracked.Weak.Get(_m);
                Check(_m.IsSameObject(w, h), when, path, $"the weak reference of object {mo.Id} does not point at it");
                Check(_m.GetObjectId(h) == tracked.Id, when, path, $"object {mo.Id} changed its id from {tracked.Id}");
                WeakChecked++;
            }

            switch (mo.Kind)
            {
                case ModelKind.Node:
                    Check(_m.TypeOf(h) == _t.Node, when, path, "type differs");
                    Check(_m.Get(h, _t.Id) == mo.Id, when, path, $"id {_m.Get(h, _t.Id)} != {mo.Id}");
                    Check(_m.Get(h, _t.Value) == mo.Value, when, path, "value differs");
                    _m.ReadBytes(h, _t.Tag, tag);
                    Check(tag.SequenceEqual(mo.Data), when, path, "tag differs");
                    for (int i = 0; i < 3; i++)
                    {
                        queue.Enqueue((mo.Refs[i], _m.GetRef(h, _t.Fields[i]), $"{path}.{(char)('a' + i)}"));
                    }

                    break;
                case ModelKind.RefArray:
                    Check(_m.TypeOf(h) == _t.RefArray && _m.GetLength(h) == mo.Refs.Length, when, path, "ref array type/length differs");
                    foreach (var other in arrays)
                    {
                        Check(!_m.IsSameObject(other, h), when, path, "two model arrays are one heap array");
                    }

                    arrays.Add(h);
                    for (int i = 0; i < mo.Refs.Length; i++)
                    {
                        queue.Enqueue((mo.Refs[i], _m.GetElement(h, i), $"{path}[{i}]"));
                    }

                    break;
                case ModelKind.ByteArray:
                    Check(_m.TypeOf(h) == _t.ByteArray && _m.GetLength(h) == mo.Data.Length, when, path, "byte array type/length differs");
                    var data = new byte[mo.Data.Length];
                    _m.ReadItems<byte>(h, 0, data);
                    Check(data.AsSpan().SequenceEqual(mo.Data), when, path, $"byte array {mo.Id} contents differ");
                    break;
            }
        }

        if (checkWeak)
        {
            CheckWeakOfDead(visited, when);
        }

        return visited.Count;
    }

    /// <summary>Objects gone from the model: their weak references must clear once a collection that started after they died has completed.</summary>
    private void CheckWeakOfDead(Dictionary<ModelObject, GcRef> visited, string when)
    {
        long collections = _m.Heap.CollectionCount;
        for (int i = _dead.Count - 1; i >= 0; i--)
        {
            var (weak, dead, id) = _dead[i];
            if (collections >= dead + 2)
            {
                Check(!weak.IsAlive(_m), when, $"object {id}", $"died before {dead} collections had completed, but its weak reference is still set after {collections}");
                weak.Dispose();
                _dead.RemoveAt(i);
                WeakClearedChecked++;
            }
        }

        foreach (var mo in _tracked.Keys.Where(k => !visited.ContainsKey(k)).ToList())
        {
            _dead.Add((_tracked[mo].Weak, collections, mo.Id));
            _tracked.Remove(mo);
        }
    }

    public void Dispose()
    {
        foreach (var (weak, _) in _tracked.Values)
        {
            weak.Dispose();
        }

        foreach (var (weak, _, _) in _dead)
        {
            weak.Dispose();
        }

        _tracked.Clear();
        _dead.Clear();
        foreach (var (_, root) in _roots)
        {
            root.Dispose();
        }

        _roots.Clear();
    }

    private static void Check(bool ok, string when, string path, string what)
    {
        if (!ok)
        {
            throw new GraphMismatchException($"Graph mismatch {when} at {path}: {what}.");
        }
    }

    /// <summary>Allocates an object of a random shape (heap first: a full heap throws before the model changes).</summary>
    private (ModelObject Model, GcRef Heap) NewObject(Random r)
    {
        var (model, heap) = NewObjectOnly(r);
        if ((model.Id & 3) == 0)
        {
            _tracked[model] = (_m.CreateWeak(heap), _m.GetObjectId(heap));
        }

        return (model, heap);
    }

    private (ModelObject Model, GcRef Heap) NewObjectOnly(Random r)
    {
        int kind = r.Next(100);
        if (kind < 70)
        {
            var h = _m.Allocate(_t.Node);
            long id = _idBase | _nextId++;
            _m.Set(h, _t.Id, id);
            return (new ModelObject(id, ModelKind.Node, 3, 16), h);
        }

        if (kind < 85)
        {
            int len = _largeObjects && r.Next(20) == 0 ? 300 + r.Next(2000) : 1 + r.Next(12);
            var ah = _m.AllocateArray(_t.RefArray, len);
            return (new ModelObject(_idBase | _nextId++, ModelKind.RefArray, len, 0), ah);
        }

        int bytes = _largeObjects && r.Next(10) == 0 ? 2048 + r.Next(40000) : 8 + r.Next(200);
        var bh = _m.AllocateArray(_t.ByteArray, bytes);
        var bo = new ModelObject(_idBase | _nextId++, ModelKind.ByteArray, 0, bytes);
        r.NextBytes(bo.Data);
        BitConverter.TryWriteBytes(bo.Data, bo.Id);
        _m.WriteItems<byte>(bh, 0, bo.Data);
        return (bo, bh);
    }

    /// <summary>The object reached from root <paramref name="root"/> (modulo the count) by following up to <paramref name="depth"/> random references, with its handle.</summary>
    private (ModelObject? Model, GcRef Heap) Walk(int root, int depth, Random r)
    {
        if (_roots.Count == 0)
        {
            return (null, GcRef.Null);
        }

        var (mo, rootHandle) = _roots[root % _roots.Count];
        GcRef h = _m.Duplicate(rootHandle.Ref);
        for (int d = 0; d < depth && mo.Refs.Length > 0; d++)
        {
            int slot = r.Next(mo.Refs.Length);
            var next = mo.Refs[slot];
            if (next is null)
            {
                break;
            }

            h = GetSlot(mo, h, slot);
            mo = next;
        }

        return (mo, h);
    }

    private GcRef GetSlot(ModelObject mo, GcRef h, int slot) =>
        mo.Kind == ModelKind.Node ? _m.GetRef(h, _t.Fields[slot]) : _m.GetElement(h, slot);

    private void SetSlot(ModelObject mo, GcRef h, int slot, ModelObject? target, GcRef th)
    {
        mo.Refs[slot] = target;
        if (mo.Kind == ModelKind.Node)
        {
            _m.SetRef(h, _t.Fields[slot], th);
        }
        else
        {
            _m.SetElement(h, slot, th);
        }
    }

    private void WriteData(ModelObject mo, GcRef h, int position, Random r)
    {
        switch (mo.Kind)
        {
            case ModelKind.Node:
                long value = r.NextInt64();
                var tag = new byte[mo.Data.Length];
                r.NextBytes(tag);
                _m.Set(h, _t.Value, value);
                _m.WriteBytes(h, _t.Tag, tag);
                mo.Value = value;
                tag.CopyTo(mo.Data, 0);
                break;
            case ModelKind.ByteArray when mo.Data.Length > 8:
                int at = 8 + (position % (mo.Data.Length - 8));
                byte b = (byte)r.Next(256);
                _m.SetItem(h, at, b);
                mo.Data[at] = b;
                break;
        }
    }
}
