namespace GcHeap;

/// <summary>
/// The heap (or a mutator) was used after <see cref="IDisposable.Dispose"/>, or was disposed while
/// the call waited (a queued <see cref="Heap.Verify"/>, a <see cref="Heap.Collect"/>).
/// </summary>
public sealed class GcHeapDisposedException : ObjectDisposedException
{
    /// <summary>Creates the exception for the named object.</summary>
    public GcHeapDisposedException(string objectName) : base(objectName, $"The {objectName} has been disposed.")
    {
    }

    /// <summary>Creates the exception with a default object name.</summary>
    public GcHeapDisposedException() : this("GcHeap")
    {
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public GcHeapDisposedException(string message, Exception? innerException) : base(message, innerException)
    {
    }
}

/// <summary>
/// A <see cref="GcRef"/> that is not valid here: default, released (its handle scope was
/// closed or its root disposed), belonging to another thread's handle scope, or to another heap.
/// </summary>
public sealed class GcInvalidHandleException : GcHeapException
{
    /// <summary>Creates the exception with a message.</summary>
    public GcInvalidHandleException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with a default message.</summary>
    public GcInvalidHandleException() : base("Invalid handle.")
    {
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public GcInvalidHandleException(string message, Exception? innerException) : base(message, innerException)
    {
    }

    /// <summary>Why the handle was rejected.</summary>
    public GcHandleProblem Problem { get; init; }
}

/// <summary>
/// A thread holds the most local handles it may, or every global root slot is in use
/// (<see cref="HeapOptions.HandlesPerSegmentLog2"/> sets both). The message names what is alive.
/// Usual cure for locals: a <see cref="HandleScope"/> around the loop or recursion level, or a
/// handle re-pointed as a cursor (<see cref="GcContext.Set"/>, <see cref="GcRoot.Set"/>) instead
/// of a new one per step.
/// </summary>
public sealed class GcHandleLimitException : GcHeapException
{
    /// <summary>Creates the exception with a message.</summary>
    public GcHandleLimitException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with a default message.</summary>
    public GcHandleLimitException() : base("Handle limit reached.")
    {
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public GcHandleLimitException(string message, Exception? innerException) : base(message, innerException)
    {
    }

    /// <summary>Handles alive in the table that is full (this thread's locals, or the heap's globals).</summary>
    public int HandlesAlive { get; init; }

    /// <summary>The limit (2^<see cref="HeapOptions.HandlesPerSegmentLog2"/>, less the reserved slot for globals).</summary>
    public int Limit { get; init; }

    /// <summary>For local handles: how many handle scopes the thread has open (0 for globals).</summary>
    public int OpenScopes { get; init; }

    /// <summary>True when the global root slots ran out, false for a thread's local handles.</summary>
    public bool Global { get; init; }
}

/// <summary>Why a handle was rejected.</summary>
public enum GcHandleProblem
{
    /// <summary>Not classified.</summary>
    Unknown = 0,

    /// <summary><c>default(GcRef)</c> / <see cref="GcRef.Null"/> used where an object is needed.</summary>
    Null,

    /// <summary>The handle's scope was closed or its root disposed.</summary>
    Stale,

    /// <summary>The handle was made by another heap.</summary>
    Foreign,

    /// <summary>The handle is a local handle of another mutator thread.</summary>
    OtherThread,

    /// <summary>
    /// A <see cref="GcView"/> was used after its thread passed a safepoint (a handle-API call,
    /// <see cref="GcContext.Safepoint"/>, a safe region, an allocation that refilled the thread's
    /// buffer or waited for a collection): objects may have moved since it was made.
    /// </summary>
    ViewExpired,
}

/// <summary>A field or element was accessed with the wrong kind or object type, or with a field token of another heap.</summary>
public sealed class GcFieldAccessException : GcHeapException
{
    /// <summary>Creates the exception with a message.</summary>
    public GcFieldAccessException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with a default message.</summary>
    public GcFieldAccessException() : base("Invalid field access.")
    {
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public GcFieldAccessException(string message, Exception? innerException) : base(message, innerException)
    {
    }
}

/// <summary>
/// An allocation did not fit even after a full collection. The heap stays usable: release
/// handles or roots and allocate again.
/// </summary>
public sealed class GcHeapExhaustedException : GcHeapException
{
    /// <summary>Creates the exception with a message.</summary>
    public GcHeapExhaustedException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with a default message.</summary>
    public GcHeapExhaustedException() : base("The heap is exhausted.")
    {
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public GcHeapExhaustedException(string message, Exception? innerException) : base(message, innerException)
    {
    }

    /// <summary>Bytes the failed allocation asked for.</summary>
    public long RequestedBytes { get; init; }

    /// <summary>The heap's limit (<see cref="HeapOptions.MaxHeapBytes"/>).</summary>
    public long HeapLimitBytes { get; init; }

    /// <summary>Bytes the last collection found live.</summary>
    public long LiveBytes { get; init; }
}

/// <summary>
/// A heap operation was called on the wrong thread or in the wrong state: a mutator used (or
/// disposed) by another thread than its own; a heap call, or closing a <see cref="HandleScope"/>,
/// inside a safe region; a second attach of a thread, or more than 255 attached threads;
/// <see cref="Heap.Collect"/>, <see cref="Heap.Verify"/> or an allocation that needs a collection
/// on the collector thread (in a <see cref="Heap.CollectionCompleted"/> handler).
/// </summary>
public sealed class GcThreadStateException : GcHeapException
{
    /// <summary>Creates the exception with a message.</summary>
    public GcThreadStateException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with a default message.</summary>
    public GcThreadStateException() : base("The current thread may not use this mutator now.")
    {
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public GcThreadStateException(string message, Exception? innerException) : base(message, innerException)
    {
    }
}

/// <summary>
/// A collection failed: a kernel call answered something the collector cannot handle, or the
/// verifier found the heap inconsistent. The heap refuses further use afterwards.
/// </summary>
public sealed class GcCollectionFailedException : GcHeapException
{
    /// <summary>Creates the exception with a message.</summary>
    public GcCollectionFailedException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with a default message.</summary>
    public GcCollectionFailedException() : base("The collection failed.")
    {
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public GcCollectionFailedException(string message, Exception? innerException) : base(message, innerException)
    {
    }
}

/// <summary>The requested backend cannot run here and <see cref="HeapOptions.RequireBackend"/> forbids falling back.</summary>
public sealed class GcBackendUnavailableException : GcHeapException
{
    /// <summary>Creates the exception with a message.</summary>
    public GcBackendUnavailableException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with a default message.</summary>
    public GcBackendUnavailableException() : base("The requested backend is unavailable.")
    {
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public GcBackendUnavailableException(string message, Exception? innerException) : base(message, innerException)
    {
    }
}

/// <summary>A native call failed with an errno the caller did not expect.</summary>
public sealed class GcNativeException : GcHeapException
{
    /// <summary>Creates the exception for a failed operation and its (negative or positive) errno.</summary>
    public GcNativeException(string operation, int errno)
        : base($"{operation} failed: {Interop.Errno.Describe(errno)}.")
    {
        Operation = operation;
        Errno = Math.Abs(errno);
    }

    /// <summary>Creates the exception with a message.</summary>
    public GcNativeException(string message) : base(message)
    {
        Operation = string.Empty;
    }

    /// <summary>Creates the exception with a default message.</summary>
    public GcNativeException() : this("Native call failed.")
    {
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public GcNativeException(string message, Exception? innerException) : base(message, innerException)
    {
        Operation = string.Empty;
    }

    /// <summary>The operation that failed.</summary>
    public string Operation { get; }

    /// <summary>The positive errno value.</summary>
    public int Errno { get; }
}

/// <summary>
/// A stop-the-world handshake waited longer than <see cref="HeapOptions.SafepointTimeout"/> for
/// the threads in <see cref="Awaited"/>, which kept running without a heap call (blocked or busy
/// in .NET code outside <see cref="Mutator.EnterSafeRegion"/>, or suspended by .NET's own GC).
/// Thrown only where nothing had moved yet: the collection (or verification) was abandoned, the
/// world resumed, and the heap stays usable; call again, or put the blocking code in a safe region.
/// </summary>
public sealed class GcSafepointTimeoutException : GcHeapException
{
    /// <summary>Creates the exception with a message.</summary>
    public GcSafepointTimeoutException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with a default message.</summary>
    public GcSafepointTimeoutException() : base("A stop-the-world handshake timed out.")
    {
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public GcSafepointTimeoutException(string message, Exception? innerException) : base(message, innerException)
    {
    }

    /// <summary>The threads the stop was still waiting for when it gave up.</summary>
    public IReadOnlyList<MutatorStatus> Awaited { get; init; } = [];

    /// <summary>How long the stop waited.</summary>
    public TimeSpan Waited { get; init; }
}
