namespace GcHeap.Interop;

/// <summary>A range of virtual memory that a space lives in, and how its pages are given back.</summary>
internal interface IRegion : IDisposable
{
    /// <summary>Start of the range (for a shared region, of the view the heap hands out).</summary>
    ulong Address { get; }

    /// <summary>Length in bytes, a multiple of the page size.</summary>
    ulong Length { get; }

    /// <summary>Gives the physical pages of [offset, offset+length) back to the kernel (they read as zero again).</summary>
    void Discard(ulong offset, ulong length);
}
