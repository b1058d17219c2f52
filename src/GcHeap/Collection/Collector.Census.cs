using System.Diagnostics;
using GcHeap.Roots;

namespace GcHeap.Collection;

// The census (Heap.TakeCensus): a marking from every root inside one pause, counting objects
// per type, with no plan and no compaction. Runs as exclusive work on the collector thread, so
// it never overlaps a cycle and can borrow the cycle's marker and bitmap.
internal sealed unsafe partial class Collector
{
    public HeapCensus TakeCensus()
    {
        var space = _heap.AllocationSpace;
        var counts = new long[TypeRegistry.MaxTypes];
        var bytes = new long[TypeRegistry.MaxTypes];
        int hw = 0;
        _bitmap.Prefault(Math.Min(_heap.CapacityPages, space.HighWater + 256));
        long t = Stopwatch.GetTimestamp();
        _heap.Safepoints.StopTheWorld(_heap.Options.SafepointTimeout, abandonable: true);
        long released;
        try
        {
            hw = space.HighWater;
            _marker.Begin(space, hw);
            _marker.CountTypes(counts, bytes);
            lock (_heap.Handles.GlobalLock)
            {
                GreyRoots(RootSet.Capture(_heap.Handles, _heap.Safepoints.Mutators));
            }

            _marker.Drain();
        }
        catch (GcCollectionFailedException e)
        {
            _heap.Fault(e); // a corrupt reference: the heap says so from now on, as after a failed cycle
            throw;
        }
        finally
        {
            _bitmap.Clear(hw); // before anyone runs: the next cycle starts from a clear bitmap
            released = _heap.Safepoints.ResumeTheWorld();
        }

        double pauseMs = Stopwatch.GetElapsedTime(t, released).TotalMilliseconds;
        var types = new List<GcTypeStatistics>();
        for (uint id = 0; id < counts.Length; id++)
        {
            if (counts[id] > 0 && _heap.Types.ById(id) is { } type)
            {
                types.Add(new GcTypeStatistics(type, counts[id], bytes[id]));
            }
        }

        types.Sort((a, b) => b.Bytes != a.Bytes ? b.Bytes.CompareTo(a.Bytes) : string.CompareOrdinal(a.Type.Name, b.Type.Name));
        return new HeapCensus(types, pauseMs);
    }
}
