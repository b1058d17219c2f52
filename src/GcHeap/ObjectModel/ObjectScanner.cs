using System.Runtime.CompilerServices;
using GcHeap.Interop;

namespace GcHeap.ObjectModel;

/// <summary>Object size and reference-slot decoding from the type table (mirror of native/src/layout.h).</summary>
internal static unsafe class ObjectScanner
{
    /// <summary>Size in bytes of the object at <paramref name="obj"/> and its reference slot count; 0 for an invalid header.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static long SizeOf(NativeTypeInfo* types, uint typeCount, nint obj, out long refCount)
    {
        uint t = ObjectLayout.TypeIdOf(obj);
        refCount = 0;
        if (t == ObjectLayout.TypeEnd || t >= typeCount)
        {
            return 0;
        }

        NativeTypeInfo* ti = types + t;
        uint len = ObjectLayout.LengthOf(obj);
        switch (ti->Kind)
        {
            case ObjectLayout.KindFiller:
                return len >= 8 && (len & 7) == 0 ? len : 0;
            case ObjectLayout.KindObject:
                refCount = ti->RefCount;
                return ti->BaseSize;
            case ObjectLayout.KindRefArray:
                refCount = len;
                return 8 + (8L * len);
            case ObjectLayout.KindDataArray:
                return (8 + ((long)ti->ElemSize * len) + 7) & ~7L;
            default:
                return 0;
        }
    }
}
