using System.Diagnostics;
using System.IO.Compression;
using System.Text;
using System.Text.RegularExpressions;

using GcHeap.Tests.Support;

namespace GcHeap.Tests;

/// <summary>
/// The NuGet package as a user gets it: packed from src/GcHeap, installed from a local folder into a
/// new console project outside the repository, built and run. The project has no reference to the
/// repository, so it finds the native library only through the package's runtimes/ folder.
/// </summary>
[Collection(SerialTests.Name)]
public sealed class PackageConsumerTests : IClassFixture<PackageConsumerTests.PackedLibrary>
{
    private readonly PackedLibrary _package;

    public PackageConsumerTests(PackedLibrary package) => _package = package;

    [Fact]
    public void ThePackageHoldsWhatAConsumerNeeds()
    {
        using var zip = ZipFile.OpenRead(_package.NupkgPath);
        var entries = zip.Entries.Select(e => e.FullName).ToHashSet(StringComparer.Ordinal);
        Assert.Contains("lib/net10.0/GcHeap.dll", entries);
        Assert.Contains("lib/net10.0/GcHeap.xml", entries);
        Assert.Contains("runtimes/linux-x64/native/libgcheap_native.so", entries);
        Assert.Contains("analyzers/dotnet/cs/GcHeap.Generators.dll", entries);
        Assert.Contains("README.md", entries);
        Assert.DoesNotContain(entries, e => e.EndsWith(".so", StringComparison.Ordinal) && !e.StartsWith("runtimes/", StringComparison.Ordinal));

        string nuspec = ReadEntry(zip, "GcHeap.nuspec");
        Assert.Contains("<license type=\"expression\">MIT</license>", nuspec, StringComparison.Ordinal);
        Assert.Contains("<readme>README.md</readme>", nuspec, StringComparison.Ordinal);
        Assert.Matches("<repository type=\"git\"[^>]* commit=\"[0-9a-f]{40}\"", nuspec);
        Assert.Matches("<description>.+userfaultfd.+</description>", nuspec);

        using var symbols = ZipFile.OpenRead(Path.ChangeExtension(_package.NupkgPath, ".snupkg"));
        Assert.Contains(symbols.Entries, e => e.FullName == "lib/net10.0/GcHeap.pdb");
    }

    [Fact]
    public void ThePackedNativeLibraryUsesPopcntOnlyInItsRunTimeChosenCopies()
    {
        // Built for baseline x86-64: a POPCNT instruction may appear only in the ".popcnt" copies of
        // the forwarding functions, which the loader picks from CPUID; each has a ".default" twin.
        string so = Path.Combine(_package.WorkDir, "libgcheap_native.so");
        using (var zip = ZipFile.OpenRead(_package.NupkgPath))
        {
            zip.GetEntry("runtimes/linux-x64/native/libgcheap_native.so")!.ExtractToFile(so, overwrite: true);
        }

        var (code, disassembly, stderr) = Run("objdump", $"-d --no-show-raw-insn \"{so}\"", _package.WorkDir, TimeSpan.FromMinutes(1));
        Assert.True(code == 0, stderr);
        var functionsWithPopcnt = new HashSet<string>(StringComparer.Ordinal);
        var functions = new HashSet<string>(StringComparer.Ordinal);
        string current = "";
        foreach (string line in disassembly.Split('\n'))
        {
            var header = Regex.Match(line, "^[0-9a-f]+ <(.+)>:$");
            if (header.Success)
            {
                current = header.Groups[1].Value;
                functions.Add(current);
            }
            else if (Regex.IsMatch(line, @"\spopcnt\s"))
            {
                functionsWithPopcnt.Add(current);
            }
        }

        Assert.Contains("gch_forward_slots.popcnt", functionsWithPopcnt);
        Assert.Contains("gch_build_whole.popcnt", functionsWithPopcnt);
        Assert.Contains("gch_build_compacted.popcnt", functionsWithPopcnt);
        foreach (string f in functionsWithPopcnt)
        {
            Assert.EndsWith(".popcnt", f, StringComparison.Ordinal);
            Assert.Contains(f[..^".popcnt".Length] + ".default", functions);
        }
    }

    [Fact]
    public void ANewConsoleProjectInstallsThePackageAndRunsGcHeap()
    {
        string app = Path.Combine(_package.WorkDir, "app");
        Directory.CreateDirectory(app);

        // Stop MSBuild from picking up anything above the temporary folder.
        File.WriteAllText(Path.Combine(app, "Directory.Build.props"), "<Project />\n");
        File.WriteAllText(Path.Combine(app, "Directory.Build.targets"), "<Project />\n");
        File.WriteAllText(Path.Combine(app, "nuget.config"), NugetConfig(_package.FeedDir, Path.Combine(_package.WorkDir, "packages")));
        File.WriteAllText(Path.Combine(app, "Consumer.csproj"), ConsumerProject(_package.Version));
        File.WriteAllText(Path.Combine(app, "Program.cs"), ConsumerProgram);

        var (code, stdout, stderr) = Run("dotnet", "build -c Release --nologo -nodeReuse:false --disable-build-servers", app, TimeSpan.FromMinutes(4));
        Assert.True(code == 0, $"build failed:\n{stdout}\n{stderr}");

        // The restore took GcHeap from the local folder, and the native library from its runtimes/ folder.
        Assert.True(Directory.Exists(Path.Combine(_package.WorkDir, "packages", "gcheap", _package.Version)), "GcHeap was not installed from the local folder");
        string bin = Path.Combine(app, "bin", "Release", "net10.0");
        Assert.True(File.Exists(Path.Combine(bin, "runtimes", "linux-x64", "native", "libgcheap_native.so")), "the native library is not in the output's runtimes/linux-x64/native");
        Assert.Contains("runtimes/linux-x64/native/libgcheap_native.so", File.ReadAllText(Path.Combine(bin, "Consumer.deps.json")), StringComparison.Ordinal);

        (code, stdout, stderr) = Run("dotnet", $"\"{Path.Combine(bin, "Consumer.dll")}\"", app, TimeSpan.FromMinutes(2));
        Assert.True(code == 0, $"the consumer failed:\n{stdout}\n{stderr}");

        // The best backend this machine offers is what a heap with default options gets here too.
        GcBackend expected;
        using (var probe = new Heap(new HeapOptions { MaxHeapBytes = 8L << 20, BackgroundCollection = false }))
        {
            expected = probe.Backend;
        }

        var lines = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l.TrimEnd('\r')).ToList();
        Assert.Contains($"backend: {expected}", lines);
        Assert.Contains("allocated: 100000 nodes of 64 bytes, every 10th kept", lines);
        var collection = Regex.Match(stdout, @"collected: backend (\w+), live objects (\d+), pages installed (\d+), zero-copy share ([0-9.]+)%");
        Assert.True(collection.Success, stdout);
        Assert.Equal(expected.ToString(), collection.Groups[1].Value);
        Assert.Equal(10_001, long.Parse(collection.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture)); // 10,000 nodes + the array
        Assert.True(long.Parse(collection.Groups[3].Value, System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.Contains("keys after the collection: 10000 intact, sum 499950000", lines);
        Assert.Contains("verified: 10001 reachable objects", lines);
        Assert.Contains("generated type: Pair, weight 2.5, left is the kept array: True", lines);
    }

    private static string ReadEntry(ZipArchive zip, string name)
    {
        using var reader = new StreamReader(zip.GetEntry(name)!.Open(), Encoding.UTF8);
        return reader.ReadToEnd();
    }

    /// <summary>
    /// The local folder first; the machine's own sources stay configured (no &lt;clear/&gt;), and its
    /// global packages folder is a fallback, so GcHeap's dependencies restore without the network
    /// once the solution itself has been restored. Packages go to a private folder, so a GcHeap
    /// package of the same version installed earlier can never be taken instead of this one.
    /// </summary>
    private static string NugetConfig(string feed, string packages)
    {
        string machinePackages = Environment.GetEnvironmentVariable("NUGET_PACKAGES") is { Length: > 0 } p
            ? p
            : Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        return $"""
            <?xml version="1.0" encoding="utf-8"?>
            <configuration>
              <config>
                <add key="globalPackagesFolder" value="{packages}" />
              </config>
              <packageSources>
                <add key="gcheap-local" value="{feed}" />
              </packageSources>
              <fallbackPackageFolders>
                <add key="machine" value="{machinePackages}" />
              </fallbackPackageFolders>
            </configuration>

            """;
    }

    private static string ConsumerProject(string version) => $"""
        <Project Sdk="Microsoft.NET.Sdk">
          <PropertyGroup>
            <OutputType>Exe</OutputType>
            <TargetFramework>net10.0</TargetFramework>
            <Nullable>enable</Nullable>
            <ImplicitUsings>enable</ImplicitUsings>
            <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
          </PropertyGroup>
          <ItemGroup>
            <PackageReference Include="GcHeap" Version="{version}" />
          </ItemGroup>
        </Project>

        """;

    private const string ConsumerProgram = """
        using GcHeap;

        // Defines a type, allocates 100,000 nodes of which every 10th stays reachable, collects with
        // the best backend this machine offers (Move, falling back to Copy, then StopTheWorld), and
        // prints what it did.
        using var heap = new Heap(new HeapOptions { MaxHeapBytes = 64L << 20, BackgroundCollection = false });
        Console.WriteLine($"backend: {heap.Backend}");
        Console.WriteLine($"reason: {heap.BackendReason}");

        var node = heap.Types.DefineObject("Node", t => t.Reference("next").Value<long>("key").Bytes("payload", 40));
        GcRefField next = node.RefField("next");
        GcField<long> key = node.Field<long>("key");

        using var m = heap.AttachCurrentThread();
        const int Count = 100_000;
        GcRoot kept;
        using (m.OpenScope())
        {
            kept = m.CreateRoot(m.AllocateArray(heap.Types.ReferenceArray, Count / 10));
        }

        for (int i = 0; i < Count; i++)
        {
            using var scope = m.OpenScope();
            GcRef n = m.Allocate(node);
            m.Set(n, key, i);
            if (i % 10 == 0)
            {
                m.SetElement(kept.Ref, i / 10, n); // kept; the other nine die with their scope
            }
            else
            {
                m.SetRef(n, next, m.GetElement(kept.Ref, i / 10)); // garbage pointing at live nodes
            }
        }

        Console.WriteLine($"allocated: {Count} nodes of {node.InstanceSize} bytes, every 10th kept");
        CollectionStats s = heap.Collect();
        Console.WriteLine($"collected: backend {s.Backend}, live objects {s.LiveObjects}, pages installed {s.PagesInstalled}, zero-copy share {s.ZeroCopyShare * 100:F1}%, max pause {s.MaxPauseMs:F3} ms");

        long sum = 0;
        int intact = 0;
        for (int j = 0; j < Count / 10; j++)
        {
            using var scope = m.OpenScope();
            long k = m.Get(m.GetElement(kept.Ref, j), key);
            sum += k;
            intact += k == 10L * j ? 1 : 0;
        }

        Console.WriteLine($"keys after the collection: {intact} intact, sum {sum}");
        var report = heap.Verify();
        Console.WriteLine(report.IsValid ? $"verified: {report.ReachableObjects} reachable objects" : $"verification failed: {string.Join("; ", report.Errors)}");

        // A type declared by its C# shape: the package's source generator writes Pair.Register and the accessors.
        var pairs = Pair.Register(heap);
        using (m.OpenScope())
        {
            GcRef p = pairs.Allocate(m, new Pair { Left = kept.Ref, Weight = 2.5 });
            Console.WriteLine($"generated type: {pairs.Type.Name}, weight {pairs.GetWeight(m, p)}, left is the kept array: {m.IsSameObject(pairs.GetLeft(m, p), kept.Ref)}");
        }

        kept.Dispose();
        return report.IsValid ? 0 : 1;

        [GcObject]
        partial struct Pair
        {
            public GcRef Left;
            public double Weight;
        }
        """;

    private static (int Code, string Stdout, string Stderr) Run(string file, string arguments, string workingDirectory, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file, arguments)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };

        // The test host runs under `dotnet test`, whose MSBuild settings must not leak into a build
        // of an unrelated project.
        foreach (string name in psi.Environment.Keys.Where(k => k.StartsWith("MSBuild", StringComparison.OrdinalIgnoreCase)).ToList())
        {
            psi.Environment.Remove(name);
        }

        psi.Environment["MSBUILDDISABLENODEREUSE"] = "1";
        psi.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        psi.Environment["DOTNET_NOLOGO"] = "1";
        psi.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        string stdout = p.StandardOutput.ReadToEnd();
        if (!p.WaitForExit(timeout))
        {
            p.Kill(entireProcessTree: true);
            Assert.Fail($"{file} {arguments} did not finish within {timeout}");
        }

        return (p.ExitCode, stdout, stderr.Result);
    }

    /// <summary>Packs src/GcHeap once for the class into a temporary folder (the local package source).</summary>
    public sealed class PackedLibrary : IDisposable
    {
        public PackedLibrary()
        {
            WorkDir = Path.Combine(Path.GetTempPath(), $"gcheap-package-{Guid.NewGuid():N}");
            FeedDir = Path.Combine(WorkDir, "feed");
            Directory.CreateDirectory(FeedDir);
            string project = Path.Combine(RepoPaths.Root(), "src", "GcHeap", "GcHeap.csproj");

            // --no-build: the test project's build already built GcHeap in this configuration.
            var (code, stdout, stderr) = Run("dotnet", $"pack \"{project}\" -c {RepoPaths.Configuration} --no-build --nologo -o \"{FeedDir}\"", WorkDir, TimeSpan.FromMinutes(3));
            if (code != 0)
            {
                throw new InvalidOperationException($"dotnet pack failed:\n{stdout}\n{stderr}");
            }

            NupkgPath = Directory.GetFiles(FeedDir, "GcHeap.*.nupkg").Single();
            Version = Path.GetFileNameWithoutExtension(NupkgPath)["GcHeap.".Length..];
        }

        public string WorkDir { get; }

        public string FeedDir { get; }

        public string NupkgPath { get; }

        public string Version { get; }

        public void Dispose()
        {
            try
            {
                Directory.Delete(WorkDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
