namespace DistSoftmax.Cli.Tests;

/// <summary>solve takes --credentials and --insecure for cluster jobs, as worker does.</summary>
public class JobCredentialsOptionTests
{
    [Fact]
    public void Credentials_and_insecure_are_only_for_cluster_jobs()
    {
        using var dir = new TempDir();
        var credentials = Cli.Run(dir.Path, ["solve", "--credentials", "creds", "--out-dir", "o"]);
        Assert.Equal(2, credentials.Code);
        Assert.Equal("error: --credentials: is only used with --seeds (a cluster job)", Assert.Single(credentials.ErrLines));
        var insecure = Cli.Run(dir.Path, ["solve", "--insecure", "--out-dir", "o"]);
        Assert.Equal(2, insecure.Code);
        Assert.Equal("error: --insecure: is only used with --seeds (a cluster job)", Assert.Single(insecure.ErrLines));
    }

    [Fact]
    public void A_job_off_loopback_needs_credentials_unless_insecure_and_a_missing_credentials_directory_is_bad_input()
    {
        using var dir = new TempDir();
        int dead = BackendTests.FreePort();
        string[] job = ["solve", "--seeds", $"127.0.0.1:{dead}", "--host", "0.0.0.0", "--seed-timeout", "1", "--out-dir", "o"];
        var open = Cli.Run(dir.Path, job);
        Assert.Equal(2, open.Code);
        Assert.StartsWith("error: --host: ", Assert.Single(open.ErrLines));
        var allowed = Cli.Run(dir.Path, [.. job, "--insecure"]);
        Assert.Equal(2, allowed.Code);                                   // it got past the check: no seed answers
        Assert.StartsWith("error: --seeds: no seed answered", allowed.ErrLines.Last());
        var missing = Cli.Run(dir.Path, [.. job, "--credentials", "nowhere"]);
        Assert.Equal(2, missing.Code);
        Assert.StartsWith("error: --credentials: ", Assert.Single(missing.ErrLines));
    }
}
