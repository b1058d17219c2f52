namespace GcHeap.Model;

/// <summary>What a <see cref="GraphOp"/> does.</summary>
internal enum GraphOpKind : byte
{
    /// <summary>Disposes a root: its subgraph may become garbage.</summary>
    DropRoot,

    /// <summary>Roots a new object.</summary>
    AddRoot,

    /// <summary>Points a reference slot at a new object, an existing one (sharing, cycles) or null.</summary>
    SetSlot,

    /// <summary>Moves the only reference from one slot to another (the classic lost-object race under marking).</summary>
    MoveRef,

    /// <summary>Writes data: a node's value and tag, or one byte of a byte array.</summary>
    WriteData,

    /// <summary>Allocates an object that nothing refers to.</summary>
    Garbage,

    /// <summary>A bulk operation on a reference array: an overlapping copy within it (either direction) or a fill of a range.</summary>
    RangeOp,
}

/// <summary>Where a <see cref="GraphOpKind.SetSlot"/> points the slot.</summary>
internal enum GraphTarget : byte
{
    /// <summary>A new object.</summary>
    New,

    /// <summary>An existing object reached from a root.</summary>
    Existing,

    /// <summary>Null.</summary>
    Null,
}

/// <summary>
/// One mutation of a <see cref="MirroredGraph"/>, as data, so that sequences can be generated,
/// printed and shrunk (a property-based test removes operations and lowers numbers). Every number
/// picks among what exists when the operation is applied (taken modulo the current sizes), so
/// every sequence is valid, and an operation that finds nothing to work on does nothing.
/// </summary>
/// <param name="Kind">What the operation does.</param>
/// <param name="Root">Which root it starts from (modulo the number of roots).</param>
/// <param name="Depth">How many references it follows from that root (0 = the root's object), stopping at null.</param>
/// <param name="Slot">Which reference slot (modulo the object's slots), or which byte to write.</param>
/// <param name="Target">For <see cref="GraphOpKind.SetSlot"/>: what the slot gets; for <see cref="GraphOpKind.MoveRef"/> the destination slot is <see cref="Seed"/> modulo the slots.</param>
/// <param name="Seed">Everything else: the path followed, a new object's shape and contents, the data written.</param>
internal readonly record struct GraphOp(GraphOpKind Kind, int Root = 0, int Depth = 0, int Slot = 0, GraphTarget Target = GraphTarget.New, int Seed = 0)
{
    /// <summary>A random operation with the mix the random graph tests always used (3% drop, 3% add, 39% set, 15% move, 20% data, 20% garbage).</summary>
    public static GraphOp Random(Random rnd)
    {
        int op = rnd.Next(100);
        GraphOpKind kind = op switch
        {
            < 3 => GraphOpKind.DropRoot,
            < 6 => GraphOpKind.AddRoot,
            < 45 => GraphOpKind.SetSlot,
            < 60 => GraphOpKind.MoveRef,
            < 80 => GraphOpKind.WriteData,
            < 95 => GraphOpKind.Garbage,
            _ => GraphOpKind.RangeOp,
        };
        int target = rnd.Next(10);
        return new GraphOp(
            kind,
            rnd.Next(1 << 16),
            rnd.Next(8),
            rnd.Next(1 << 16),
            target < 4 ? GraphTarget.New : target < 8 ? GraphTarget.Existing : GraphTarget.Null,
            rnd.Next());
    }

    /// <summary>A compact form for failure reports, e.g. <c>SetSlot(r2 d1 s0 Existing #17)</c>.</summary>
    public override string ToString() => Kind switch
    {
        GraphOpKind.DropRoot => $"DropRoot(r{Root})",
        GraphOpKind.AddRoot or GraphOpKind.Garbage => $"{Kind}(#{Seed})",
        GraphOpKind.SetSlot => $"SetSlot(r{Root} d{Depth} s{Slot} {Target} #{Seed})",
        _ => $"{Kind}(r{Root} d{Depth} s{Slot} #{Seed})",
    };
}

/// <summary>The model and the heap disagree: an object, field, array, byte or sharing differs.</summary>
internal sealed class GraphMismatchException : Exception
{
    public GraphMismatchException(string message) : base(message)
    {
    }

    public GraphMismatchException()
    {
    }

    public GraphMismatchException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
