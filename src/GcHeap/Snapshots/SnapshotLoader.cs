using GcHeap.Interop;
using GcHeap.Memory;
using GcHeap.ObjectModel;

namespace GcHeap.Snapshots;

/// <summary>
/// Rebuilds a heap from a snapshot: types re-registered in id order (same names, same ids, layouts
/// checked), pages read into the new heap's allocation space at the same page indices, every
/// reference rebased by the distance between the two spaces (objects hold absolute addresses;
/// the new space is elsewhere), roots re-created in saved order, the checksum compared, and the
/// heap verified before it is handed out. Anything wrong: <see cref="GcSnapshotFormatException"/>
/// and the half-built heap is disposed.
/// </summary>
internal static unsafe class SnapshotLoader
{
    private sealed record Header(uint Version, uint Flags, ulong Id, ulong Parent, ulong OldBase, uint Pages, uint Capacity, uint Limit, uint TypeCount, uint RootCount);

    public static LoadedSnapshot Load(IReadOnlyList<Stream> chain, HeapOptions? options)
    {
        var r = new SnapshotStreamReader(chain[0]);
        var first = ReadHeader(r);
        if (first.Parent != 0)
        {
            throw new GcSnapshotFormatException("The first snapshot of a chain is an increment: load the full snapshot it starts from first.");
        }

        var o = options?.Clone() ?? new HeapOptions();
        if (options is null)
        {
            // The saving heap's limit; an image reaching above it (a compacted prefix starts above
            // the nursery, so a full heap's pages may) raises it just enough to hold the pages.
            o.MaxHeapBytes = (long)Math.Max(first.Limit, first.Pages) << ObjectLayout.PageShift;
        }
        else if (o.MaxHeapBytes < (long)first.Pages << ObjectLayout.PageShift)
        {
            throw new ArgumentOutOfRangeException(nameof(options), $"HeapOptions.MaxHeapBytes ({o.MaxHeapBytes}) is smaller than the snapshot's {(long)first.Pages << ObjectLayout.PageShift} bytes of pages.");
        }

        var heap = new Heap(o);
        try
        {
            var h = first;
            (ulong Address, string Name)[] roots = [];
            uint pages = 0;
            for (int i = 0; ; i++)
            {
                if (i > 0)
                {
                    var next = ReadHeader(r);
                    if (next.Parent != h.Id)
                    {
                        throw new GcSnapshotFormatException($"Snapshot {i} of the chain (id {next.Id:x16}) applies to {next.Parent:x16}, not to the one before it ({h.Id:x16}): load the files in the order they were saved.");
                    }

                    if (next.OldBase != h.OldBase || next.Pages < pages)
                    {
                        throw new GcSnapshotFormatException($"Increment {i} does not continue its parent's space: the chain is corrupt.");
                    }

                    if ((long)next.Pages << ObjectLayout.PageShift > heap.Options.MaxHeapBytes)
                    {
                        throw new ArgumentOutOfRangeException(nameof(options), $"HeapOptions.MaxHeapBytes ({heap.Options.MaxHeapBytes}) is smaller than increment {i}'s {(long)next.Pages << ObjectLayout.PageShift} bytes of pages.");
                    }

                    h = next;
                }

                roots = ReadImage(r, heap, h, ref pages);
                if (i + 1 == chain.Count)
                {
                    break;
                }

                r = new SnapshotStreamReader(chain[i + 1]);
            }

            var space = heap.AllocationSpace;
            long delta = (long)space.Base - (long)h.OldBase;
            Rebase(space, heap.Types, (int)pages, h.OldBase, delta);
            var list = new GcRoot[roots.Length];
            var byName = new Dictionary<string, GcRoot>(StringComparer.Ordinal);
            for (int i = 0; i < roots.Length; i++)
            {
                var (address, name) = roots[i];
                nint a = address == 0 ? 0 : (nint)(long)Rebased(address, h.OldBase, pages, delta, "a root");
                list[i] = new GcRoot(heap.Handles, heap.Handles.NewGlobal(a));
                if (name.Length > 0 && !byName.TryAdd(name, list[i]))
                {
                    throw new GcSnapshotFormatException($"Two roots are named '{name}': the snapshot is corrupt.");
                }
            }

            var report = heap.Verify();
            if (!report.IsValid)
            {
                throw new GcSnapshotFormatException($"The loaded heap does not verify: {report}");
            }

            return new LoadedSnapshot(heap, list, byName, new SnapshotInfo((int)h.Version, pages, (int)h.TypeCount - 2, roots.Length, (long)first.Limit << ObjectLayout.PageShift)
            {
                Files = chain.Count,
            });
        }
        catch
        {
            heap.Dispose();
            throw;
        }
    }

    private static Header ReadHeader(SnapshotStreamReader r)
    {
        Span<byte> magic = stackalloc byte[8];
        r.Read(magic);
        if (!magic.SequenceEqual(SnapshotFormat.Magic))
        {
            throw new GcSnapshotFormatException("Not a GcHeap snapshot (wrong magic).");
        }

        uint version = r.U32();
        if (version < SnapshotFormat.OldestReadable || version > SnapshotFormat.Version)
        {
            throw new GcSnapshotFormatException($"Snapshot format version {version} is not supported (this library reads versions {SnapshotFormat.OldestReadable} to {SnapshotFormat.Version}).");
        }

        uint flags = r.U32();
        ulong id = r.U64(), parent = r.U64(), oldBase = r.U64();
        uint pages = r.U32(), capacity = r.U32();
        uint limit = version >= 2 ? r.U32() : capacity;
        var h = new Header(version, flags, id, parent, oldBase, pages, capacity, limit, r.U32(), r.U32());
        if (h.Pages > h.Capacity || h.Limit > h.Capacity || h.Limit == 0 || h.Capacity > int.MaxValue / 2 || h.TypeCount < 4 || h.TypeCount > TypeRegistry.MaxTypes || (h.OldBase & 4095) != 0 ||
            h.RootCount > 1u << 24 || (h.Flags & ~SnapshotFormat.FlagIncrement) != 0 || ((h.Flags & SnapshotFormat.FlagIncrement) != 0) != (h.Parent != 0))
        {
            throw new GcSnapshotFormatException($"The snapshot's header is corrupt (flags {h.Flags}, pages {h.Pages}, capacity {h.Capacity}, types {h.TypeCount}, roots {h.RootCount}).");
        }

        return h;
    }

    /// <summary>Reads one file's types, roots, page table and pages into the heap (an increment over what is there); returns its roots.</summary>
    private static (ulong Address, string Name)[] ReadImage(SnapshotStreamReader r, Heap heap, Header h, ref uint pages)
    {
        for (uint id = 2; id < h.TypeCount; id++)
        {
            DefineType(r, heap.Types, id);
        }

        var roots = new (ulong Address, string Name)[h.RootCount];
        for (int i = 0; i < roots.Length; i++)
        {
            _ = r.U32(); // the slot it had
            roots[i] = (r.U64(), r.Str());
        }

        var space = heap.AllocationSpace;
        if (h.Pages > pages && !space.TakeForLoad((int)pages, (int)h.Pages))
        {
            throw new GcSnapshotFormatException("The new heap's allocation space is not where the chain left it."); // a fresh heap always is
        }

        bool full = h.Parent == 0;
        uint previous = pages;
        pages = h.Pages;
        var kinds = new Span<byte>(space.Kinds, (int)pages);
        r.Read(kinds);
        foreach (byte k in kinds)
        {
            if (k > (byte)PageKind.LargeTail)
            {
                throw new GcSnapshotFormatException($"Unknown page kind {k}: the snapshot is corrupt.");
            }
        }

        uint next = 0;
        while (next < pages)
        {
            uint first = r.U32();
            uint n = r.U32();
            ulong present = r.U64();
            ulong zeroMask = r.U64();
            ulong all = n == 64 ? ulong.MaxValue : (1UL << (int)n) - 1;
            if (first != next || n == 0 || n > SnapshotFormat.BlockPages || first + n > pages || (present & ~all) != 0 || (zeroMask & ~present) != 0)
            {
                throw new GcSnapshotFormatException($"Page block [{first}, +{n}) where page {next} was expected, or bad masks: the snapshot is corrupt.");
            }

            for (uint i = 0; i < n; i++)
            {
                uint p = first + i;
                bool isPresent = (present & (1UL << (int)i)) != 0;
                if (!isPresent && (full || p >= previous))
                {
                    throw new GcSnapshotFormatException($"Page {p} is missing from the image: the snapshot is corrupt.");
                }

                var page = new Span<byte>((byte*)space.PageAddress((int)p), ObjectLayout.PageSize);
                if (isPresent && (zeroMask & (1UL << (int)i)) == 0)
                {
                    r.Read(page);
                }
                else if (isPresent)
                {
                    page.Clear(); // an increment's zero page over an older one
                }
            }

            next = first + n;
        }

        r.Trailer();
        return roots;
    }

    private static void DefineType(SnapshotStreamReader r, TypeRegistry types, uint id)
    {
        string name = r.Str();
        var kind = (GcTypeKind)r.U8();
        int instanceSize = r.I32();
        int refCount = r.I32();
        int elementSize = r.I32();
        byte elementCode = r.U8();
        int fieldCount = r.I32();
        if (fieldCount < 0 || fieldCount > 65536)
        {
            throw new GcSnapshotFormatException($"Type '{name}' has {fieldCount} fields: the snapshot is corrupt.");
        }

        var fields = new (string Name, GcFieldKind Kind, byte Code, int Size)[fieldCount];
        for (int i = 0; i < fieldCount; i++)
        {
            fields[i] = (r.Str(), (GcFieldKind)r.U8(), r.U8(), r.I32());
        }

        GcType t;
        try
        {
            if (id < (uint)types.Count)
            {
                t = types.ById(id)!; // defined by an earlier file of the chain (or built in): checked below
            }
            else if (id <= 3)
            {
                t = id == 2 ? types.ByteArray : types.ReferenceArray; // built in: checked below
            }
            else
            {
                t = kind switch
                {
                    GcTypeKind.Object => types.DefineObject(name, b =>
                    {
                        foreach (var f in fields)
                        {
                            _ = f.Kind switch
                            {
                                GcFieldKind.Reference => b.Reference(f.Name),
                                GcFieldKind.Value => b.ValueByCode(f.Name, f.Code),
                                GcFieldKind.Bytes => b.Bytes(f.Name, f.Size),
                                _ => throw new GcSnapshotFormatException($"Field '{f.Name}' of type '{name}' has an unknown kind: the snapshot is corrupt."),
                            };
                        }
                    }),
                    GcTypeKind.ReferenceArray => types.DefineReferenceArray(name),
                    GcTypeKind.DataArray => types.DefineDataArrayByCode(name, elementCode),
                    _ => throw new GcSnapshotFormatException($"Type '{name}' has an unknown kind: the snapshot is corrupt."),
                };
            }
        }
        catch (ArgumentException e)
        {
            throw new GcSnapshotFormatException($"Type '{name}' (id {id}) cannot be registered again: {e.Message}", e);
        }

        if (t.Id != id || t.Name != name || t.Kind != kind || t.InstanceSize != instanceSize || t.ReferenceFieldCount != refCount ||
            t.ElementSize != elementSize || t.Fields.Count != fieldCount)
        {
            throw new GcSnapshotFormatException($"Type '{name}' (id {id}) re-registered as {t} with a different layout: the snapshot is corrupt.");
        }
    }

    private static ulong Rebased(ulong a, ulong oldBase, uint pages, long delta, string what)
    {
        if (a < oldBase || a >= oldBase + ((ulong)pages << ObjectLayout.PageShift) || (a & 7) != 0)
        {
            throw new GcSnapshotFormatException($"{what} holds 0x{a:x}, outside the saved pages: the snapshot is corrupt.");
        }

        return (ulong)((long)a + delta);
    }

    /// <summary>Adds <paramref name="delta"/> to every non-null reference of every object of [0, pages).</summary>
    private static void Rebase(Space space, TypeRegistry types, int pages, ulong oldBase, long delta)
    {
        NativeTypeInfo* table = types.Table;
        uint typeCount = (uint)types.Count;
        for (int p = 0; p < pages; p++)
        {
            var kind = space.Kinds[p];
            nint page = space.PageAddress(p);
            if (kind == PageKind.Small)
            {
                nint cur = page;
                while (cur < page + ObjectLayout.PageSize && ObjectLayout.TypeIdOf(cur) != ObjectLayout.TypeEnd)
                {
                    long size = ObjectScanner.SizeOf(table, typeCount, cur, out long refs);
                    if (size == 0 || cur + size > page + ObjectLayout.PageSize)
                    {
                        throw new GcSnapshotFormatException($"Page {p} holds a bad object header 0x{*(ulong*)cur:x16}: the snapshot is corrupt.");
                    }

                    FixSlots(cur, refs, oldBase, (uint)pages, delta);
                    cur += (nint)size;
                }
            }
            else if (kind == PageKind.LargeHead)
            {
                long size = ObjectScanner.SizeOf(table, typeCount, page, out long refs);
                long n = ObjectLayout.PagesFor(size);
                if (size == 0 || p + n > pages)
                {
                    throw new GcSnapshotFormatException($"Large object at page {p} is bad or runs past the saved pages: the snapshot is corrupt.");
                }

                FixSlots(page, refs, oldBase, (uint)pages, delta);
                p += (int)n - 1;
            }
            else if (kind == PageKind.LargeTail)
            {
                throw new GcSnapshotFormatException($"Page {p} continues a large object that does not start before it: the snapshot is corrupt.");
            }
        }
    }

    private static void FixSlots(nint obj, long refs, ulong oldBase, uint pages, long delta)
    {
        var slots = (ulong*)(obj + ObjectLayout.HeaderSize);
        for (long i = 0; i < refs; i++)
        {
            if (slots[i] != 0)
            {
                slots[i] = Rebased(slots[i], oldBase, pages, delta, "A reference");
            }
        }
    }
}
