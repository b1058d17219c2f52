namespace GcHeap.Interop;

/// <summary>The one place that names the native library (built from <c>native/</c>).</summary>
internal static class NativeLibraryName
{
    /// <summary>Resolved by the runtime as <c>libgcheap_native.so</c> beside the assembly.</summary>
    public const string Name = "gcheap_native";

    /// <summary>The ABI version this assembly was written against (GCH_ABI_VERSION).</summary>
    public const int AbiVersion = 14;
}
