namespace GcHeap;

/// <summary>
/// What the allocation prefault thread did since the heap was created (see
/// <see cref="HeapOptions.AllocationPrefaultPages"/> and <see cref="Heap.AllocationPrefault"/>).
/// </summary>
/// <param name="Requests">Windows of pages requested by mutators.</param>
/// <param name="PagesPopulated">Pages populated ahead of allocation.</param>
/// <param name="BusyMs">Time the native thread spent populating (off the mutators' threads).</param>
/// <param name="Dropped">Requests refused because the thread's queue was full (those pages faulted on first touch).</param>
/// <param name="Method">How pages are populated: MADV_POPULATE_WRITE, or touching each page on kernels before 5.14.</param>
/// <param name="StoppedBy">The error that stopped prefaulting for good (then mutators fault their own pages), or null.</param>
public sealed record AllocationPrefaultStats(long Requests, long PagesPopulated, double BusyMs, long Dropped, string Method, string? StoppedBy);
