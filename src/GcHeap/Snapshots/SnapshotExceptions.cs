namespace GcHeap;

/// <summary>
/// A snapshot file is not one this version can load: wrong magic or version, truncated, a
/// checksum that does not match, or contents that do not parse (a reference outside the saved
/// pages, an unknown type). Nothing of the heap being built is left behind.
/// </summary>
public sealed class GcSnapshotFormatException : GcHeapException
{
    /// <summary>Creates the exception with a message.</summary>
    public GcSnapshotFormatException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with a default message.</summary>
    public GcSnapshotFormatException() : base("The snapshot file is corrupt.")
    {
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public GcSnapshotFormatException(string message, Exception? innerException) : base(message, innerException)
    {
    }
}

/// <summary>
/// Saving a snapshot failed in the native saver (an errno from userfaultfd, named in the
/// message). The heap stays usable: every write-protection was removed and every waiting thread
/// woken; the stream holds an incomplete file.
/// </summary>
public sealed class GcSnapshotFailedException : GcHeapException
{
    /// <summary>Creates the exception with a message.</summary>
    public GcSnapshotFailedException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with a default message.</summary>
    public GcSnapshotFailedException() : base("The snapshot failed.")
    {
    }

    /// <summary>Creates the exception with a message and an inner exception.</summary>
    public GcSnapshotFailedException(string message, Exception? innerException) : base(message, innerException)
    {
    }
}
