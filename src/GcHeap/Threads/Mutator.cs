using System.Runtime.CompilerServices;
using GcHeap.Collection;
using GcHeap.Interop;
using GcHeap.Roots;
using GcHeap.Threads;

namespace GcHeap;

/// <summary>
/// A .NET thread attached to a <see cref="Heap"/>: the only way to allocate, read and write
/// heap objects. Obtain one per thread with <see cref="Heap.AttachCurrentThread"/> and dispose
/// it on that thread to detach.
/// <para>Every API call first polls for a safepoint (one load of a field of this object), so
/// a thread that keeps using the heap lets collections stop it promptly. A thread that is about
/// to block in .NET code (locks, I/O, sleeping) must do so inside <see cref="EnterSafeRegion"/>,
/// or collections wait for it.</para>
/// <para>Raw addresses never leave this class and its fast path: handles (<see cref="GcRef"/>)
/// are resolved at the start of each call, after the poll, and objects only move at safepoints.
/// The fast path (<see cref="GetContext"/>, <see cref="GcContext"/>, <see cref="GcView"/>) works
/// on addresses between two safepoints, each view checked against the thread's safepoint epoch.</para>
/// <para>Every call (except <see cref="Dispose"/>) throws <see cref="GcThreadStateException"/> on
/// another thread or inside a safe region, <see cref="GcHeapDisposedException"/> once the heap or
/// this mutator is disposed, and <see cref="GcCollectionFailedException"/> once a collection has
/// failed; a call never touches heap memory before these checks and handle validation passed.</para>
/// </summary>
public sealed unsafe partial class Mutator : IDisposable
{
    private const int VersionInitChunk = 4096;

    // Hot fields first.
    internal int PollFlag;

    /// <summary>A handshake asked of this thread: <see cref="HandshakeRequested"/> until the thread (at its next poll) or the coordinator (for a thread that is not running) has done it.</summary>
    internal int HandshakeState;

    /// <summary><see cref="HandshakeState"/>: nothing asked.</summary>
    internal const int HandshakeNone = 0;

    /// <summary><see cref="HandshakeState"/>: asked, not started.</summary>
    internal const int HandshakeRequested = 1;

    /// <summary><see cref="HandshakeState"/>: being done, by the thread or for it.</summary>
    internal const int HandshakeRunning = 2;

    /// <summary>
    /// Advances whenever this thread passes a point where objects may move (every handle-API call,
    /// a buffer refill, parking, a safe region, detaching): a <see cref="GcView"/> is valid while it
    /// equals the epoch the view was made in. Written only by the owning thread.
    /// </summary>
    internal ulong ViewEpoch = 1;
    private readonly int _threadId;
    private readonly nint* _slots;
    private readonly ulong* _versions;
    private readonly uint _slotCapacity;
    internal readonly uint HeapTag;
    internal readonly ulong FieldKeyBase;
    private readonly int _segmentShift;
    private readonly int _segment;
    private readonly int _segmentBase;
    private readonly int _segmentEnd;
    private int _top;
    private int _initLimit;
    private readonly bool _strictViews;

    /// <summary>The registry's pinned kind and element-code tables (indexed by type id &amp; (MaxTypes - 1)).</summary>
    internal readonly byte* KindTable;
    internal readonly byte* ElementCodeTable;

    private readonly Heap _heap;
    private readonly HandleTable _handles;
    internal readonly TypeRegistry _types;
    // Per open scope: the handle stack's top when it opened, and which opening it is (a copy of a
    // closed scope must not close a later one opened at the same depth).
    private (int Mark, long Id)[] _scopes = new (int, long)[16];
    private long _scopesOpened;
    private int _scopeDepth;
    private int _detached;

    internal Mutator(Heap heap, string name)
    {
        _heap = heap;
        _handles = heap.Handles;
        _types = heap.Types;
        Name = name;
        _threadId = Environment.CurrentManagedThreadId;
        OwnerThread = Thread.CurrentThread;
        OsThreadId = NativeMethods.ThreadSelfId(out int tid) == 0 ? tid : 0;
        HeapTag = heap.Tag;
        FieldKeyBase = GcType.FieldKey(heap.Tag, 0);
        _slots = _handles.Slots;
        _versions = _handles.Versions;
        _slotCapacity = _handles.Capacity;
        _segmentShift = _handles.SegmentShift;
        _segment = _handles.AcquireSegment();
        _segmentBase = _segment << _segmentShift;
        _segmentEnd = _segmentBase + _handles.SegmentSize;
        _top = _segmentBase;
        _initLimit = _segmentBase;
        _strictViews = heap.Options.StrictViews;
        KindTable = _types.KindTable;
        ElementCodeTable = _types.ElementCodeTable;
        InitSatb();
    }

    /// <summary>The name given at attach time (the thread's name by default).</summary>
    public string Name { get; }

    /// <summary>The kernel's id of the owning thread (gettid), to line pauses up with scheduler traces; 0 if unknown.</summary>
    internal int OsThreadId { get; }

    /// <summary>The heap this mutator is attached to.</summary>
    public Heap Heap => _heap;

    /// <summary>Local handles currently alive on this thread.</summary>
    public int LocalHandleCount => _top - _segmentBase;

    private int _state;

    /// <summary>Written under the safepoint lock; read without it by a spinning stopper.</summary>
    internal MutatorState State
    {
        get => (MutatorState)Volatile.Read(ref _state);
        set => Volatile.Write(ref _state, (int)value);
    }

    internal Thread OwnerThread { get; }

    internal bool IsDetached => Volatile.Read(ref _detached) != 0;

    internal bool IsCurrentThread => Environment.CurrentManagedThreadId == _threadId;

    /// <summary>Local handle slots in use: [segment base, top). Read by the collector while the world is stopped.</summary>
    internal (int First, int End) LocalRange => (_segmentBase, _top);

    /// <summary>Polls for a safepoint: parks here while a collection has the world stopped.</summary>
    /// <exception cref="GcThreadStateException">Called on another thread, or inside a safe region.</exception>
    /// <exception cref="GcHeapDisposedException">The heap or this mutator is disposed.</exception>
    /// <exception cref="GcCollectionFailedException">A collection failed; the heap refuses further use.</exception>
    public void Safepoint() => Enter();

    /// <summary>
    /// Declares that this thread will not touch the heap until the returned region is disposed,
    /// so collections can run without waiting for it. Use it around anything that may block:
    /// locks, I/O, <see cref="Thread.Sleep(int)"/>, waiting on tasks. Heap calls inside the
    /// region throw <see cref="GcThreadStateException"/>, and so does closing a
    /// <see cref="HandleScope"/> (or <see cref="HandleScope.Escape(GcRef)"/>) there. Handles stay valid across it.
    /// </summary>
    /// <exception cref="GcThreadStateException">Called on another thread, or already inside a safe region.</exception>
    /// <exception cref="GcHeapDisposedException">The heap or this mutator is disposed.</exception>
    public SafeRegion EnterSafeRegion()
    {
        Enter();
        _heap.Safepoints.EnterSafe(this);
        return new SafeRegion(this);
    }

    internal void ExitSafeRegion()
    {
        CheckThread();
        if (State == MutatorState.Safe)
        {
            _heap.Safepoints.ExitSafe(this);
        }
    }

    /// <summary>
    /// The fast path: a <see cref="GcContext"/> for this thread, whose allocations and handle
    /// resolutions return <see cref="GcView"/>s (plain loads and stores, no handle, no per-call
    /// thread check). A safepoint, like every method of this class.
    /// </summary>
    /// <exception cref="GcThreadStateException">Called on another thread, or inside a safe region.</exception>
    /// <exception cref="GcHeapDisposedException">The heap or this mutator is disposed.</exception>
    /// <exception cref="GcCollectionFailedException">A collection failed; the heap refuses further use.</exception>
    public GcContext GetContext()
    {
        Enter();
        return new GcContext(this);
    }

    /// <summary>Opens a handle scope: local handles created until it is disposed are freed with it.</summary>
    /// <exception cref="GcThreadStateException">Called on another thread, or inside a safe region.</exception>
    /// <exception cref="GcHeapDisposedException">The heap or this mutator is disposed.</exception>
    public HandleScope OpenScope()
    {
        Enter();
        if (_scopeDepth == _scopes.Length)
        {
            Array.Resize(ref _scopes, _scopes.Length * 2);
        }

        long id = ++_scopesOpened;
        _scopes[_scopeDepth++] = (_top, id);
        return new HandleScope(this, _scopeDepth, id);
    }

    /// <summary>False when the scope opened as <paramref name="id"/> at <paramref name="depth"/> is closed already (with an outer one, or a later scope holds that depth now).</summary>
    private bool IsOpen(int depth, long id) => depth <= _scopeDepth && _scopes[depth - 1].Id == id;

    internal GcRef CloseScope(int depth, long id, GcRef result)
    {
        CheckThread();
        if (!IsOpen(depth, id))
        {
            return GcRef.Null; // already closed, possibly with an outer scope
        }

        // Detached, disposed and safe-region mutators all have their poll flag set: one load
        // keeps the common case as cheap as before these checks.
        if (Volatile.Read(ref PollFlag) != 0 && !MayCloseScope())
        {
            return GcRef.Null;
        }

        nint keep = result.IsNull ? 0 : ResolveNoPoll(result);
        int mark = _scopes[depth - 1].Mark;
        _handles.ReleaseRange(mark, _top);
        _top = mark;
        _scopeDepth = depth - 1;
        return keep == 0 ? GcRef.Null : NewLocal(keep);
    }

    internal void CloseScope(int depth, long id, Span<GcRef> values)
    {
        CheckThread();
        if (!IsOpen(depth, id) || (Volatile.Read(ref PollFlag) != 0 && !MayCloseScope()))
        {
            values.Clear();
            return;
        }

        Span<nint> keep = values.Length <= 16 ? stackalloc nint[values.Length] : new nint[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            keep[i] = values[i].IsNull ? 0 : ResolveNoPoll(values[i]); // all validated before anything is released
        }

        int mark = _scopes[depth - 1].Mark;
        _handles.ReleaseRange(mark, _top);
        _top = mark;
        _scopeDepth = depth - 1;
        for (int i = 0; i < values.Length; i++)
        {
            values[i] = keep[i] == 0 ? GcRef.Null : NewLocal(keep[i]);
        }
    }

    /// <summary>
    /// The rare cases of closing a scope: false when the mutator is detached or the heap gone (its
    /// memory may be unmapped, so touch nothing; while this thread runs, disposal cannot complete).
    /// </summary>
    /// <exception cref="GcThreadStateException">Inside a safe region, where the collector may be reading or rewriting these slots right now.</exception>
    private bool MayCloseScope()
    {
        if (IsDetached || _heap.Safepoints.Terminated)
        {
            return false;
        }

        if (State == MutatorState.Safe)
        {
            throw new GcThreadStateException(
                $"Mutator '{Name}' is inside a safe region: a HandleScope cannot be closed (or Escape called) there; leave the region first.");
        }

        return true;
    }

    /// <summary>Creates a global handle to <paramref name="obj"/>, valid on every mutator until disposed.</summary>
    /// <exception cref="GcInvalidHandleException"><paramref name="obj"/> is null or invalid.</exception>
    /// <exception cref="GcHandleLimitException">Every global root slot is in use (see <see cref="HeapOptions.HandlesPerSegmentLog2"/>).</exception>
    public GcRoot CreateRoot(GcRef obj)
    {
        Enter();
        nint a = ResolveNoPoll(obj);
        return new GcRoot(_handles, _handles.NewGlobal(a));
    }

    /// <summary>A new local handle to the object <paramref name="obj"/> refers to (for example to keep a root's object in this scope).</summary>
    /// <exception cref="GcInvalidHandleException"><paramref name="obj"/> is released, foreign or another thread's local handle.</exception>
    /// <exception cref="GcHandleLimitException">The thread holds the most local handles it may (open a <see cref="HandleScope"/>).</exception>
    public GcRef Duplicate(GcRef obj)
    {
        Enter();
        return obj.IsNull ? GcRef.Null : NewLocal(ResolveNoPoll(obj));
    }

    /// <summary>True when both handles refer to the same object (or both are null).</summary>
    /// <exception cref="GcInvalidHandleException">A non-null handle is released, foreign or another thread's local handle.</exception>
    public bool IsSameObject(GcRef a, GcRef b)
    {
        Enter();
        nint x = a.IsNull ? 0 : ResolveNoPoll(a);
        nint y = b.IsNull ? 0 : ResolveNoPoll(b);
        return x == y;
    }

    /// <summary>The type of the object <paramref name="obj"/> refers to.</summary>
    /// <exception cref="GcInvalidHandleException"><paramref name="obj"/> is null, released, foreign or another thread's local handle.</exception>
    public GcType TypeOf(GcRef obj)
    {
        Enter();
        return _types.ById(ObjectModel.ObjectLayout.TypeIdOf(ResolveObject(obj)))!;
    }

    /// <summary>
    /// Detaches the thread: its local handles become invalid. Call on the attached thread (also
    /// allowed inside a safe region and after the heap was disposed); a second call does nothing.
    /// A thread that ends without detaching is detached by the next collection.
    /// </summary>
    /// <exception cref="GcThreadStateException">Called on another thread: only the owner knows when it no longer uses its handles (it may be in a safe region, about to come back).</exception>
    public void Dispose()
    {
        if (IsDetached)
        {
            return;
        }

        if (!IsCurrentThread)
        {
            throw new GcThreadStateException(
                $"Mutator '{Name}' can only be disposed by its own thread; another thread detaching it would pull its handles and buffers from under it.");
        }

        _heap.Detach(this);
    }

    /// <summary>Called by the heap with the world consistent: gives back the TLAB, SATB log and handle segment.</summary>
    internal void DetachCore(bool releaseHandles)
    {
        Volatile.Write(ref _detached, 1);
        ViewEpoch++;
        RetireAllocationBuffer();
        ReleaseSatb();
        if (releaseHandles)
        {
            _handles.ReleaseSegment(_segment, _top - _segmentBase);
        }

        _top = _segmentBase;
        _scopeDepth = 0;
    }

    /// <summary>The raw address behind a handle; for tests and diagnostics only (invalid after the next safepoint).</summary>
    internal nint AddressOf(GcRef obj)
    {
        Enter();
        return obj.IsNull ? 0 : ResolveNoPoll(obj);
    }

    // ---------------------------------------------------------------- handle fast paths

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private void Enter()
    {
        if (Volatile.Read(ref PollFlag) != 0 || Environment.CurrentManagedThreadId != _threadId)
        {
            SlowEnter();
        }

        ViewEpoch++; // every handle-API call is a safepoint: views made before it are dead
        _reservedLeft = 0; // and ends a GcContext.Reserve (it may allocate from the same buffer)
    }

    /// <summary>
    /// The fast path's check that the thread may touch the heap, without parking (so without
    /// invalidating views): throws inside a safe region, after detaching, disposal or a failed
    /// collection. A pending stop simply waits for the thread's next safepoint.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void CheckUsableFromContext()
    {
        if (Volatile.Read(ref PollFlag) != 0)
        {
            CheckUsableSlow();
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private void CheckUsableSlow()
    {
        if (IsDetached || _heap.IsFaulted || _heap.Safepoints.Terminated || State == MutatorState.Safe)
        {
            SlowEnter(); // throws the documented exception for each case
        }
    }

    /// <summary>The fast path's poll (<see cref="GcContext"/>): no thread check, the context is the owner's.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void PollFromContext()
    {
        if (Volatile.Read(ref PollFlag) != 0)
        {
            SlowEnter();
            ViewEpoch++;
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal nint ResolveNoPoll(GcRef r)
    {
        uint slot = (uint)r.Slot;
        if (slot >= _slotCapacity || r.HeapTag != HeapTag || _versions[slot] != r.Version) // null: tag 0
        {
            throw InvalidHandle(r);
        }

        int seg = (int)(slot >> _segmentShift);
        if (seg != 0 && seg != _segment)
        {
            throw InvalidHandle(r);
        }

        return _slots[slot];
    }

    /// <summary>
    /// Like <see cref="ResolveNoPoll"/>, for an access that needs an object: a handle whose slot
    /// was re-pointed at null (<see cref="GcContext.Set"/>, <see cref="SetHandle"/>) throws the
    /// documented exception instead of dereferencing address 0.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal nint ResolveObject(GcRef r)
    {
        nint a = ResolveNoPoll(r);
        if (a == 0)
        {
            throw NullSlot(r);
        }

        return a;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static GcInvalidHandleException NullSlot(GcRef r) =>
        new($"{r} holds null (it was re-pointed at null) where an object is required.") { Problem = GcHandleProblem.Null };

    /// <summary>
    /// Re-points the handle <paramref name="handle"/> (a local handle of this thread, or a global
    /// root) at the object <paramref name="value"/> refers to; <see cref="GcRef.Null"/> makes it a
    /// null-valued slot. The handle-API twin of <see cref="GcContext.Set"/>: a loop keeps its state
    /// in a fixed set of handles (a tail-call loop's expression and environment, a list cursor)
    /// re-pointed each iteration, so it never creates more handles however long it runs. A
    /// safepoint.
    /// </summary>
    /// <exception cref="GcInvalidHandleException"><paramref name="handle"/> is null, released, foreign or another thread's local handle; or <paramref name="value"/> is invalid.</exception>
    /// <exception cref="GcThreadStateException">Not the owning thread, or inside a safe region.</exception>
    /// <exception cref="GcHeapDisposedException">The heap or the mutator is disposed.</exception>
    public void SetHandle(GcRef handle, GcRef value)
    {
        Enter();
        nint a = value.IsNull ? 0 : ResolveNoPoll(value);
        SetLocal(handle, a);
    }

    /// <summary>
    /// A new local handle holding <paramref name="value"/>'s object, or null: unlike
    /// <see cref="Duplicate"/>, always a new slot (for null too), to be re-pointed with
    /// <see cref="SetHandle"/> or <see cref="GcContext.Set"/>. A safepoint.
    /// </summary>
    /// <exception cref="GcInvalidHandleException"><paramref name="value"/> is released, foreign or another thread's local handle.</exception>
    /// <exception cref="GcHandleLimitException">The thread holds the most local handles it may.</exception>
    /// <exception cref="GcThreadStateException">Not the owning thread, or inside a safe region.</exception>
    /// <exception cref="GcHeapDisposedException">The heap or the mutator is disposed.</exception>
    public GcRef NewHandle(GcRef value)
    {
        Enter();
        return NewLocal(value.IsNull ? 0 : ResolveNoPoll(value));
    }

    /// <summary>Re-points one of this thread's local handles (not a global root: those are shared and re-pointed under the handle table's rules).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal void SetLocal(GcRef r, nint address)
    {
        uint slot = (uint)r.Slot;
        if (slot >= _slotCapacity || r.HeapTag != HeapTag || _versions[slot] != r.Version || (int)(slot >> _segmentShift) != _segment)
        {
            SetOther(r, address);
            return;
        }

        _slots[slot] = address;
    }

    /// <summary>A global root (re-pointed under the global lock) or an invalid handle.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private void SetOther(GcRef r, nint address)
    {
        if (r.IsNull || (r.Slot >> _segmentShift) != 0 || !_handles.SetGlobal(r, address))
        {
            throw InvalidHandle(r);
        }
    }

    /// <summary>Re-points a global root at the object <paramref name="value"/> refers to (see <see cref="GcRoot.Set"/>).</summary>
    internal void SetRoot(GcRef root, GcRef value)
    {
        Enter();
        nint a = value.IsNull ? 0 : ResolveNoPoll(value);
        SetOther(root, a);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal GcRef NewLocal(nint address)
    {
        int i = _top;
        if (i == _initLimit)
        {
            i = GrowLocals();
        }

        _top = i + 1;
        _slots[i] = address;
        return new GcRef(i, HeapTag, _versions[i]);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private int GrowLocals()
    {
        if (_initLimit >= _segmentEnd)
        {
            throw new GcHandleLimitException(
                $"Mutator '{Name}' has {_handles.SegmentSize} local handles alive, the most a thread may hold, in {_scopeDepth} open handle scope(s). " +
                "Open a HandleScope (Mutator.OpenScope) around each loop iteration or recursion level that creates handles, re-point one handle as a cursor " +
                "(GcContext.Set) instead of creating one per step, keep long-lived values in a GcRoot, or raise HeapOptions.HandlesPerSegmentLog2.")
            {
                HandlesAlive = _handles.SegmentSize,
                Limit = _handles.SegmentSize,
                OpenScopes = _scopeDepth,
            };
        }

        int n = Math.Min(VersionInitChunk, _segmentEnd - _initLimit);
        _handles.InitVersions(_initLimit, n);
        _initLimit += n;
        return _top;
    }

    [MethodImpl(MethodImplOptions.NoInlining | CollectorCode.OptimizeOnce)]
    private void SlowEnter()
    {
        CheckThread();
        while (true)
        {
            if (IsDetached)
            {
                throw new GcHeapDisposedException($"mutator '{Name}'");
            }

            if (_heap.IsFaulted || _heap.Safepoints.Terminated)
            {
                _heap.Safepoints.MarkDead(this); // it will never touch heap memory again
                _heap.ThrowIfFaulted();
                throw new GcHeapDisposedException("heap");
            }
            if (State == MutatorState.Safe)
            {
                throw new GcThreadStateException($"Mutator '{Name}' is inside a safe region; leave it (dispose the SafeRegion) before using the heap.");
            }

            if (Volatile.Read(ref HandshakeState) == HandshakeRequested)
            {
                // A handshake: this thread does the collector's per-thread operation itself, at
                // its own poll, and goes on; nobody else is stopped meanwhile.
                _heap.Safepoints.AnswerHandshake(this);
            }

            if (Volatile.Read(ref PollFlag) == 0)
            {
                return;
            }

            _heap.Safepoints.Park(this);
            if (Volatile.Read(ref PollFlag) == 0)
            {
                return;
            }
        }
    }

    private void CheckThread()
    {
        if (Environment.CurrentManagedThreadId != _threadId)
        {
            throw new GcThreadStateException(
                $"Mutator '{Name}' belongs to another thread. Each thread must attach itself with Heap.AttachCurrentThread and use its own Mutator.");
        }
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private GcInvalidHandleException InvalidHandle(GcRef r)
    {
        var problem = _handles.Diagnose(r, _segment);
        string what = problem switch
        {
            GcHandleProblem.Null => "A null handle was used where an object is required",
            GcHandleProblem.Foreign => $"{r} was not issued by this heap",
            GcHandleProblem.Stale => $"{r} has been released (its HandleScope was closed or its GcRoot disposed)",
            GcHandleProblem.OtherThread => $"{r} is a local handle of another mutator thread; share objects between threads through a GcRoot",
            _ => $"{r} is not valid here",
        };
        return new GcInvalidHandleException(what + ".") { Problem = problem };
    }
}

/// <summary>A region in which the thread does not touch the heap; see <see cref="Mutator.EnterSafeRegion"/>.</summary>
public readonly struct SafeRegion : IDisposable, IEquatable<SafeRegion>
{
    private readonly Mutator? _mutator;

    internal SafeRegion(Mutator mutator) => _mutator = mutator;

    /// <summary>Leaves the region, waiting first if a collection has the world stopped. Does nothing more once the heap is disposed.</summary>
    /// <exception cref="GcThreadStateException">Called on another thread than the region's.</exception>
    public void Dispose() => _mutator?.ExitSafeRegion();

    /// <inheritdoc />
    public bool Equals(SafeRegion other) => ReferenceEquals(_mutator, other._mutator);

    /// <inheritdoc />
    public override bool Equals(object? obj) => obj is SafeRegion r && Equals(r);

    /// <inheritdoc />
    public override int GetHashCode() => _mutator?.GetHashCode() ?? 0;

    /// <summary>Equality.</summary>
    public static bool operator ==(SafeRegion left, SafeRegion right) => left.Equals(right);

    /// <summary>Inequality.</summary>
    public static bool operator !=(SafeRegion left, SafeRegion right) => !left.Equals(right);
}
