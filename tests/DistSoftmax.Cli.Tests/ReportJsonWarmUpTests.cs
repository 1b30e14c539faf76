using DistSoftmax.Cli.Output;

namespace DistSoftmax.Cli.Tests;

/// <summary>
/// The summary's idle warm-up builds report.json's serialization metadata ahead of the first report
/// (<see cref="SolveReport.BuildJsonMetadata"/>); the warm-up swallows failures, so this test is where one shows.
/// </summary>
public class ReportJsonWarmUpTests
{
    [Fact]
    public void The_report_metadata_and_converters_build_without_error()
    {
        var error = Record.Exception(SolveReport.BuildJsonMetadata);
        Assert.Null(error);
        Assert.True(SolveReport.Json.IsReadOnly, "building the metadata fixes the options, as the first report would");
    }
}
