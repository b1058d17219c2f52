namespace GcHeap.Memory;

/// <summary>What a page of a space holds; one byte per page, written by the allocator.</summary>
internal enum PageKind : byte
{
    /// <summary>Not handed out.</summary>
    Free = 0,

    /// <summary>Small objects packed from the page start; a zero header ends them.</summary>
    Small = 1,

    /// <summary>First page of a large object's run.</summary>
    LargeHead = 2,

    /// <summary>A further page of a large object's run.</summary>
    LargeTail = 3,
}
