using GcHeap.Model;

namespace GcHeap.Experiments.Stress;

/// <summary>Handles, tokens and types of another heap, for the fuzzer: a heap that lives for the whole run, and the last phase's (disposed) heap.</summary>
internal sealed class ForeignObjects
{
    public required GcRef LiveHeapHandle { get; init; }

    public required GcField<long> LiveHeapToken { get; init; }

    public required GcType LiveHeapType { get; init; }

    /// <summary>A root's handle and a field token of the previous phase's heap (disposed by now), if any.</summary>
    public (GcRef Handle, GcField<long> Token, GcRefField RefToken)? DisposedHeap { get; set; }
}

/// <summary>
/// Bad inputs, each with the documented exception it must throw (README, "Rules for threads and
/// handles"): foreign, stale, null and other-thread handles, tokens of other heaps and types,
/// wrong kinds, indices out of range, calls on another thread's mutator and inside safe regions,
/// unknown and duplicate type names. A call that throws something else, or nothing, is a failure.
/// </summary>
internal sealed class BadInputFuzzer(Heap heap, ModelTypes types, ForeignObjects foreign, StressReport report, StressThread self, Random rnd)
{
    private readonly GcType _other = heap.Types.TryGet("FuzzOther", out var t) ? t : heap.Types.DefineObject("FuzzOther", b => b.Value<int>("a").Value<long>("b").Bytes("c", 4));

    /// <summary>A worker's mutator, and a local handle of that worker (valid or already released).</summary>
    public Func<(Mutator? Worker, GcRef Local)> Neighbour { get; init; } = () => (null, GcRef.Null);

    /// <summary>One random bad input.</summary>
    public void Step(Mutator m)
    {
        using var scope = m.OpenScope();
        GcRef node = m.Allocate(types.Node);
        GcRef refs = m.AllocateArray(types.RefArray, 4);
        GcRef bytes = m.AllocateArray(types.ByteArray, 16);
        switch (rnd.Next(22))
        {
            case 0:
                Expect<GcInvalidHandleException>("foreign handle (live heap)", () => m.Get(foreign.LiveHeapHandle, types.Value), e => e.Problem == GcHandleProblem.Foreign);
                break;
            case 1:
                Expect<GcFieldAccessException>("field token of another heap", () => m.Get(node, foreign.LiveHeapToken));
                break;
            case 2:
                if (foreign.DisposedHeap is { } d)
                {
                    Expect<GcInvalidHandleException>("handle of a disposed heap", () => m.Duplicate(d.Handle), e => e.Problem == GcHandleProblem.Foreign);
                    Expect<GcFieldAccessException>("value token of a disposed heap", () => m.Set(node, d.Token, 1));
                    Expect<GcFieldAccessException>("reference token of a disposed heap", () => m.SetRef(node, d.RefToken, node));
                }

                break;
            case 3:
            {
                GcRef stale;
                using (m.OpenScope())
                {
                    stale = m.Allocate(types.Node);
                }

                Expect<GcInvalidHandleException>("handle of a closed scope", () => m.Get(stale, types.Id), e => e.Problem == GcHandleProblem.Stale);
                break;
            }

            case 4:
            {
                var root = m.CreateRoot(node);
                GcRef r = root.Ref;
                root.Dispose();
                Expect<GcInvalidHandleException>("handle of a disposed root", () => m.GetRef(r, types.Fields[0]), e => e.Problem == GcHandleProblem.Stale);
                break;
            }

            case 5:
                Expect<GcInvalidHandleException>("null handle", () => m.Get(GcRef.Null, types.Value), e => e.Problem == GcHandleProblem.Null);
                break;
            case 6:
                Expect<GcFieldAccessException>("field of another type", () => m.Get(node, _other.Field<long>("b")));
                break;
            case 7:
                Expect<GcFieldAccessException>("element of an object", () => m.GetElement(node, 0));
                Expect<GcFieldAccessException>("field of an array", () => m.Get(refs, types.Value));
                break;
            case 8:
                Expect<GcFieldAccessException>("items of the wrong element type", () => m.GetItem<long>(bytes, 0));
                Expect<GcFieldAccessException>("reference element of a byte array", () => m.GetElement(bytes, 0));
                break;
            case 9:
                Expect<ArgumentOutOfRangeException>("element index out of range", () => m.SetElement(refs, 4 + rnd.Next(100), node));
                Expect<ArgumentOutOfRangeException>("negative element index", () => m.GetElement(refs, -1 - rnd.Next(100)));
                Expect<ArgumentOutOfRangeException>("item range out of range", () => m.ReadItems<byte>(bytes, 10, new byte[7]));
                break;
            case 10:
                Expect<ArgumentException>("array type to Allocate", () => m.Allocate(types.RefArray));
                Expect<ArgumentException>("object type to AllocateArray", () => m.AllocateArray(types.Node, 3));
                Expect<ArgumentException>("type of another heap", () => m.Allocate(foreign.LiveHeapType));
                break;
            case 11:
                Expect<KeyNotFoundException>("unknown type name", () => heap.Types[$"no such type {rnd.Next()}"]);
                Expect<ArgumentException>("type name taken", () => heap.Types.DefineObject("FuzzOther", b => b.Value<int>("x")));
                break;
            case 12:
                using (m.EnterSafeRegion())
                {
                    Expect<GcThreadStateException>("heap call inside a safe region", () => m.Allocate(types.Node));
                }

                break;
            case 13:
            {
                // A HandleScope is a ref struct: no lambda can hold it.
                const string What = "scope closed inside a safe region";
                var inner = m.OpenScope();
                self.Begin("bad input: " + What);
                using (m.EnterSafeRegion())
                {
                    try
                    {
                        inner.Dispose();
                        report.Undocumented($"bad input '{What}' threw nothing (expected GcThreadStateException)");
                    }
                    catch (GcThreadStateException e)
                    {
                        Passed(What, e);
                    }
                    catch (Exception e) when (e is not GcHeapDisposedException)
                    {
                        report.Undocumented($"bad input '{What}' threw {e.GetType().Name} (expected GcThreadStateException): {e}");
                    }
                }

                inner.Dispose();
                self.Done();
                break;
            }

            case 14:
            {
                var (worker, _) = Neighbour();
                if (worker is not null)
                {
                    Expect<GcThreadStateException>("another thread's mutator", () => worker.Allocate(types.Node));
                    if (!worker.IsDetached)
                    {
                        // A worker that detached meanwhile makes this the documented no-op of a second Dispose.
                        Expect<GcThreadStateException>("Mutator.Dispose from another thread", () => worker.Dispose(), onNoException: () => worker.IsDetached);
                    }
                }

                break;
            }

            case 15:
            {
                var (worker, local) = Neighbour();
                if (worker is not null && !local.IsNull)
                {
                    // Still in the worker's scope (OtherThread) or released meanwhile (Stale).
                    Expect<GcInvalidHandleException>("another thread's local handle", () => m.Get(local, types.Id),
                        e => e.Problem is GcHandleProblem.OtherThread or GcHandleProblem.Stale);
                }

                break;
            }

            case 16:
                Expect<GcThreadStateException>("second attach of a thread", () => heap.AttachCurrentThread());
                break;
            case 17:
                Expect<GcFieldAccessException>("forged field token", () => m.Get(node, default(GcField<long>)));
                break;
            case 18:
            {
                // A handle with a forged version: the slot of a live local handle, one version on.
                var forged = new GcRef(node.Slot, node.HeapTag, node.Version + 1);
                Expect<GcInvalidHandleException>("handle with a forged version", () => m.Get(forged, types.Id), e => e.Problem == GcHandleProblem.Stale);
                break;
            }

            case 19:
                Expect<ArgumentOutOfRangeException>("negative array length", () => m.AllocateArray(types.ByteArray, -1 - rnd.Next(1000)));
                break;
            case 20:
                Expect<ArgumentOutOfRangeException>("invalid heap options", () => new Heap(new HeapOptions { MaxHeapBytes = 1024 }));
                break;
            default:
                Expect<GcFieldAccessException>("bytes field of another type", () => m.ReadBytes(node, _other.BytesField("c"), new byte[4]));
                break;
        }
    }

    private void Expect<TException>(string what, Action call, Func<TException, bool>? check = null, Func<bool>? onNoException = null)
        where TException : Exception
    {
        self.Begin("bad input: " + what);
        try
        {
            call();
            if (onNoException?.Invoke() != true)
            {
                report.Undocumented($"bad input '{what}' threw nothing (expected {typeof(TException).Name})");
            }
        }
        catch (TException e) when (e.GetType() == typeof(TException) || typeof(TException) == typeof(ArgumentException) && e is ArgumentException and not ArgumentOutOfRangeException)
        {
            if (check is not null && !check(e))
            {
                report.Undocumented($"bad input '{what}' threw {e.GetType().Name} with the wrong detail: {e.Message}");
            }
            else
            {
                Passed(what, e);
            }
        }
        catch (GcHeapDisposedException)
        {
            throw; // the phase is disposing the heap: the caller ends the thread
        }
        catch (Exception e)
        {
            report.Undocumented($"bad input '{what}' threw {e.GetType().Name} (expected {typeof(TException).Name}): {e}");
        }

        self.Done();
    }

    private void Passed(string what, Exception e) => report.Update(r =>
    {
        StressReport.Bump(r.BadInputs, what);
        StressReport.Bump(r.ExceptionsByType, e.GetType().Name);
    });

    private void Expect<TException>(string what, Func<object?> call, Func<TException, bool>? check = null)
        where TException : Exception => Expect(what, () => { _ = call(); }, check);
}
