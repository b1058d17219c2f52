namespace GcHeap.ObjectModel;

/// <summary>Small integer codes for the unmanaged types fields and data arrays may hold.</summary>
internal static class ValueCodes
{
    public const byte None = 0;

    private static readonly Type[] Allowed =
    [
        typeof(byte), typeof(sbyte), typeof(short), typeof(ushort), typeof(int), typeof(uint),
        typeof(long), typeof(ulong), typeof(float), typeof(double), typeof(bool), typeof(char),
    ];

    /// <summary>Code of <paramref name="t"/> (1-based), or 0 when it is not allowed.</summary>
    public static byte Of(Type t)
    {
        int i = Array.IndexOf(Allowed, t);
        return (byte)(i + 1);
    }

    public static string AllowedList => string.Join(", ", Allowed.Select(t => t.Name));
}

/// <summary>The code of <typeparamref name="T"/>, a JIT-time constant.</summary>
internal static class ValueCode<T>
    where T : unmanaged
{
    public static readonly byte Code = ValueCodes.Of(typeof(T));
}
