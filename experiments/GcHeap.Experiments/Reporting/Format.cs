using System.Globalization;

namespace GcHeap.Experiments.Reporting;

/// <summary>Number formatting for tables: invariant culture, "-" for not measured.</summary>
internal static class Format
{
    public static string Ms(double? v) => v is double d ? d.ToString(d < 10 ? "F3" : "F1", CultureInfo.InvariantCulture) : "-";

    public static string Us(double? v) => v is double d ? d.ToString("F1", CultureInfo.InvariantCulture) : "-";

    public static string Num(long? v) => v is long n ? n.ToString("N0", CultureInfo.InvariantCulture) : "-";

    public static string MiB(long? bytes) => bytes is long b ? (b / 1048576.0).ToString("F1", CultureInfo.InvariantCulture) : "-";

    /// <summary>
    /// A ratio as "0.97x", with three decimals below 0.1 ("0.034x"), below 0.01 as "1/N" (e.g. a flip
    /// pause against a stop-the-world pause: "1/24800"), so that no real ratio reads "0.00x"; a true
    /// zero is "0x".
    /// </summary>
    public static string Ratio(double? v) => v switch
    {
        double d when !double.IsFinite(d) => "-",
        0.0 => "0x",
        double d when d > 0 && d < 0.01 => "1/" + (1 / d).ToString(1 / d >= 100 ? "F0" : "F1", CultureInfo.InvariantCulture),
        double d when d < 0 => d.ToString("G3", CultureInfo.InvariantCulture) + "x",
        double d when d < 0.1 => d.ToString("F3", CultureInfo.InvariantCulture) + "x",
        double d => d.ToString("F2", CultureInfo.InvariantCulture) + "x",
        _ => "-",
    };

    public static string Fixed(double? v, int digits) => v is double d && double.IsFinite(d) ? d.ToString("F" + digits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture) : "-";

    /// <summary>A fraction as a percentage with one decimal, or "-".</summary>
    public static string Percent(double? v) => v is double d && double.IsFinite(d) ? (d * 100).ToString("F1", CultureInfo.InvariantCulture) + "%" : "-";

    public static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
