using System.Globalization;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Configs;

namespace GcHeap.Benchmarks;

/// <summary>
/// Suite 4: one full collection of a fixed-size live graph, per GcHeap backend, against a
/// forced, blocking, compacting .NET gen2 collection of the equivalent graph.
/// <para>The graph: a spine (reference array) of chains of 16 nodes (2 references, 2 longs:
/// GcHeap 40 bytes, .NET 48 bytes); each node points to the next and to its chain's head.
/// <see cref="LiveMiB"/> sets the number of nodes (LiveMiB MiB of GcHeap nodes; the .NET graph
/// has the same number of nodes and so about 20% more bytes). Before every measured collection
/// [IterationSetup] replaces every other chain (alternating halves), so half of the nodes from
/// before became garbage, spread evenly over the pages: a collection marks the live graph, packs
/// the half-empty pages and moves the rest whole.</para>
/// <para>One collection per iteration (BenchmarkDotNet runs a benchmark with [IterationSetup]
/// once per iteration), and [GcForce(false)]: otherwise BenchmarkDotNet would run a .NET GC
/// between the setup and the measurement and the .NET baseline would find no garbage.</para>
/// <para>GcHeap's Mean is the wall time of <c>Heap.Collect()</c>: the calling thread waits for
/// the whole cycle (marking, planning, the pauses, compaction until the last page is installed).
/// With Move and Copy, mutators would run during most of it; the extra columns say how long they
/// were stopped: <c>FlipPause</c> (median flip pause; for StopTheWorld the one full pause; for
/// .NET the GC's pause), <c>Pauses</c> (median sum of all pauses of a cycle), <c>Mark</c>,
/// <c>Compact</c> (compaction wall time), <c>GcCpu</c> (CPU time of the native compactor thread)
/// and <c>Heap</c> (median heap before -> after). They are medians over the collections
/// BenchmarkDotNet ran (its warm-up iterations included, the <see cref="WarmupCollections"/> of
/// [GlobalSetup] not), written by [GlobalCleanup]; the log has every one.</para>
/// </summary>
[MemoryDiagnoser]
[GcForce(false)]
[Config(typeof(Config))]
public class CollectionBenchmarks
{
    public const int ChainLength = 16;

    /// <summary>
    /// Collections run in [GlobalSetup] before anything is measured. GcHeap marks and plans in
    /// managed code, which the runtime first runs unoptimised (tier 0) and recompiles only after
    /// it has been called often enough: the first ten or so collections of a process mark about
    /// three times slower than the rest. Without this warm-up a short job (about eight
    /// collections in all) would measure mostly tier-0 code. The .NET side gets the same number
    /// of collections, for symmetry.
    /// </summary>
    public const int WarmupCollections = 20;

    private const int NodeBytes = 40;

    private readonly List<CollectionStats> _stats = new(1024);
    private readonly List<double> _netPauses = new(1024);
    private readonly List<double> _netHeapBefore = new(1024);
    private readonly List<double> _netHeapAfter = new(1024);

    private Heap? _heap;
    private Mutator _m = null!;
    private GcTypes _types = null!;
    private GcRoot _spine = null!;
    private NetNode?[] _netSpine = null!;
    private int _parity;
    private long _serial;

    [Params(GcBackend.Move, GcBackend.Copy, GcBackend.StopTheWorld)]
    public GcBackend Backend { get; set; }

    [Params(8, 64)]
    public int LiveMiB { get; set; }

    private int Chains => (int)((long)LiveMiB * 1024 * 1024 / (NodeBytes * ChainLength));

    [GlobalSetup(Target = nameof(GcHeap_Collect))]
    public void SetupGcHeap()
    {
        _heap = new Heap(new HeapOptions
        {
            Backend = Backend,
            MaxHeapBytes = ((long)LiveMiB << 22) + (64L << 20),
            BackgroundCollection = false,
        });
        _types = new GcTypes(_heap);
        _m = _heap.AttachCurrentThread("benchmark");
        using (var scope = _m.OpenScope())
        {
            _spine = _m.CreateRoot(_m.AllocateArray(_heap.Types.ReferenceArray, Chains));
        }

        for (int c = 0; c < Chains; c++)
        {
            ReplaceChain(c);
        }

        Console.WriteLine($"// GcHeap backend: {_heap.Backend} ({_heap.BackendReason}); {Chains} chains of {ChainLength} nodes");
        for (int i = 0; i < WarmupCollections; i++)
        {
            RefragmentGcHeap();
            var s = _heap.Collect();
            Console.WriteLine($"// warm-up collection {i + 1}: cycle {s.CycleMs:F1} ms, mark {s.MarkMs:F1} ms");
        }
    }

    [IterationSetup(Target = nameof(GcHeap_Collect))]
    public void RefragmentGcHeap()
    {
        for (int c = _parity; c < Chains; c += 2)
        {
            ReplaceChain(c);
        }

        _parity ^= 1;
    }

    [GlobalCleanup(Target = nameof(GcHeap_Collect))]
    public void CleanupGcHeap()
    {
        var heap = _heap!;
        string check = CheckGraph();
        var verify = heap.Verify();
        foreach (var s in _stats)
        {
            Console.WriteLine("// " + s);
        }

        Console.WriteLine($"// graph check: {check}; heap verifier: {(verify.IsValid ? "valid" : verify.ToString())}");
        ExtraStats.Write(ExtraStats.Key(nameof(GcHeap_Collect), Backend, LiveMiB),
        [
            new("Ran", heap.Backend.ToString()),
            new("FlipPause", Ms(_stats.Select(s => s.FlipPauseMs))),
            new("Pauses", Ms(_stats.Select(s => s.TotalPauseMs))),
            new("Mark", Ms(_stats.Select(s => s.MarkMs))),
            new("Compact", Ms(_stats.Select(s => s.CompactMs))),
            new("GcCpu", Ms(_stats.Select(s => s.CollectorCpuMs))),
            new("Heap", $"{MiB(_stats.Select(s => (double)s.HeapBytesBefore))}->{MiB(_stats.Select(s => (double)s.HeapBytesAfter))} MiB"),
            new("Check", check == "ok" && verify.IsValid ? "ok" : "FAILED"),
        ]);
        _spine.Dispose();
        _m.Dispose();
        heap.Dispose();
    }

    [GlobalSetup(Target = nameof(Net_GcCollect))]
    public void SetupNet()
    {
        _netSpine = new NetNode?[Chains];
        for (int c = 0; c < Chains; c++)
        {
            _netSpine[c] = NewNetChain(c);
        }

        for (int i = 0; i < WarmupCollections; i++)
        {
            RefragmentNet();
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        }
    }

    [IterationSetup(Target = nameof(Net_GcCollect))]
    public void RefragmentNet()
    {
        for (int c = _parity; c < Chains; c += 2)
        {
            _netSpine[c] = NewNetChain(c);
        }

        _parity ^= 1;
    }

    [GlobalCleanup(Target = nameof(Net_GcCollect))]
    public void CleanupNet()
    {
        Console.WriteLine($"// .NET GC pauses (ms): {string.Join(", ", _netPauses.Select(p => p.ToString("F2", CultureInfo.InvariantCulture)))}");
        ExtraStats.Write(ExtraStats.Key(nameof(Net_GcCollect), Backend, LiveMiB),
        [
            new("Ran", ".NET GC"),
            new("FlipPause", Ms(_netPauses)),
            new("Pauses", Ms(_netPauses)),
            new("Mark", "-"),
            new("Compact", "-"),
            new("GcCpu", "-"),
            new("Heap", $"{MiB(_netHeapBefore)}->{MiB(_netHeapAfter)} MiB"),
            new("Check", "-"),
        ]);
    }

    /// <summary>A blocking, compacting gen2 collection of the whole .NET heap.</summary>
    [Benchmark(Baseline = true)]
    public void Net_GcCollect()
    {
        var pauseBefore = GC.GetTotalPauseDuration();
        _netHeapBefore.Add(GC.GetTotalMemory(false));
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        _netPauses.Add((GC.GetTotalPauseDuration() - pauseBefore).TotalMilliseconds);
        _netHeapAfter.Add(GC.GetTotalMemory(false));
    }

    [Benchmark]
    public CollectionStats GcHeap_Collect()
    {
        var s = _heap!.Collect();
        _stats.Add(s);
        return s;
    }

    private static string Ms(IEnumerable<double> values) =>
        ExtraStats.Median(values).ToString("F2", CultureInfo.InvariantCulture) + " ms";

    private static string MiB(IEnumerable<double> bytes) =>
        (ExtraStats.Median(bytes) / (1024 * 1024)).ToString("F0", CultureInfo.InvariantCulture);

    /// <summary>Replaces chain <paramref name="c"/> of the GcHeap graph with a new one (the old one becomes garbage).</summary>
    private void ReplaceChain(int c)
    {
        using var scope = _m.OpenScope();
        var head = _m.Allocate(_types.Node);
        long serial = _serial++;
        _m.Set(head, _types.Id, c);
        _m.Set(head, _types.Value, serial);
        var prev = head;
        for (int k = 1; k < ChainLength; k++)
        {
            var n = _m.Allocate(_types.Node);
            _m.Set(n, _types.Id, c);
            _m.Set(n, _types.Value, serial);
            _m.SetRef(n, _types.Other, head);
            _m.SetRef(prev, _types.Next, n);
            prev = n;
        }

        _m.SetElement(_spine.Ref, c, head);
    }

    private NetNode NewNetChain(int c)
    {
        long serial = _serial++;
        var head = new NetNode { Id = c, Value = serial };
        var prev = head;
        for (int k = 1; k < ChainLength; k++)
        {
            var n = new NetNode { Id = c, Value = serial, Other = head };
            prev.Next = n;
            prev = n;
        }

        return head;
    }

    /// <summary>Walks every chain: right length, ids and serials, back pointers to the head.</summary>
    private string CheckGraph()
    {
        for (int c = 0; c < Chains; c++)
        {
            using var scope = _m.OpenScope();
            var head = _m.GetElement(_spine.Ref, c);
            if (head.IsNull)
            {
                return $"chain {c} is null";
            }

            long serial = _m.Get(head, _types.Value);
            int length = 0;
            for (var n = head; !n.IsNull; n = _m.GetRef(n, _types.Next))
            {
                length++;
                if (_m.Get(n, _types.Id) != c || _m.Get(n, _types.Value) != serial)
                {
                    return $"chain {c} node {length - 1} holds id {_m.Get(n, _types.Id)}, serial {_m.Get(n, _types.Value)}";
                }

                if (length > 1 && !_m.IsSameObject(_m.GetRef(n, _types.Other), head))
                {
                    return $"chain {c} node {length - 1} does not point back to its head";
                }
            }

            if (length != ChainLength)
            {
                return $"chain {c} has {length} nodes";
            }
        }

        return "ok";
    }

    /// <summary>The extra columns (values written by the benchmark processes, see <see cref="ExtraStats"/>).</summary>
    public sealed class Config : ManualConfig
    {
        public Config()
        {
            string[] keys = [nameof(Backend), nameof(LiveMiB)];
            AddColumn(
                new ExtraStatsColumn("Ran", "What collected: the GcHeap backend actually in use (after any fallback), or the .NET GC", keys),
                new ExtraStatsColumn("FlipPause", "Median flip pause (Move/Copy), full pause (StopTheWorld) or .NET GC pause per collection", keys),
                new ExtraStatsColumn("Pauses", "Median sum of all pauses of one collection", keys),
                new ExtraStatsColumn("Mark", "Median marking time (GcHeap)", keys),
                new ExtraStatsColumn("Compact", "Median compaction wall time (GcHeap)", keys),
                new ExtraStatsColumn("GcCpu", "Median CPU time of the native compactor (GcHeap)", keys),
                new ExtraStatsColumn("Heap", "Median heap size before -> after a collection (GcHeap pages in use; .NET GC.GetTotalMemory)", keys),
                new ExtraStatsColumn("Check", "GcHeap: graph walked and heap verified after the run", keys));
        }
    }
}
