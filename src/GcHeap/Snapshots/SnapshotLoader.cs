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
    public static LoadedSnapshot Load(Stream stream, HeapOptions? options)
    {
        var r = new SnapshotStreamReader(stream);
        Span<byte> magic = stackalloc byte[8];
        r.Read(magic);
        if (!magic.SequenceEqual(SnapshotFormat.Magic))
        {
            throw new GcSnapshotFormatException("Not a GcHeap snapshot (wrong magic).");
        }

        uint version = r.U32();
        if (version != SnapshotFormat.Version)
        {
            throw new GcSnapshotFormatException($"Snapshot format version {version} is not supported (this library reads version {SnapshotFormat.Version}).");
        }

        _ = r.U32(); // flags
        ulong oldBase = r.U64();
        uint pages = r.U32();
        uint capacity = r.U32();
        uint typeCount = r.U32();
        uint rootCount = r.U32();
        if (pages > capacity || capacity > int.MaxValue / 2 || typeCount < 4 || typeCount > TypeRegistry.MaxTypes || (oldBase & 4095) != 0 ||
            rootCount > 1u << 24)
        {
            throw new GcSnapshotFormatException($"The snapshot's header is corrupt (pages {pages}, capacity {capacity}, types {typeCount}, roots {rootCount}).");
        }

        var o = options?.Clone() ?? new HeapOptions();
        if (options is null || o.MaxHeapBytes < (long)pages << ObjectLayout.PageShift)
        {
            if (options is not null)
            {
                throw new ArgumentOutOfRangeException(nameof(options), $"HeapOptions.MaxHeapBytes ({o.MaxHeapBytes}) is smaller than the snapshot's {(long)pages << ObjectLayout.PageShift} bytes of pages.");
            }

            o.MaxHeapBytes = (long)capacity << ObjectLayout.PageShift;
        }

        var heap = new Heap(o);
        try
        {
            var loaded = Fill(r, heap, oldBase, pages, typeCount, rootCount);
            return new LoadedSnapshot(heap, loaded.Roots, loaded.ByName, new SnapshotInfo((int)version, pages, (int)typeCount, (int)rootCount, (long)capacity << ObjectLayout.PageShift));
        }
        catch
        {
            heap.Dispose();
            throw;
        }
    }

    private static (GcRoot[] Roots, Dictionary<string, GcRoot> ByName) Fill(SnapshotStreamReader r, Heap heap, ulong oldBase, uint pages, uint typeCount, uint rootCount)
    {
        for (uint id = 2; id < typeCount; id++)
        {
            DefineType(r, heap.Types, id);
        }

        var roots = new (ulong Address, string Name)[rootCount];
        for (int i = 0; i < roots.Length; i++)
        {
            _ = r.U32(); // the slot it had
            roots[i] = (r.U64(), r.Str());
        }

        var space = heap.AllocationSpace;
        if (space.TryTakePages((int)pages) != 0)
        {
            throw new GcSnapshotFormatException("The new heap's allocation space is not empty."); // a fresh heap always is
        }

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
            ulong zeroMask = r.U64();
            if (first != next || n == 0 || n > SnapshotFormat.BlockPages || first + n > pages)
            {
                throw new GcSnapshotFormatException($"Page block [{first}, +{n}) where page {next} was expected: the snapshot is corrupt.");
            }

            for (uint i = 0; i < n; i++)
            {
                if ((zeroMask & (1UL << (int)i)) == 0)
                {
                    r.Read(new Span<byte>((byte*)space.PageAddress((int)(first + i)), ObjectLayout.PageSize));
                }
            }

            next = first + n;
        }

        r.Trailer();
        long delta = (long)space.Base - (long)oldBase;
        Rebase(space, heap.Types, (int)pages, oldBase, delta);

        var list = new GcRoot[rootCount];
        var byName = new Dictionary<string, GcRoot>(StringComparer.Ordinal);
        for (int i = 0; i < roots.Length; i++)
        {
            var (address, name) = roots[i];
            nint a = address == 0 ? 0 : (nint)(long)Rebased(address, oldBase, pages, delta, "a root");
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

        return (list, byName);
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
            if (id <= 3)
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
