using System.Runtime.CompilerServices;
using GcHeap.Interop;
using GcHeap.ObjectModel;

namespace GcHeap.Memory;

/// <summary>
/// One of the heap's two virtual ranges. Pages are handed out by bumping <see cref="HighWater"/>;
/// nothing is ever freed inside a space: each collection evacuates the live objects of the
/// allocation space into the other space (compacted) and discards the old one wholesale. So
/// every page at or above the high-water mark reads as zero. A space of the Continue backend lives
/// in a memfd mapped twice (<see cref="SharedRegion"/>): <see cref="Base"/> is the mutator view,
/// <see cref="CollectorBase"/> the collector view.
/// <para>
/// The nursery (<see cref="HeapOptions.NurseryBytes"/>): pages [0, <see cref="NurseryPages"/>)
/// are handed out first, one allocation buffer at a time, and are never given back to the kernel:
/// when the space is left they are zeroed in place, so the next cycle allocating here writes to
/// pages the process has mapped already (a fresh page costs its first writer ~12 us in this VM's
/// shadow paging, a zeroed mapped one ~0.03 us). The compacted prefix of a cycle that fills this
/// space starts above the nursery (the plan's to-pages [0, NurseryPages) are holes), and bump
/// allocation (<see cref="HighWater"/>) starts above both.
/// </para>
/// </summary>
internal sealed unsafe class Space : IDisposable
{
    private readonly IRegion _memory;
    private readonly NativeRegion _kinds;
    private int _highWater;
    private int _populatedTo;

    /// <summary>Nursery pages handed out, with <see cref="NurseryClosed"/> set while the nursery is closed.</summary>
    private int _nurseryNext;

    /// <summary>Flag in <see cref="_nurseryNext"/>: no nursery page is handed out.</summary>
    private const int NurseryClosed = 1 << 30;

    /// <summary>
    /// A space of <paramref name="capacityPages"/> pages whose bump allocation stops at
    /// <paramref name="allocationLimitPages"/> (default: the capacity) and whose first
    /// <paramref name="nurseryPages"/> pages are its nursery (closed until <see cref="OpenNursery"/>).
    /// </summary>
    public Space(string name, int capacityPages, bool dontFork, bool shared = false, bool hugePages = false, bool transparentHugePages = false, int allocationLimitPages = -1, int nurseryPages = 0)
    {
        Name = name;
        CapacityPages = capacityPages;
        AllocationLimitPages = allocationLimitPages < 0 ? capacityPages : allocationLimitPages;
        NurseryPages = nurseryPages;
        _highWater = nurseryPages;
        _populatedTo = nurseryPages;
        _nurseryNext = NurseryClosed;
        ulong bytes = (ulong)capacityPages << ObjectLayout.PageShift;
        TransparentHugePages = transparentHugePages && !shared;
        _memory = shared
            ? new SharedRegion(bytes, dontFork, hugePages, $"space {name}")
            : new NativeRegion(bytes, dontFork, noHugePages: true, $"space {name}", TransparentHugePages);
        try
        {
            _kinds = new NativeRegion((ulong)capacityPages, dontFork: true, noHugePages: false, $"page table of space {name}");
            Base = (nint)_memory.Address;
            Kinds = (PageKind*)_kinds.Pointer;
            if (_memory is SharedRegion s)
            {
                // A shared file mapping has no anon_vma; its pieces merge back by file offset after
                // UFFDIO_UNREGISTER, so the step below is for anonymous spaces only.
                CollectorBase = (nint)s.CollectorAddress;
                return;
            }

            // Give the mapping its anon_vma now, while it is one VMA. Each flip registers a prefix of
            // to-space with the uffd, splitting the VMA; pieces that got anon_vmas of their own later
            // could never merge again after UFFDIO_UNREGISTER, so boundaries of past cycles would pile
            // up (breaking multi-page ioctls and creeping towards vm.max_map_count).
            // (With transparent huge pages the touch brings a whole 2 MiB page: all of it goes.)
            *(byte*)Base = 1;
            _memory.Discard(0, Math.Min(_memory.Length, (ulong)TouchUnitPages << ObjectLayout.PageShift));
        }
        catch
        {
            _kinds?.Dispose();
            _memory.Dispose();
            throw;
        }
    }

    /// <summary>Number of VMAs covering this space (from /proc/self/maps); for tests and diagnostics.</summary>
    public int CountMappings()
    {
        ulong lo = (ulong)Base, hi = lo + Bytes;
        int n = 0;
        foreach (var line in File.ReadLines("/proc/self/maps"))
        {
            int dash = line.IndexOf('-', StringComparison.Ordinal);
            int space = line.IndexOf(' ', StringComparison.Ordinal);
            ulong start = ulong.Parse(line.AsSpan(0, dash), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);
            ulong end = ulong.Parse(line.AsSpan(dash + 1, space - dash - 1), System.Globalization.NumberStyles.HexNumber, System.Globalization.CultureInfo.InvariantCulture);
            if (start < hi && end > lo)
            {
                n++;
            }
        }

        return n;
    }

    public string Name { get; }

    /// <summary>
    /// The space is 2 MiB aligned and allows transparent huge pages (MADV_HUGEPAGE): a first touch
    /// may populate a whole aligned 2 MiB block, so discards round up to whole blocks.
    /// </summary>
    public bool TransparentHugePages { get; }

    /// <summary>Pages a first touch may populate at once: 512 with transparent huge pages, else 1.</summary>
    public int TouchUnitPages => TransparentHugePages ? NativeConstants.PmdPages : 1;

    public nint Base { get; }

    /// <summary>The collector view of a shared (Continue) space: the same pages as <see cref="Base"/>; 0 for an anonymous space.</summary>
    public nint CollectorBase { get; }

    /// <summary>True for a memfd-backed space (Continue backend).</summary>
    public bool IsShared => CollectorBase != 0;

    public int CapacityPages { get; }

    /// <summary>Bump allocation never hands out pages at or above this (the heap limit); the pages above it are room for a compacted prefix that starts above the nursery.</summary>
    public int AllocationLimitPages { get; }

    /// <summary>Pages [0, NurseryPages) are the nursery (see the class remarks); 0 without one.</summary>
    public int NurseryPages { get; }

    /// <summary>Nursery pages handed out since the space was last cleared.</summary>
    public int NurseryTaken => Volatile.Read(ref _nurseryNext) & ~NurseryClosed;

    /// <summary>Pages holding objects or handed out: the nursery pages taken and the pages from the nursery's end to the high-water mark.</summary>
    public int PagesInUse => NurseryTaken + HighWater - NurseryPages;

    public PageKind* Kinds { get; }

    public ulong Bytes => (ulong)CapacityPages << ObjectLayout.PageShift;

    /// <summary>Pages handed out so far: [0, HighWater).</summary>
    public int HighWater => Volatile.Read(ref _highWater);

    public IRegion Memory => _memory;

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public nint PageAddress(int page) => Base + ((nint)page << ObjectLayout.PageShift);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int PageOf(nint address) => (int)((address - Base) >> ObjectLayout.PageShift);

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public bool Contains(nint address) => (nuint)(address - Base) < (nuint)Bytes;

    /// <summary>Takes <paramref name="count"/> consecutive nursery pages; -1 when the nursery is closed or has not that many left.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public int TryTakeNurseryPage(int count = 1)
    {
        while (true)
        {
            int n = Volatile.Read(ref _nurseryNext);
            if (n + count > NurseryPages || n + count < 0)
            {
                return -1; // used up, or closed (the flag makes n larger than any nursery)
            }

            if (n + count + Volatile.Read(ref _highWater) - NurseryPages > AllocationLimitPages)
            {
                // The heap limit counts the nursery too. Only reachable when a compacted prefix
                // reaches above the limit (bump allocation is then closed, so the high-water mark
                // cannot move under this check): the next collection must fit its holes plus
                // everything live in the space's capacity, the limit plus the nursery.
                return -1;
            }

            if (Interlocked.CompareExchange(ref _nurseryNext, n + count, n) == n)
            {
                return n;
            }
        }
    }

    /// <summary>
    /// Stops handing out nursery pages: at the flip that leaves this space (with every thread's
    /// buffer retired, the pages taken so far are what the plan copies out), and for a snapshot
    /// load. Linearizable with <see cref="TryTakeNurseryPage"/>. Marking does not close it: its
    /// cursor read at mark start splits white pages from black ones (see Collector).
    /// </summary>
    public void CloseNursery() => Interlocked.Or(ref _nurseryNext, NurseryClosed);

    /// <summary>Hands nursery pages out (at the flip that makes this the allocation space, or again when a flip is called off).</summary>
    public void OpenNursery() => Interlocked.And(ref _nurseryNext, ~NurseryClosed);

    /// <summary>
    /// A snapshot load into this space, from page <paramref name="previousEnd"/> (0 for the first
    /// file of a chain, into a fresh space) to <paramref name="endPage"/>: the nursery closes as if
    /// used up (loaded pages may hold objects anywhere) and bump allocation continues at
    /// <paramref name="endPage"/> or the nursery's end, whichever is higher. False when the space
    /// is not where the chain left it or the pages do not fit.
    /// </summary>
    public bool TakeForLoad(int previousEnd, int endPage)
    {
        if (HighWater != Math.Max(previousEnd, NurseryPages) || (previousEnd == 0 && NurseryTaken != 0) || endPage > AllocationLimitPages)
        {
            return false;
        }

        Volatile.Write(ref _nurseryNext, NurseryPages | NurseryClosed);
        SetHighWater(Math.Max(endPage, NurseryPages));
        return true;
    }

    /// <summary>Takes <paramref name="count"/> consecutive pages above the nursery; -1 when the space is full.</summary>
    public int TryTakePages(int count)
    {
        while (true)
        {
            int hw = Volatile.Read(ref _highWater);
            if (hw + count > AllocationLimitPages || hw + count < 0)
            {
                return -1;
            }

            if (Interlocked.CompareExchange(ref _highWater, hw + count, hw) == hw)
            {
                return hw;
            }
        }
    }

    /// <summary>Pages below this may have been populated ahead of allocation (<see cref="AllocationPrefaulter"/>); all read as zero above the high-water mark.</summary>
    public int PopulatedTo => Volatile.Read(ref _populatedTo);

    /// <summary>Moves <see cref="PopulatedTo"/> from <paramref name="expected"/> to <paramref name="end"/>; false when another thread moved it first.</summary>
    public bool TryAdvancePopulatedTo(int expected, int end) =>
        Interlocked.CompareExchange(ref _populatedTo, end, expected) == expected;

    /// <summary>Sets the high-water mark (at a flip, pages the compactor will fill). Caller holds the world stopped.</summary>
    public void SetHighWater(int pages) => Volatile.Write(ref _highWater, pages);

    /// <summary>
    /// Drops every page above the nursery (after evacuation): physical memory back to the kernel,
    /// page table cleared. Pages populated ahead of allocation go too (the prefault thread is
    /// drained first), so the space is empty above its nursery when it next becomes to-space. The
    /// nursery pages taken are zeroed in place and stay mapped; the nursery is left closed.
    /// Returns the nursery pages zeroed.
    /// </summary>
    public int Clear()
    {
        int used = HighWater;
        int nursery = NurseryTaken;
        int touched = Math.Max(used, PopulatedTo);
        if (touched > NurseryPages)
        {
            // A huge page populated by the last touches reaches up to the next 2 MiB boundary; a
            // page left behind there would later make an install into this space answer EEXIST.
            ulong bytes = (ulong)RoundUpToTouchUnit(touched) << ObjectLayout.PageShift;
            ulong from = (ulong)NurseryPages << ObjectLayout.PageShift;
            _memory.Discard(from, Math.Min(bytes, _memory.Length) - from);
        }

        if (nursery > 0)
        {
            // Zeroed through the mutator view: the page frames, and their mappings, stay.
            new Span<byte>((void*)Base, nursery << ObjectLayout.PageShift).Clear();
        }

        if (used > 0)
        {
            new Span<byte>(Kinds, used).Clear();
        }

        Volatile.Write(ref _populatedTo, NurseryPages);
        Volatile.Write(ref _nurseryNext, NurseryClosed);
        SetHighWater(NurseryPages);
        return nursery;
    }

    /// <summary><paramref name="pages"/> rounded up to whole <see cref="TouchUnitPages"/>.</summary>
    public int RoundUpToTouchUnit(int pages) => (int)(((long)pages + TouchUnitPages - 1) / TouchUnitPages * TouchUnitPages);

    /// <summary>Pages of this space that are resident in RAM (mincore).</summary>
    public long ResidentPages()
    {
        Errno.ThrowIfFailed(NativeMethods.MemResidentPages(_memory.Address, _memory.Length, out ulong n), "mincore");
        return (long)n;
    }

    public void Dispose()
    {
        _memory.Dispose();
        _kinds.Dispose();
    }
}
