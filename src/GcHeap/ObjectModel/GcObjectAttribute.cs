namespace GcHeap;

/// <summary>
/// Declares a heap object type by its C# shape. On a <c>partial struct</c> whose instance fields
/// and settable auto-properties (in declaration order) are <see cref="GcRef"/> (reference fields), byte, sbyte, short, ushort, int, uint, long,
/// ulong, float, double, bool or char (value fields), or <c>byte[]</c> marked with
/// <see cref="GcBytesAttribute"/> (raw bytes), the GcHeap source generator (shipped in the
/// package) adds:
/// <list type="bullet">
/// <item><c>static Layout Register(Heap heap)</c>: defines the type in the heap (or returns the
/// layout of an existing definition with the same fields), cached per heap;</item>
/// <item>a nested <c>Layout</c> class: the <see cref="GcType"/>, one field token per field, and
/// typed accessors for the handle API (<c>GetX(m, obj)</c>, <c>SetX(m, obj, value)</c>,
/// <c>Allocate(m)</c>, <c>Allocate(m, in shape)</c>, <c>Read(m, obj)</c>, <c>Write(m, obj, in shape)</c>,
/// <c>Is(m, obj)</c>) and for the fast path (<c>GetX(view)</c>, <c>SetX(view, value)</c>,
/// <c>Allocate(context)</c>).</item>
/// </list>
/// The struct itself is a plain value: a snapshot of one object's fields (reference fields hold
/// handles). Without the generator, the same is written by hand with
/// <see cref="TypeRegistry.DefineObject"/> and field tokens (README, "Writing a runtime on GcHeap").
/// </summary>
[AttributeUsage(AttributeTargets.Struct, Inherited = false)]
public sealed class GcObjectAttribute : Attribute
{
    /// <summary>The type's name in the heap is the struct's name.</summary>
    public GcObjectAttribute()
    {
    }

    /// <summary>The type's name in the heap is <paramref name="name"/>.</summary>
    /// <param name="name">The name to register the type under.</param>
    public GcObjectAttribute(string name) => Name = name;

    /// <summary>The name the type is registered under (null: the struct's name).</summary>
    public string? Name { get; }
}

/// <summary>Marks a <c>byte[]</c> field or property of a <see cref="GcObjectAttribute"/> shape as a raw bytes field of <see cref="Length"/> bytes.</summary>
[AttributeUsage(AttributeTargets.Field | AttributeTargets.Property, Inherited = false)]
public sealed class GcBytesAttribute : Attribute
{
    /// <summary>A bytes field of <paramref name="length"/> bytes.</summary>
    /// <param name="length">The field's length in bytes (at least 1).</param>
    public GcBytesAttribute(int length) => Length = length;

    /// <summary>The field's length in bytes.</summary>
    public int Length { get; }
}
