namespace GcHeap.Benchmarks;

// Plain .NET classes equivalent to the GcHeap types the suites define. Public fields on
// purpose: the baselines measure plain field access.

/// <summary>Equivalent of the GcHeap type "Small": one reference and two longs (GcHeap 32 bytes, .NET 40 bytes).</summary>
public sealed class NetSmall
{
    public object? Next;
    public long A;
    public long B;
}

/// <summary>Equivalent of the GcHeap type "Node": two references and two longs (GcHeap 40 bytes, .NET 48 bytes).</summary>
public sealed class NetNode
{
    public NetNode? Next;
    public NetNode? Other;
    public long Id;
    public long Value;
}

/// <summary>The GcHeap types of the suites, defined on one heap.</summary>
public sealed class GcTypes
{
    public GcTypes(Heap heap)
    {
        ArgumentNullException.ThrowIfNull(heap);
        Small = heap.Types.DefineObject("Small", t => t.Reference("next").Value<long>("a").Value<long>("b"));
        Node = heap.Types.DefineObject("Node", t => t.Reference("next").Reference("other").Value<long>("id").Value<long>("value"));
        LongArray = heap.Types.DefineDataArray<long>("long[]");
        Next = Node.RefField("next");
        Other = Node.RefField("other");
        Id = Node.Field<long>("id");
        Value = Node.Field<long>("value");
    }

    public GcType Small { get; }

    public GcType Node { get; }

    public GcType LongArray { get; }

    public GcRefField Next { get; }

    public GcRefField Other { get; }

    public GcField<long> Id { get; }

    public GcField<long> Value { get; }
}
