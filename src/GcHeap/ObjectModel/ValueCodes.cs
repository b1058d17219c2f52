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

    /// <summary>The type of code <paramref name="code"/>, or null for an unknown code.</summary>
    public static Type? TypeOf(byte code) => code >= 1 && code <= Allowed.Length ? Allowed[code - 1] : null;

    /// <summary>Size in bytes of a value of code <paramref name="code"/> (a valid code).</summary>
    public static int SizeOf(byte code) => TypeOf(code) switch
    {
        var t when t == typeof(byte) || t == typeof(sbyte) || t == typeof(bool) => 1,
        var t when t == typeof(short) || t == typeof(ushort) || t == typeof(char) => 2,
        var t when t == typeof(int) || t == typeof(uint) || t == typeof(float) => 4,
        _ => 8,
    };

    public static string AllowedList => string.Join(", ", Allowed.Select(t => t.Name));
}

/// <summary>The code of <typeparamref name="T"/>, a JIT-time constant.</summary>
internal static class ValueCode<T>
    where T : unmanaged
{
    public static readonly byte Code = ValueCodes.Of(typeof(T));
}
