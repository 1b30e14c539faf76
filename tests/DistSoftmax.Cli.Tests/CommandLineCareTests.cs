using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using DistSoftmax.Cli.Commands;
using Xunit;

namespace DistSoftmax.Cli.Tests;

/// <summary>
/// Mistyped options, values and commands are answered with "did you mean …" on the usual one error line (exit 2), and
/// seed nodes nobody listens on are bad input found in seconds, not a 30 s join timeout (exit 2, one line).
/// </summary>
public sealed class CommandLineCareTests
{
    public static TheoryData<string[], string> Typos() => new()
    {
        { ["solve", "--sovler", "newton"], "error: --sovler: unknown option; did you mean --solver? (see 'dist-softmax solve --help')" },
        { ["solve", "--sovler=newton"], "error: --sovler=newton: unknown option; did you mean --solver? (see 'dist-softmax solve --help')" },
        { ["solve", "--solver", "newtn"], "error: --solver: unknown value 'newtn'; did you mean 'newton'? (allowed: auto, approx-newton, newton, newton-cg, lbfgs, gd)" },
        { ["solve", "--problem", "rescled"], "error: --problem: unknown value 'rescled'; did you mean 'rescaled'?" },
        { ["generate", "--unit", "cosj", "--out-dir", "o"], "error: --unit: unknown value 'cosj'; did you mean 'cosh'?" },
        { ["solve", "--max-itr", "5"], "error: --max-itr: unknown option; did you mean --max-iter?" },
        { ["slove"], "error: slove: unexpected argument; did you mean solve? (see 'dist-softmax --help')" },
    };

    [Theory]
    [MemberData(nameof(Typos))]
    public void A_typo_gets_a_suggestion_on_one_line_with_exit_code_2(string[] args, string expected)
    {
        using var dir = new TempDir();
        var run = Cli.Run(dir.Path, args);
        Assert.True(run.Code == 2, run.ToString());
        Assert.StartsWith(expected, Assert.Single(run.ErrLines));
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir.Path));
    }

    [Theory]
    [InlineData("--frobnicate")]
    [InlineData("--qqq")]
    public void Nothing_close_gets_no_suggestion(string option)
    {
        using var dir = new TempDir();
        var run = Cli.Run(dir.Path, "solve", option);
        Assert.Equal(2, run.Code);
        Assert.Equal($"error: {option}: unknown option (see 'dist-softmax solve --help')", Assert.Single(run.ErrLines));
    }

    [Theory]
    [InlineData("sovler", "solver", 1)]
    [InlineData("newtn", "newton", 1)]
    [InlineData("abc", "abc", 0)]
    [InlineData("kitten", "sitting", 3)]
    public void Edit_distance_counts_a_swap_as_one_edit(string a, string b, int expected) =>
        Assert.Equal(expected, Suggestions.Distance(a, b));

    [Fact]
    public void Seeds_where_nobody_listens_are_bad_input_within_seconds()
    {
        int port = FreePort(); // bound and released: nothing listens there now
        using var dir = new TempDir();
        var clock = Stopwatch.StartNew();
        var run = Cli.Run(dir.Path, "solve", "--problem", "normalized", "--seeds", $"127.0.0.1:{port}", "--seed-timeout", "3",
            "--out-dir", "cl");
        Assert.True(run.Code == 2, run.ToString());
        Assert.Equal($"error: --seeds: no seed answered within 3 s (127.0.0.1:{port}: connection refused); is a worker node running there?",
            Assert.Single(run.ErrLines));
        // Refusals are retried until the timeout (workers may still be starting), then the job stops — not a speed test
        // (a CI run under load took 14.8 s with its start-up), only that the job does not wait on for ever.
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(60), $"took {clock.Elapsed}");
        Assert.False(Directory.Exists(Path.Combine(dir.Path, "cl")));
    }

    [Fact]
    public void Seed_timeout_is_only_for_cluster_jobs_and_positive()
    {
        using var dir = new TempDir();
        var run = Cli.Run(dir.Path, "solve", "--seed-timeout", "2");
        Assert.Equal(2, run.Code);
        Assert.StartsWith("error: --seed-timeout: is only used with --seeds", Assert.Single(run.ErrLines));
        run = Cli.Run(dir.Path, "solve", "--seeds", "127.0.0.1:4053", "--seed-timeout", "0");
        Assert.Equal(2, run.Code);
        Assert.StartsWith("error: --seed-timeout: must be in (0, 3600] seconds (got 0)", Assert.Single(run.ErrLines));
    }

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }
}
