namespace GcHeap.Tests.Support;

/// <summary>Where the repository and this build's outputs are, for tests that run its programs.</summary>
internal static class RepoPaths
{
#if DEBUG
    public const string Configuration = "Debug";
#else
    public const string Configuration = "Release";
#endif

    /// <summary>The folder holding GcHeap.sln, found above the test assembly.</summary>
    public static string Root()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "GcHeap.sln")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("GcHeap.sln not found above the test assembly.");
    }
}
