using System.Runtime.CompilerServices;

namespace GcHeap.ObjectModel;

/// <summary>
/// The object layout contract shared with the native page builder (native/src/layout.h).
/// <para>Header: 8 bytes, little endian: <c>uint32 typeId</c>, <c>uint32 length</c> (array
/// elements, or a filler's byte size). Reference slots (8 bytes each) always come right after
/// the header as one block; raw data follows. Objects are 8-byte aligned.</para>
/// <para>Small objects (up to <see cref="LargeObjectThreshold"/> bytes) never straddle a
/// page, so each page can be built on its own; a header of type id 0 ends a page's objects.
/// Larger objects get their own run of pages.</para>
/// </summary>
internal static unsafe class ObjectLayout
{
    public const int PageSize = 4096;
    public const int PageShift = 12;
    public const int Granule = 8;
    public const int GranuleShift = 3;
    public const int GranulesPerPage = PageSize / Granule;
    public const int BitmapWordsPerPage = GranulesPerPage / 64;
    public const int HeaderSize = 8;

    /// <summary>Objects larger than this get a page run of their own.</summary>
    public const int LargeObjectThreshold = 2048;

    public const uint TypeEnd = 0;
    public const uint TypeFiller = 1;

    public const uint KindFiller = 1;
    public const uint KindObject = 2;
    public const uint KindRefArray = 3;
    public const uint KindDataArray = 4;

    [MethodImpl(HotPath.Inline)]
    public static uint TypeIdOf(nint obj) => *(uint*)obj;

    [MethodImpl(HotPath.Inline)]
    public static uint LengthOf(nint obj) => *(uint*)(obj + 4);

    [MethodImpl(HotPath.Inline)]
    public static void WriteHeader(nint obj, uint typeId, uint length) => *(ulong*)obj = typeId | ((ulong)length << 32);

    [MethodImpl(HotPath.Inline)]
    public static long AlignUp(long size) => (size + (Granule - 1)) & ~(long)(Granule - 1);

    public static long PagesFor(long bytes) => (bytes + PageSize - 1) >> PageShift;
}
