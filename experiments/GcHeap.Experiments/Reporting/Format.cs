using System.Globalization;

namespace GcHeap.Experiments.Reporting;

/// <summary>Number formatting for tables: invariant culture, "-" for not measured.</summary>
internal static class Format
{
    public static string Ms(double? v) => v is double d ? d.ToString(d < 10 ? "F3" : "F1", CultureInfo.InvariantCulture) : "-";

    public static string Us(double? v) => v is double d ? d.ToString("F1", CultureInfo.InvariantCulture) : "-";

    public static string Num(long? v) => v is long n ? n.ToString("N0", CultureInfo.InvariantCulture) : "-";

    public static string MiB(long? bytes) => bytes is long b ? (b / 1048576.0).ToString("F1", CultureInfo.InvariantCulture) : "-";

    public static string Ratio(double? v) => v is double d && double.IsFinite(d) ? d.ToString("F2", CultureInfo.InvariantCulture) + "x" : "-";

    public static string Fixed(double? v, int digits) => v is double d && double.IsFinite(d) ? d.ToString("F" + digits.ToString(CultureInfo.InvariantCulture), CultureInfo.InvariantCulture) : "-";

    public static string Inv(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
