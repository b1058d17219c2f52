using System.Collections.Immutable;
using GcHeap.Generators;
using GcHeap.Tests.Support;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp;

namespace GcHeap.Tests;

/// <summary>Every field kind a shape can declare (the generator's round-trip subject), as auto-properties.</summary>
[GcObject("Everything")]
public partial struct EveryKind
{
    public GcRef First { get; set; }
    public byte B { get; set; }
    public sbyte Sb { get; set; }
    public short S { get; set; }
    public ushort Us { get; set; }
    public int I { get; set; }
    public uint Ui { get; set; }
    public long L { get; set; }
    public ulong Ul { get; set; }
    public float F { get; set; }
    public double D { get; set; }
    public bool Flag { get; set; }
    public char C { get; set; }
    public GcRef Second { get; set; }
    [GcBytes(5)]
    public byte[]? Blob { get; set; }

    /// <summary>Computed: not part of the shape.</summary>
    public readonly long Twice => L * 2;
}

/// <summary>A cons cell, as an interpreter would declare it (fields).</summary>
[GcObject]
internal partial struct Cons
{
    public GcRef Car;
    public GcRef Cdr;
}

/// <summary>
/// The [GcObject] source generator: the types it registers round-trip every field kind through
/// the handle API and through views, on every backend and across collections; registration is
/// idempotent and refuses a conflicting definition; bad shapes are compile errors.
/// </summary>
public class GeneratedTypeTests
{
    [Theory]
    [MemberData(nameof(TestHeaps.AllBackends), MemberType = typeof(TestHeaps))]
    public void AGeneratedTypeRoundTripsEveryFieldKindAcrossCollections(GcBackend backend)
    {
        using var heap = TestHeaps.Create(backend);
        var every = EveryKind.Register(heap);
        var cons = Cons.Register(heap);
        Assert.Same(every, EveryKind.Register(heap)); // cached per heap
        Assert.Equal("Everything", every.Type.Name);
        Assert.Equal(15, every.Type.Fields.Count);
        Assert.Equal(2, every.Type.ReferenceFieldCount);

        using var m = heap.AttachCurrentThread();
        var a = cons.Allocate(m);
        var b = cons.Allocate(m, new Cons { Car = a, Cdr = GcRef.Null });
        var value = new EveryKind
        {
            First = a, B = 250, Sb = -100, S = -30000, Us = 65000, I = -2_000_000_000, Ui = 4_000_000_000, L = long.MinValue + 7,
            Ul = ulong.MaxValue - 3, F = 1.5f, D = -2.25e300, Flag = true, C = 'λ', Second = b, Blob = [1, 2, 3, 4, 5],
        };
        using var root = m.CreateRoot(every.Allocate(m, value));

        for (int cycle = 0; cycle < 3; cycle++)
        {
            heap.Collect();
            using var s = m.OpenScope();
            var read = every.Read(m, root.Ref);
            Assert.True(m.IsSameObject(read.First, cons.GetCdr(m, read.Second)) is false);
            Assert.True(m.IsSameObject(cons.GetCar(m, read.Second), read.First));
            Assert.True(cons.Is(m, read.First) && cons.Is(m, read.Second) && !cons.Is(m, root.Ref) && !cons.Is(m, GcRef.Null));
            Assert.Equal((value.B, value.Sb, value.S, value.Us, value.I, value.Ui, value.L, value.Ul), (read.B, read.Sb, read.S, read.Us, read.I, read.Ui, read.L, read.Ul));
            Assert.Equal((value.F, value.D, value.Flag, value.C), (read.F, read.D, read.Flag, read.C));
            Assert.Equal(value.Blob, read.Blob);
        }

        // Write, then the per-field accessors (handles), then views.
        using (m.OpenScope())
        {
            var changed = value with { First = GcRef.Null, L = 42, Blob = [9, 9, 9, 9, 9], C = 'x' };
            every.Write(m, root.Ref, changed);
            Assert.True(every.GetFirst(m, root.Ref).IsNull);
            Assert.Equal(42, every.GetL(m, root.Ref));
            every.SetD(m, root.Ref, 3.5);
            every.SetFlag(m, root.Ref, false);
            Span<byte> blob = stackalloc byte[5];
            every.ReadBlob(m, root.Ref, blob);
            Assert.Equal([9, 9, 9, 9, 9], blob.ToArray());
            every.WriteBlob(m, root.Ref, [7, 7, 7, 7, 7]);
        }

        heap.Collect();
        var ctx = m.GetContext();
        var fresh = cons.Allocate(ctx); // first: an allocation may refill the buffer, a safepoint that expires older views
        var v = ctx.View(root.Ref);
        Assert.True(every.Is(v));
        Assert.Equal(3.5, every.GetD(v));
        Assert.False(every.GetFlag(v));
        Assert.Equal('x', every.GetC(v));
        Assert.True(every.GetFirst(v).IsNull);
        every.SetI(v, 17);
        Assert.Equal(17, every.GetI(v));
        var second = every.GetSecond(v);
        Assert.True(cons.Is(second));
        Span<byte> bytes = stackalloc byte[5];
        every.ReadBlob(v, bytes);
        Assert.Equal([7, 7, 7, 7, 7], bytes.ToArray());
        cons.SetCar(fresh, second);
        every.SetFirst(v, fresh);
        Assert.True(every.GetFirst(v).IsSameObject(fresh));

        heap.Collect();
        using (m.OpenScope())
        {
            var first = every.GetFirst(m, root.Ref);
            Assert.True(m.IsSameObject(cons.GetCar(m, first), every.GetSecond(m, root.Ref)));
            Assert.Equal(17, every.GetI(m, root.Ref));
        }

        Assert.All(heap.History, s => Assert.True(s.Verified));
    }

    [Fact]
    public void RegisteringAgainstAConflictingDefinitionIsRefused()
    {
        using var heap = TestHeaps.Create(GcBackend.StopTheWorld);
        heap.Types.DefineObject("Cons", b => b.Reference("Car").Value<long>("Cdr"));
        var e = Assert.Throws<ArgumentException>(() => Cons.Register(heap));
        Assert.Contains("other fields", e.Message);
        Assert.Throws<ArgumentNullException>(() => Cons.Register(null!));

        using var heap2 = TestHeaps.Create(GcBackend.StopTheWorld);
        heap2.Types.DefineObject("Cons", b => b.Reference("Car").Reference("Cdr")); // the same shape, defined by hand
        Assert.Same(heap2.Types["Cons"], Cons.Register(heap2).Type);
    }

    [Theory]
    [InlineData("[GcObject] public partial struct P { public string S; }", "GCH001")]
    [InlineData("[GcObject] public partial struct P { public decimal M; }", "GCH001")]
    [InlineData("[GcObject] public struct P { public int I; }", "GCH002")]
    [InlineData("[GcObject] public readonly partial struct P { public readonly int I; }", "GCH002")]
    [InlineData("[GcObject] public partial struct P { public readonly int I; }", "GCH002")]
    [InlineData("public partial class Outer { [GcObject] public partial struct P { public int I; } }", "GCH002")]
    [InlineData("[GcObject] public partial struct P { [GcBytes(0)] public byte[] B; }", "GCH003")]
    [InlineData("[GcObject] public partial struct P { [GcBytes(4)] public int[] B; }", "GCH003")]
    [InlineData("[GcObject] public partial struct P { public int I { get; init; } }", "GCH002")]
    [InlineData("[GcObject] public partial struct P { public string S { get; set; } }", "GCH001")]
    public void BadShapesAreCompileErrors(string declaration, string id)
    {
        var diagnostics = RunGenerator("using GcHeap; namespace N; " + declaration, out _);
        var d = Assert.Single(diagnostics);
        Assert.Equal(id, d.Id);
        Assert.Equal(DiagnosticSeverity.Error, d.Severity);
    }

    [Fact]
    public void AGoodShapeGeneratesCodeThatCompilesWithoutWarnings()
    {
        var diagnostics = RunGenerator("using GcHeap; namespace N; [GcObject(\"n.Node\")] public partial struct Node { public GcRef Next; public double W; [GcBytes(3)] public byte[]? Tag; }", out var output);
        Assert.Empty(diagnostics);
        var errors = output.GetDiagnostics().Where(d => d.Severity >= DiagnosticSeverity.Warning).ToList();
        Assert.True(errors.Count == 0, string.Join("\n", errors));
        Assert.NotNull(output.GetTypeByMetadataName("N.Node+Layout"));
    }

    [Fact]
    public void TheReadmeRuntimeGuideCompiles()
    {
        // The README's "Writing a runtime on GcHeap" example, compiled with the generator, with
        // trivial definitions of the interpreter's own functions it calls.
        string readme = File.ReadAllText(Path.Combine(RepoPaths.Root(), "README.md"));
        int section = readme.IndexOf("### Writing a runtime on GcHeap", StringComparison.Ordinal);
        Assert.True(section >= 0, "the README lost its runtime guide");
        int start = readme.IndexOf("```csharp\n", section, StringComparison.Ordinal) + "```csharp\n".Length;
        int end = readme.IndexOf("```", start, StringComparison.Ordinal);
        var lines = readme[start..end].Split('\n');
        string types = string.Join('\n', lines.Where(l => l.StartsWith("[GcObject]", StringComparison.Ordinal)));
        string body = string.Join('\n', lines.Where(l => !l.StartsWith("[GcObject]", StringComparison.Ordinal)));
        string source = $$"""
            using System;
            using System.Collections.Generic;
            using GcHeap;
            namespace Guide;
            {{types}}
            public static class Example
            {
                public static void Run(Heap heap, GcRef program, GcRef globalEnv, GcRef closure)
                {
            {{body}}
                    GcRef MakeNumber(int i) => GcRef.Null;
                    GcRef MakeString(string s) => GcRef.Null;
                    static (GcRef, GcRef, bool) Step(Mutator m, GcRef e, GcRef env) => (e, env, true);
                    static Delegate Compile(Mutator m, GcRef c) => () => { };
                }
            }
            """;
        var diagnostics = RunGenerator(source, out var output);
        Assert.Empty(diagnostics);
        var errors = output.GetDiagnostics().Where(d => d.Severity == DiagnosticSeverity.Error).ToList();
        Assert.True(errors.Count == 0, string.Join("\n", errors) + "\n" + source);
    }

    private static ImmutableArray<Diagnostic> RunGenerator(string source, out Compilation output)
    {
        var refs = AppDomain.CurrentDomain.GetAssemblies()
            .Where(a => !a.IsDynamic && !string.IsNullOrEmpty(a.Location))
            .Select(a => MetadataReference.CreateFromFile(a.Location))
            .Append(MetadataReference.CreateFromFile(typeof(Heap).Assembly.Location))
            .Append(MetadataReference.CreateFromFile(typeof(Console).Assembly.Location));
        var compilation = CSharpCompilation.Create(
            "Shapes",
            [CSharpSyntaxTree.ParseText(source, new CSharpParseOptions(LanguageVersion.Latest))],
            refs,
            new CSharpCompilationOptions(OutputKind.DynamicallyLinkedLibrary, nullableContextOptions: NullableContextOptions.Enable));
        var driver = CSharpGeneratorDriver.Create(new GcObjectGenerator());
        driver.RunGeneratorsAndUpdateCompilation(compilation, out output, out var diagnostics);
        return diagnostics;
    }
}
