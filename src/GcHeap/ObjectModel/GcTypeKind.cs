namespace GcHeap;

/// <summary>What shape a <see cref="GcType"/>'s instances have.</summary>
public enum GcTypeKind
{
    /// <summary>A fixed layout: reference fields, then data fields.</summary>
    Object = 2,

    /// <summary>An array of references.</summary>
    ReferenceArray = 3,

    /// <summary>An array of unmanaged values (bytes, ints, doubles, ...), with no references.</summary>
    DataArray = 4,
}

/// <summary>What a field of a <see cref="GcType"/> holds.</summary>
public enum GcFieldKind
{
    /// <summary>A reference to another heap object (or null).</summary>
    Reference,

    /// <summary>An unmanaged value (int, long, double, bool, ...).</summary>
    Value,

    /// <summary>A fixed number of raw bytes.</summary>
    Bytes,
}
