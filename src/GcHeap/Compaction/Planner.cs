using System.Runtime.CompilerServices;
using GcHeap.Collection;
using GcHeap.Interop;
using GcHeap.Marking;
using GcHeap.Memory;
using GcHeap.ObjectModel;

namespace GcHeap.Compaction;

/// <summary>
/// Decides, after marking, what becomes of every from-space page, and so where every live
/// object goes (C# owns forwarding; the native code only evaluates these tables):
/// <list type="bullet">
/// <item>no live bytes: the page is dropped;</item>
/// <item>dense (live bytes at least the threshold), allocated during the cycle (black), or part of
/// a live large object: the page moves whole, objects keep their offsets, and its references are
/// fixed in place: with UFFDIO_MOVE it is installed without copying a byte;</item>
/// <item>sparse: its live objects are packed, in address order, into compacted to-space pages.</item>
/// </list>
/// To-space layout: all compacted pages first (one packed stream, built in consecutive buffer
/// slots, so they go in as long runs), then the whole pages in from-space order (consecutive
/// whole from-pages stay consecutive, so they go in as long runs of the source mapping), then
/// pages allocated after marking began, appended at the flip.
/// <para>
/// Run bridging (Move backend): a MOVE ioctl only pays for a run longer than the kernel's
/// per-page TLB flush ceiling (see <see cref="HeapOptions.MinMovePages"/>). A short gap of sparse
/// or empty pages between whole pages splits a run in two; when the pages joined by such gaps add
/// up to a movable run, the gap pages move whole too (their dead objects become fillers), within a
/// budget of <see cref="HeapOptions.RunBridgeBudget"/> of the planned pages. That trades a little
/// retained garbage (counted in <c>PagesBridged</c>) for zero-copy runs.
/// </para>
/// </summary>
internal sealed unsafe class Planner
{
    private readonly MarkBitmap _bitmap;
    private readonly TypeRegistry _types;
    private CompactionPlan _plan = null!;
    private Space _from = null!;
    private int _denseBytes;
    private int _bridgeGap;
    private int _bridgeMinRun;
    private double _bridgeBudget;
    private bool _packShortRuns;
    private bool _alignHugeBlocks;
    private int _lastAligned = -1;
    private int _next;
    private int _nursery;
    private int _nurseryBlack;
    private int _open = -1;
    private int _openFill;

    public Planner(MarkBitmap bitmap, TypeRegistry types)
    {
        _bitmap = bitmap;
        _types = types;
    }

    public int PagesEmpty { get; private set; }

    public int PagesWhole { get; private set; }

    public int PagesSparse { get; private set; }

    public int PagesLarge { get; private set; }

    public int PagesBlack { get; private set; }

    /// <summary>Sparse or empty pages moved whole to join runs (see the class remarks); also counted in <see cref="PagesWhole"/>.</summary>
    public int PagesBridged { get; private set; }

    /// <summary>Dense pages packed because their run of whole pages was too short to MOVE; also counted in <see cref="PagesSparse"/>.</summary>
    public int PagesPackedShortRuns { get; private set; }

    /// <summary>To-space pages left as unpopulated holes so that whole 2 MiB blocks keep their alignment (see <see cref="AlignHugeBlock"/>).</summary>
    public int PagesHoles { get; private set; }

    /// <summary>Whole 2 MiB from-space blocks placed at an aligned to-space block (candidates for a PMD move).</summary>
    public int HugeBlocksPlanned { get; private set; }

    /// <summary>
    /// Starts a plan. <paramref name="bridgeGap"/> 0 turns run bridging off; with
    /// <paramref name="packShortRuns"/> dense small pages in runs shorter than
    /// <paramref name="bridgeMinRun"/> are packed instead of moved whole.
    /// Move on transparent huge pages (<paramref name="alignHugeBlocks"/>): keep whole 2 MiB blocks aligned (see <see cref="AlignHugeBlock"/>).
    /// </summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    public void Begin(CompactionPlan plan, double denseThreshold, int bridgeGap = 0, int bridgeMinRun = 0, double bridgeBudget = 0, bool packShortRuns = false, bool alignHugeBlocks = false, int nurseryBlackFrom = -1)
    {
        _alignHugeBlocks = alignHugeBlocks;
        _lastAligned = -1;
        _packShortRuns = packShortRuns && bridgeMinRun > 1;
        _bridgeGap = bridgeGap;
        _bridgeMinRun = bridgeMinRun;
        _bridgeBudget = bridgeBudget;
        _plan = plan;
        _from = plan.From;
        _denseBytes = denseThreshold <= 0 ? 1 : denseThreshold > 1 ? int.MaxValue : (int)Math.Ceiling(denseThreshold * ObjectLayout.PageSize);
        _nursery = _from.NurseryPages;
        _nurseryBlack = nurseryBlackFrom < 0 ? _nursery : Math.Min(nurseryBlackFrom, _nursery);
        _next = 0;
        for (int t = 0; t < plan.To.NurseryPages; t++)
        {
            // The to-space nursery: holes of the plan, never registered or built.
            _plan.ToKind[t] = NativeConstants.ToHole;
            _plan.ToSrc[t] = 0;
            _next++;
        }

        _open = -1;
        _openFill = 0;
        PagesEmpty = PagesWhole = PagesSparse = PagesLarge = PagesBlack = PagesBridged = PagesPackedShortRuns = PagesHoles = HugeBlocksPlanned = 0;
    }

    /// <summary>Plans from-space pages [first, end); <paramref name="black"/>: allocated after marking began (all live).</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    public void Plan(int first, int end, bool black)
    {
        if (!black)
        {
            // Marked pages: classify small pages, bridge short gaps, then hand out the compacted
            // pages (one stream) before any whole page.
            ClassifySmall(first, end);
            if (_bridgeGap > 0)
            {
                BridgeGaps(first, end);
            }

            if (_packShortRuns)
            {
                PackShortRuns(first, end);
            }

            for (int q = first; q < end; q++)
            {
                if (_plan.FromClass[q] == NativeConstants.FromSparse && _from.Kinds[q] == PageKind.Small)
                {
                    Sparse(q, (int)_bitmap.LiveBytes[q]);
                    PagesSparse++;
                }
            }
        }

        NativeTypeInfo* table = _types.Table;
        uint typeCount = (uint)_types.Count;
        int p = first;
        while (p < end)
        {
            if (p >= _nurseryBlack && p < _nursery)
            {
                p = Math.Min(end, _nursery); // nursery pages taken while marking: PlanNurseryBlack
                continue;
            }

            AlignHugeBlock(p, end, black);
            PageKind kind = _from.Kinds[p];
            switch (kind)
            {
                case PageKind.Small:
                    if (black)
                    {
                        Whole(p, NativeConstants.FromWholeBlack, 0);
                        PagesBlack++;
                    }
                    else if (_plan.FromClass[p] == NativeConstants.FromWholeMarked)
                    {
                        Whole(p, NativeConstants.FromWholeMarked, 0);
                        PagesWhole++;
                    }
                    else if (_plan.FromClass[p] == NativeConstants.FromEmpty)
                    {
                        PagesEmpty++;
                    }

                    p++;
                    break;
                case PageKind.LargeHead:
                    p += PlanLarge(p, black, table, typeCount);
                    break;
                case PageKind.Free:
                    _plan.FromClass[p] = NativeConstants.FromEmpty;
                    PagesEmpty++;
                    p++;
                    break;
                default:
                    throw new GcCollectionFailedException($"Heap corruption: page {p} of space {_from.Name} is a {kind} page without a head.");
            }
        }

        _plan.FromPages = end;
        _plan.ToPages = _next;
    }

    /// <summary>First pass over marked pages: the class of every small page, from its live bytes alone.</summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    private void ClassifySmall(int first, int end)
    {
        // Liveness of the large object whose pages are being walked: read once at its head, not
        // again for every tail page (a walk back per page would be quadratic in the object's size).
        bool largeLive = false;
        for (int p = first; p < end; p++)
        {
            PageKind kind = _from.Kinds[p];
            if (kind != PageKind.Small)
            {
                // Large runs are classified by PlanLarge; mark them so gaps can see their liveness.
                if (kind == PageKind.LargeHead)
                {
                    largeLive = _bitmap.IsSet((ulong)p * ObjectLayout.GranulesPerPage);
                }
                else if (kind == PageKind.LargeTail && p == first)
                {
                    largeLive = IsLiveLarge(p); // the range starts inside an object
                }

                _plan.FromClass[p] = kind is PageKind.LargeHead or PageKind.LargeTail && largeLive
                    ? NativeConstants.FromLarge
                    : NativeConstants.FromEmpty;
                continue;
            }

            uint live = p >= _nurseryBlack && p < _nursery ? 0 : _bitmap.LiveBytes[p]; // black nursery pages: PlanNurseryBlack
            _plan.FromClass[p] = live == 0 ? NativeConstants.FromEmpty
                : live >= _denseBytes && p >= _nursery ? NativeConstants.FromWholeMarked
                : NativeConstants.FromSparse;
        }
    }

    [MethodImpl(CollectorCode.OptimizeOnce)]
    private bool IsLiveLarge(int p)
    {
        while (_from.Kinds[p] == PageKind.LargeTail)
        {
            p--;
        }

        return _bitmap.IsSet((ulong)p * ObjectLayout.GranulesPerPage);
    }

    /// <summary>
    /// A run of whole pages shorter than a MOVE pays for would go in by UFFDIO_COPY; packing its
    /// dense small pages instead puts their objects into the packed stream, which goes in as long
    /// runs (and drops their dead bytes). Large-object pages cannot be packed and stay whole.
    /// </summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    private void PackShortRuns(int first, int end)
    {
        int p = first;
        while (p < end)
        {
            if (!MovesWhole(_plan.FromClass[p]))
            {
                p++;
                continue;
            }

            int q = p;
            while (q < end && MovesWhole(_plan.FromClass[q]))
            {
                q++;
            }

            // Runs reaching the end of the marked range continue with the black pages: keep them.
            if (q - p < _bridgeMinRun && q < end)
            {
                for (int i = p; i < q; i++)
                {
                    if (_plan.FromClass[i] == NativeConstants.FromWholeMarked && _from.Kinds[i] == PageKind.Small && _bitmap.LiveBytes[i] > 0)
                    {
                        _plan.FromClass[i] = NativeConstants.FromSparse;
                        PagesPackedShortRuns++;
                    }
                }
            }

            p = q;
        }
    }

    private static bool MovesWhole(byte cls) => cls is NativeConstants.FromWholeMarked or NativeConstants.FromLarge;

    /// <summary>
    /// Huge blocks: where from-space page <paramref name="p"/> starts an aligned block of 512 pages
    /// that all move whole, the next to-page is padded up to a multiple of 512 with holes
    /// (<see cref="NativeConstants.ToHole"/>), so the block's run starts and ends PMD-aligned on both
    /// sides and the kernel can move its 2 MiB page-table entry at once. Holes are address space
    /// only: never populated, parsed as free pages next cycle. Padding never puts the block above its
    /// own from-space position, so to-space never outgrows from-space.
    /// </summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    private void AlignHugeBlock(int p, int end, bool black)
    {
        const int Block = NativeConstants.PmdPages;
        if (!_alignHugeBlocks || (p & (Block - 1)) != 0 || p + Block > end || p == _lastAligned || p < _nursery)
        {
            return;
        }

        for (int i = 0; i < Block; i++)
        {
            if (black)
            {
                // Pages allocated during the cycle all move whole once written; one not set up yet
                // (its kind still Free) leaves the block unaligned.
                var kind = (PageKind)Volatile.Read(ref *(byte*)(_from.Kinds + p + i));
                if (kind is not (PageKind.Small or PageKind.LargeHead or PageKind.LargeTail))
                {
                    return;
                }
            }
            else if (!MovesWhole(_plan.FromClass[p + i]))
            {
                return;
            }
        }

        int gap = -_next & (Block - 1);
        if (_next + gap > p)
        {
            return;
        }

        for (int g = 0; g < gap; g++)
        {
            int t = _next++;
            _plan.ToKind[t] = NativeConstants.ToHole;
            _plan.ToSrc[t] = 0;
        }

        PagesHoles += gap;
        HugeBlocksPlanned++;
        _lastAligned = p;
    }

    /// <summary>
    /// Joins whole stretches separated by gaps of at most <c>_bridgeGap</c> small sparse or empty
    /// pages into segments; where a segment reaches <c>_bridgeMinRun</c> pages (a run worth a
    /// MOVE), its gap pages move whole too, while the budget lasts.
    /// </summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    private void BridgeGaps(int first, int end)
    {
        int budget = (int)(_bridgeBudget * (end - first));
        int p = Math.Max(first, _nursery); // nursery pages never move whole
        while (p < end && budget > 0)
        {
            if (!MovesWhole(_plan.FromClass[p]))
            {
                p++;
                continue;
            }

            // A segment starts at p: whole stretches joined by short bridgeable gaps.
            int segStart = p, segEnd = p, gaps = 0;
            int q = p;
            while (q < end)
            {
                while (q < end && MovesWhole(_plan.FromClass[q]))
                {
                    q++;
                }

                segEnd = q;
                int g = q;
                while (g < end && g - q < _bridgeGap + 1 && !MovesWhole(_plan.FromClass[g]) && _from.Kinds[g] == PageKind.Small)
                {
                    g++;
                }

                if (g - q > _bridgeGap || g >= end || !MovesWhole(_plan.FromClass[g]) || gaps + (g - q) > budget)
                {
                    break;
                }

                gaps += g - q;
                q = g;
            }

            if (segEnd - segStart >= _bridgeMinRun && gaps > 0)
            {
                for (int i = segStart; i < segEnd; i++)
                {
                    if (!MovesWhole(_plan.FromClass[i]))
                    {
                        _plan.FromClass[i] = NativeConstants.FromWholeMarked;
                        PagesBridged++;
                        budget--;
                    }
                }
            }

            p = segEnd + 1;
        }
    }

    /// <summary>
    /// Plans pages allocated since marking began, [first, end), while mutators still allocate:
    /// stops at the first page that cannot be classified safely yet (its kind not written, or a
    /// large object whose header is not written yet) and returns it; the flip plans the rest.
    /// Large objects publish their tail pages before their head page, so a head seen here has
    /// its whole run.
    /// </summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    public int PlanBlackWhileRunning(int first, int end)
    {
        int p = PlanTakenWhileRunning(first, end);
        _plan.FromPages = p;
        return p;
    }

    /// <summary>
    /// Nursery pages [first, end) taken since marking began, planned while mutators still
    /// allocate, as <see cref="PlanBlackWhileRunning"/> does above the nursery: returns the first
    /// page not planned, from which <see cref="PlanNurseryBlack"/> goes on in the flip. With the
    /// whole nursery planned in the pause, gcbench's flips took 2.9-3.6 ms in that step alone
    /// (docs/results/2026-12-07/arrayviews-workloads).
    /// </summary>
    public int PlanNurseryBlackWhileRunning(int first, int end) => PlanTakenWhileRunning(first, end);

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private int PlanTakenWhileRunning(int first, int end)
    {
        NativeTypeInfo* table = _types.Table;
        uint typeCount = (uint)_types.Count;
        int p = first;
        while (p < end)
        {
            AlignHugeBlock(p, end, black: true); // never below the nursery
            PageKind kind = (PageKind)Volatile.Read(ref *(byte*)(_from.Kinds + p));
            if (kind == PageKind.Small)
            {
                Whole(p, NativeConstants.FromWholeBlack, 0);
                PagesBlack++;
                p++;
                continue;
            }

            if (kind != PageKind.LargeHead)
            {
                break; // taken but not set up yet
            }

            long size = ObjectScanner.SizeOf(table, typeCount, _from.PageAddress(p), out _);
            if (size <= ObjectLayout.LargeObjectThreshold || p + ObjectLayout.PagesFor(size) > end)
            {
                break; // header not written yet
            }

            p += PlanLarge(p, black: true, table, typeCount);
        }

        _plan.ToPages = _next;
        return p;
    }

    /// <summary>
    /// Nursery pages [first, end) taken since marking began and not planned while running (the
    /// flip plans them, with every thread's buffer retired): black, so moved whole (buffers and
    /// large objects alike). Their frames stay
    /// in the nursery all the same: the native collector installs whole pages whose source is a
    /// nursery page by UFFDIO_COPY, never by MOVE.
    /// </summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    public void PlanNurseryBlack(int first, int end)
    {
        NativeTypeInfo* table = _types.Table;
        uint typeCount = (uint)_types.Count;
        int p = first;
        while (p < end)
        {
            switch (_from.Kinds[p])
            {
                case PageKind.Small:
                    Whole(p, NativeConstants.FromWholeBlack, 0);
                    PagesBlack++;
                    p++;
                    break;
                case PageKind.LargeHead:
                    p += PlanLarge(p, black: true, table, typeCount);
                    break;
                default:
                    // A page is taken and given its kind with no poll in between, so with every
                    // thread stopped each page taken has its kind, and a tail follows its head.
                    throw new GcCollectionFailedException($"Heap corruption: nursery page {p} of space {_from.Name} is a {_from.Kinds[p]} page among those taken since marking began.");
            }
        }

        _plan.ToPages = _next;
    }

    [MethodImpl(CollectorCode.OptimizeOnce)]
    private int PlanLarge(int p, bool black, NativeTypeInfo* table, uint typeCount)
    {
        if (!black && !_bitmap.IsSet((ulong)p * ObjectLayout.GranulesPerPage))
        {
            // Dead: its run is its head and the tail pages after it (the page table says so), so
            // the object's memory is not read at all (with page-sized objects, mostly garbage,
            // reading every dead header was most of planning).
            int dead = 1;
            while (p + dead < _from.CapacityPages && _from.Kinds[p + dead] == PageKind.LargeTail)
            {
                dead++;
            }

            for (int i = 0; i < dead; i++)
            {
                _plan.FromClass[p + i] = NativeConstants.FromEmpty;
            }

            PagesEmpty += dead;
            return dead;
        }

        nint obj = _from.PageAddress(p);
        long size = ObjectScanner.SizeOf(table, typeCount, obj, out long refs);
        if (size <= ObjectLayout.LargeObjectThreshold)
        {
            throw new GcCollectionFailedException($"Heap corruption: large-object page {p} of space {_from.Name} has a bad header.");
        }

        int n = (int)ObjectLayout.PagesFor(size);
        bool live = black || _bitmap.IsSet((ulong)p * ObjectLayout.GranulesPerPage);
        long refsEnd = ObjectLayout.HeaderSize + (8 * refs);
        for (int i = 0; i < n; i++)
        {
            if (live)
            {
                // The slice of the reference block on this page, so each page builds on its own.
                long pageStart = (long)i * ObjectLayout.PageSize;
                long b = Math.Max(ObjectLayout.HeaderSize, pageStart) - pageStart;
                long e = Math.Min(refsEnd, pageStart + ObjectLayout.PageSize) - pageStart;
                if (e <= b)
                {
                    b = e = 0;
                }

                Whole(p + i, NativeConstants.FromLarge, (int)LargeAux((uint)b, (uint)e, i == 0));
            }
            else
            {
                _plan.FromClass[p + i] = NativeConstants.FromEmpty;
            }
        }

        if (live)
        {
            PagesLarge += n;
        }
        else
        {
            PagesEmpty += n;
        }

        return n;
    }

    /// <summary>The next to-space page; a plan that would outgrow to-space is a broken invariant (allocation keeps what a space holds within what the other can take), never a write past the tables.</summary>
    [MethodImpl(CollectorCode.OptimizeOnce)]
    private int NextToPage()
    {
        if (_next >= _plan.To.CapacityPages)
        {
            throw new GcCollectionFailedException($"Planner invariant broken: to-space {_plan.To.Name} would need more than its {_plan.To.CapacityPages} pages (from-space {_from.Name}: high water {_from.HighWater}, nursery pages taken {_from.NurseryTaken}).");
        }

        return _next++;
    }

    /// <summary>GCH_LARGE_AUX: reference window [begin, end) of a large-object page, and the head flag.</summary>
    internal static uint LargeAux(uint begin, uint end, bool head) => begin | (end << 13) | (head ? 1u << 31 : 0);

    [MethodImpl(CollectorCode.OptimizeOnce)]
    private void Whole(int p, byte cls, int aux)
    {
        int t = NextToPage();
        _plan.FromClass[p] = cls;
        _plan.FromDest[p] = (uint)t;
        _plan.FromAux[p] = (uint)aux;
        _plan.ToKind[t] = NativeConstants.ToWhole;
        _plan.ToSrc[t] = (uint)p;
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveOptimization)]
    private void Sparse(int p, int live)
    {
        _plan.FromClass[p] = NativeConstants.FromSparse;
        const uint NoSplit = ObjectLayout.PageSize;
        if (_open >= 0 && _openFill + live <= ObjectLayout.PageSize)
        {
            // Everything fits in the open compacted page, in order, with no gap.
            _plan.FromDest[p] = (uint)((((long)_open * ObjectLayout.PageSize) + _openFill) >> ObjectLayout.GranuleShift);
            _plan.FromAux[p] = NoSplit;
            _openFill += live;
            return;
        }

        // Walk the live objects: the stream crosses into a new to-space page at most once here
        // (a sparse page holds less than a page of live bytes). The new page may be far after the
        // open one, because whole pages take the to-pages in between; the plan records it.
        nint page = _from.PageAddress(p);
        NativeTypeInfo* table = _types.Table;
        uint typeCount = (uint)_types.Count;
        long destBase = -1;
        uint splitOff = NoSplit;
        int splitPage = 0;
        nint cur = page;
        while (cur < page + ObjectLayout.PageSize && ObjectLayout.TypeIdOf(cur) != ObjectLayout.TypeEnd)
        {
            long size = ObjectScanner.SizeOf(table, typeCount, cur, out _);
            if (size == 0)
            {
                throw new GcCollectionFailedException($"Heap corruption: bad object header at 0x{cur:x} (page {p} of space {_from.Name}).");
            }

            ulong g = (ulong)(cur - _from.Base) >> ObjectLayout.GranuleShift;
            if (_bitmap.IsSet(g))
            {
                if (_open < 0 || _openFill + size > ObjectLayout.PageSize)
                {
                    int t = NextToPage();
                    _plan.ToKind[t] = NativeConstants.ToCompacted;
                    _plan.ToSrc[t] = (uint)g;
                    if (destBase >= 0)
                    {
                        if (splitOff != NoSplit)
                        {
                            throw new InvalidOperationException($"Planner invariant broken: page {p} split twice.");
                        }

                        splitOff = (uint)(cur - page);
                        splitPage = t;
                    }

                    _open = t;
                    _openFill = 0;
                }

                if (destBase < 0)
                {
                    destBase = ((long)_open * ObjectLayout.PageSize) + _openFill;
                }

                _openFill += (int)size;
            }

            cur += (nint)size;
        }

        _plan.FromDest[p] = (uint)(destBase >> ObjectLayout.GranuleShift);
        _plan.FromAux[p] = splitOff;
        _plan.FromSplit[p] = (uint)splitPage;
    }
}
