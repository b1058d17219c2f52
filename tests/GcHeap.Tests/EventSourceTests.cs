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
