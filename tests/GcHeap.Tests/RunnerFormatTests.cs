using GcHeap.Experiments.Cli;
using GcHeap.Experiments.Reporting;

namespace GcHeap.Tests;

/// <summary>The runner's first contact: how ratios print, and the reference command lines it reads.</summary>
public class RunnerFormatTests
{
    [Theory]
    [InlineData(1.0, "1.00x")]
    [InlineData(0.97, "0.97x")]
    [InlineData(0.1, "0.10x")]
    [InlineData(0.034, "0.034x")]
    [InlineData(0.0101, "0.010x")]
    [InlineData(0.0099, "1/101")]
    [InlineData(0.0125 / 1.3, "1/104")]
    [InlineData(0.0105, "0.011x")]
    [InlineData(0.004, "1/250")]
    [InlineData(1.0 / 31852, "1/31852")]
    [InlineData(0.0, "0x")]
    [InlineData(double.NaN, "-")]
    public void RatiosNeverReadZeroUnlessTheyAre(double value, string expected)
    {
        Assert.Equal(expected, Format.Ratio(value));
    }

    [Fact]
    public void NoPositiveRatioPrintsAsZero()
    {
        for (double d = 1e-9; d < 10; d *= 1.07)
        {
            string s = Format.Ratio(d);
            Assert.False(s.StartsWith("0.00x", StringComparison.Ordinal) || s == "0x" || s.StartsWith("1/0", StringComparison.Ordinal), $"{d} -> {s}");
        }
    }

    [Fact]
    public void BinaryTreesTakesTheBenchmarksGameArgument()
    {
        var (args, rewritten, error) = ReferenceCommandLines.Translate(["binary-trees", "21", "--backend", "move"]);
        Assert.Null(error);
        Assert.Equal(["binary-trees", "--depth", "21", "--backend", "move"], args);
        Assert.Equal("binary-trees --depth 21 --backend move", rewritten);

        var named = ReferenceCommandLines.Translate(["binary-trees", "--depth", "21"]);
        Assert.Equal(["binary-trees", "--depth", "21"], named.Args);
        Assert.Null(named.Rewritten);
    }

    [Fact]
    public void GcPerfSimTakesItsReferenceSwitches()
    {
        var (args, rewritten, error) = ReferenceCommandLines.Translate(
            ["gcperfsim", "-tc", "2", "-tagb", "1.5", "-tlgb", "0.25", "-sohsi", "30", "-sohsr", "100-4000", "-lohar", "0", "-pohar", "0",
             "-lohsr", "102400-204800", "-sohpi", "0", "-allocType", "reference", "-testKind", "time", "--backend", "copy"]);
        Assert.Null(error);
        Assert.NotNull(rewritten);
        Assert.Equal(
            ["gcperfsim", "--threads", "2", "--allocate-gb", "1.5", "--live-mb", "256", "--survive-interval", "30", "--min-size", "100", "--max-size", "4000", "--backend", "copy"],
            args);
    }

    [Theory]
    [InlineData("-lohar", "5", "large object allocations")]
    [InlineData("-sohpi", "50", "pinning")]
    [InlineData("-sohsi", "0", "nothing survives")]
    [InlineData("-sohsr", "100", "MIN-MAX")]
    [InlineData("-allocType", "simple", "-allocType reference")]
    [InlineData("-tlgb", "x", "GB")]
    public void GcPerfSimRefusesWhatItDoesNotModelAndSaysWhy(string name, string value, string expected)
    {
        var (_, _, error) = ReferenceCommandLines.Translate(["gcperfsim", name, value]);
        Assert.NotNull(error);
        Assert.Contains(expected, error, StringComparison.Ordinal);
    }
}
