using System.Runtime.InteropServices;

namespace GcHeap.Interop;

/// <summary>Checks once that the native library loaded is the one this assembly expects.</summary>
internal static class NativeLibraryCheck
{
    private static readonly Lazy<bool> Checked = new(Check);

    public static void EnsureCompatible() => _ = Checked.Value;

    private static unsafe bool Check()
    {
        int version;
        try
        {
            version = NativeMethods.AbiVersion();
        }
        catch (DllNotFoundException e)
        {
            throw new GcHeapException(
                $"The native library '{NativeLibraryName.Name}' (lib{NativeLibraryName.Name}.so) could not be loaded ({RuntimeInformation.RuntimeIdentifier}). " +
                "The GcHeap NuGet package carries it for linux-x64 only, in runtimes/linux-x64/native/ (listed in the application's .deps.json, or beside the assembly after a RID-specific publish); " +
                "a project reference to src/GcHeap/GcHeap.csproj builds it beside the GcHeap assembly (needs cmake and a C compiler).", e);
        }

        if (version != NativeLibraryName.AbiVersion)
        {
            throw new GcHeapException($"Native library ABI version {version} does not match the managed assembly's {NativeLibraryName.AbiVersion}; rebuild the solution.");
        }

        if (sizeof(NativePlan) != 104 || sizeof(NativeCompactionStats) != 440 || sizeof(NativeCompactorConfig) != 80 ||
            sizeof(NativeUffdCaps) != 80 || sizeof(NativeContinueAnswers) != 40 || sizeof(NativeTypeInfo) != 16 || sizeof(NativePrefaultStats) != 40 ||
            sizeof(NativeSnapshotConfig) != 32 || sizeof(NativeSnapshotStats) != 216)
        {
            throw new GcHeapException("Native struct layout mismatch between GcHeap and its native library.");
        }

        if (Environment.SystemPageSize != 4096 || !OperatingSystem.IsLinux())
        {
            throw new PlatformNotSupportedException("GcHeap needs Linux with 4 KiB pages.");
        }

        return true;
    }
}
