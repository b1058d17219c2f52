namespace GcHeap.Interop;

/// <summary>The one place that names the native library (built from <c>native/</c>).</summary>
internal static class NativeLibraryName
{
    /// <summary>
    /// Resolved by the runtime as <c>libgcheap_native.so</c>: from the NuGet package's
    /// <c>runtimes/linux-x64/native/</c> folder through the application's .deps.json, or beside the
    /// assembly (a project reference, or a RID-specific publish).
    /// </summary>
    public const string Name = "gcheap_native";

    /// <summary>The ABI version this assembly was written against (GCH_ABI_VERSION).</summary>
    public const int AbiVersion = 27;
}
