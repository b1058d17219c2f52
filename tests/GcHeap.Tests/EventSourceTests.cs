using System.Collections.Concurrent;
using System.Diagnostics.Tracing;
using System.Globalization;
using GcHeap.Diagnostics;

namespace GcHeap.Tests;

/// <summary>
/// GcHeap's EventSource as dotnet-counters and dotnet-trace see it, read in process by an
/// EventListener: collection and pause events, and counters that follow the collections. The
/// counters cover every heap in the process, so this runs with no other test alongside.
/// </summary>
[Collection(SerialTests.Name)]
public sealed class EventSourceTests
{
    [Theory]
    [InlineData(GcBackend.Move)]
    [InlineData(GcBackend.StopTheWorld)]
    public void EventsAndCountersFollowTheCollections(GcBackend backend)
    {
        using var listener = new GcHeapListener();
        using var heap = TestHeaps.Create(backend, 64 << 20, o => o.BackgroundCollection = false);
        var node = heap.Types.DefineObject("Node", t => t.Reference("next").Value<long>("key").Bytes("pad", 48));
        var next = node.RefField("next");
        using var m = heap.AttachCurrentThread();
        GcRoot keep;
        using (m.OpenScope())
        {
            keep = m.CreateRoot(m.AllocateArray(heap.Types.ReferenceArray, 2000));
        }

        // 20,000 nodes, a tenth kept: sparse pages to pack, and (for Move) pages to move.
        for (int i = 0; i < 20_000; i++)
        {
            using var scope = m.OpenScope();
            var n = m.Allocate(node);
            if (i % 10 == 0)
            {
                m.SetElement(keep.Ref, i / 10, n);
            }
            else
            {
                m.SetRef(n, next, m.GetElement(keep.Ref, i / 10));
            }
        }

        long before = GcHeapEventSource.Log.CollectionsTotal; // the counters cover every heap of the process
        var first = heap.Collect();
        var second = heap.Collect();

        // Events: a start and a stop per cycle, and every pause the statistics list.
        Assert.Contains(listener.Events, e => e.Name == "CollectionStart" && (long)e.Payload[0]! == first.Cycle && (string)e.Payload[1]! == backend.ToString());
        var stop = Assert.Single(listener.Events, e => e.Name == "CollectionStop" && (long)e.Payload[0]! == second.Cycle);
        Assert.Equal(second.LiveBytes, (long)stop.Payload[4]!);
        Assert.Equal(second.PagesZeroCopy, (long)stop.Payload[6]!);
        var pauseKinds = listener.Events.Where(e => e.Name == "PauseEvent").Select(e => (string)e.Payload[0]!).ToList();
        foreach (var p in first.Pauses.Concat(second.Pauses))
        {
            Assert.Contains(p.Kind.ToString(), pauseKinds);
        }

        // Every handshake (mark-end rounds) as an event with its thread counts.
        var handshakes = listener.Events.Where(e => e.Name == "HandshakeEvent").ToList();
        Assert.Equal(backend != GcBackend.StopTheWorld, first.Handshakes.Count > 0);
        foreach (var h in first.Handshakes.Concat(second.Handshakes))
        {
            Assert.Contains(handshakes, e => (string)e.Payload[0]! == h.Kind.ToString() && (int)e.Payload[2]! == h.Threads && (double)e.Payload[1]! == h.Milliseconds);
        }

        // Counters: the first reading that counts both collections may have polled some counters
        // before them; the one after it was polled entirely afterwards (readings come every 0.1 s).
        var reading = listener.WaitForReadingAfter(r => r.TryGetValue("collections", out double c) && c >= before + 2, TimeSpan.FromMinutes(1));
        Assert.NotNull(reading);
        Assert.True(reading["pauses"] >= first.Pauses.Count + second.Pauses.Count);
        Assert.Equal(heap.BytesInUse / 1048576.0, reading["heap-size"], 6); // the only heap alive
        Assert.Equal(second.LiveBytes / 1048576.0, reading["live-bytes"], 6);
        Assert.True(reading["pages-installed"] >= first.PagesInstalled + second.PagesInstalled);
        Assert.Equal(Math.Round(second.ZeroCopyShare * 100, 2), reading["zero-copy-share"], 6);
        if (heap.Backend == GcBackend.Move)
        {
            Assert.True(reading["zero-copy-share"] > 0);
            Assert.True(reading["pages-moved"] >= second.PagesMoved);
        }
        else
        {
            Assert.Equal(0, reading["zero-copy-share"]);
        }

        foreach (string name in new[] { "faults-served", "max-pause", "last-pause", "collection-rate", "pause-time", "fault-rate", "pages-copied", "pages-zero-copy", "ebusy-fallbacks" })
        {
            Assert.True(reading.ContainsKey(name), $"no counter {name}");
        }

        keep.Dispose();
    }

    [Fact]
    public void ASessionAskingForACensusGetsTheTopTypesPeriodically()
    {
        using var heap = TestHeaps.Create(GcBackend.Move);
        var big = heap.Types.DefineObject("CensusBig", t => t.Reference("next").Bytes("pad", 200));
        var small = heap.Types.DefineObject("CensusSmall", t => t.Value<long>("v"));
        var rare = heap.Types.DefineObject("CensusRare", t => t.Value<long>("v"));
        using var m = heap.AttachCurrentThread();
        using var keep = m.CreateRoot(m.AllocateArray(heap.Types.ReferenceArray, 3000));
        for (int i = 0; i < 3000; i++)
        {
            using var scope = m.OpenScope();
            m.SetElement(keep.Ref, i, m.Allocate(i < 1000 ? big : i < 2990 ? small : rare));
        }

        using var listener = new CensusListener();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        List<IReadOnlyList<object?>> mine = [];
        string name = $"heap {heap.Tag}";
        while (DateTime.UtcNow < deadline && mine.Count < 2)
        {
            using (m.EnterSafeRegion())
            {
                Thread.Sleep(50); // the census stops the world: this thread lets it
            }

            mine = listener.Census.Where(p => (string)p[0]! == name).ToList();
        }

        Assert.True(mine.Count >= 2, "no census arrived");
        Assert.Equal((1, "CensusBig", 1000L), ((int)mine[0][1]!, (string)mine[0][2]!, (long)mine[0][3]!));
        Assert.Equal(1000L * big.InstanceSize, (long)mine[0][4]!);
        Assert.Equal((2, "CensusSmall", 1990L), ((int)mine[1][1]!, (string)mine[1][2]!, (long)mine[1][3]!));
        Assert.DoesNotContain(mine, p => (string)p[2]! == "CensusRare"); // CensusTop=2 (the reference array is third)
    }

    private sealed class CensusListener : EventListener
    {
        public ConcurrentQueue<IReadOnlyList<object?>> Census { get; } = new();

        protected override void OnEventSourceCreated(EventSource eventSource)
        {
            if (eventSource.Name == "GcHeap")
            {
                EnableEvents(eventSource, EventLevel.Informational, EventKeywords.All, new Dictionary<string, string?> { ["CensusIntervalSec"] = "0.1", ["CensusTop"] = "2" });
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            if (e.EventSource.Name == "GcHeap" && e.EventName == "TypeCensus" && e.Payload is { } p)
            {
                Census.Enqueue(p);
            }
        }
    }

    private sealed class GcHeapListener : EventListener
    {
        private readonly ConcurrentQueue<Dictionary<string, double>> _readings = new();
        private Dictionary<string, double> _current = new(StringComparer.Ordinal);

        public ConcurrentQueue<(string Name, IReadOnlyList<object?> Payload)> Events { get; } = new();

        public Dictionary<string, double>? WaitForReadingAfter(Func<Dictionary<string, double>, bool> found, TimeSpan limit)
        {
            var deadline = DateTime.UtcNow + limit;
            while (DateTime.UtcNow < deadline)
            {
                var next = _readings.SkipWhile(r => !found(r)).Skip(1).FirstOrDefault();
                if (next is not null)
                {
                    return next;
                }

                Thread.Sleep(50);
            }

            return null;
        }

        protected override void OnEventSourceCreated(EventSource eventSource)
        {
            if (eventSource.Name == "GcHeap")
            {
                EnableEvents(eventSource, EventLevel.Informational, EventKeywords.All, new Dictionary<string, string?> { ["EventCounterIntervalSec"] = "0.1" });
            }
        }

        protected override void OnEventWritten(EventWrittenEventArgs e)
        {
            if (e.EventSource.Name != "GcHeap")
            {
                return;
            }

            if (e.EventName != "EventCounters")
            {
                Events.Enqueue((e.EventName ?? "", e.Payload?.ToArray() ?? []));
                return;
            }

            if (e.Payload?[0] is not IDictionary<string, object> p)
            {
                return;
            }

            string name = (string)p["Name"];
            bool rate = p.TryGetValue("CounterType", out object? type) && Equals(type, "Sum");
            double value = Convert.ToDouble(p[rate ? "Increment" : "Mean"], CultureInfo.InvariantCulture);

            // One reading is the set of counters of one interval; a name seen again starts the next.
            lock (_readings)
            {
                if (_current.ContainsKey(name))
                {
                    _readings.Enqueue(_current);
                    _current = new Dictionary<string, double>(StringComparer.Ordinal);
                }

                _current[name] = value;
            }
        }
    }
}
