namespace GcHeap;

/// <summary>Base class of the exceptions GcHeap throws for misuse and for heap conditions.</summary>
public class GcHeapException : Exception
{
    /// <summary>Creates the exception with a message.</summary>
    public GcHeapException(string message) : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the exception that caused it.</summary>
    public GcHeapException(string message, Exception? innerException) : base(message, innerException)
    {
    }

    /// <summary>Creates the exception with a default message.</summary>
    public GcHeapException() : base("GcHeap error.")
    {
    }
}
