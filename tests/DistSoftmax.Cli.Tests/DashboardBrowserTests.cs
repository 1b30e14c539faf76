using System.Diagnostics;
using System.Net.Http.Json;
using System.Text.Json;

namespace DistSoftmax.Cli.Tests;

/// <summary>
/// The dashboard in a real browser: `dist-softmax serve` and two `dist-softmax worker` processes on 127.0.0.1, a job
/// submitted through the HTTP API that runs for several seconds, and Debian's headless Chromium driven by
/// tests/browser/dashboard.test.mjs (puppeteer-core), which must see the members, a convergence chart that gains
/// points while the job runs, the shard owners, a second job cancelled with its button, and then the first job's final
/// state, report and plot, and a third job that reaches its iteration limit shown "stopped (max-iterations)"; the
/// jobs' input folder is named with markup, which the page must show as text. Needs node,
/// the `chromium` package and `npm ci` in tests/browser (.ci/run installs them); without them the test fails, it is not
/// skipped. With DISTSOFTMAX_DASHBOARD_SCREENSHOT=FILE the folder has a plain name and the script saves a 1280×800
/// screenshot during the job (the README's docs/dashboard.png).
/// </summary>
[Collection("multi-process cluster")]
public class DashboardBrowserTests
{
    private static readonly TimeSpan Up = TimeSpan.FromSeconds(60);
    /// <summary>Instance size: gradient descent to a relative tolerance of 1e-5 takes about 1140 iterations over the two
    /// workers (23 s in-process here), long enough for the browser to read the chart twice while the job runs. With 30
    /// columns (780 iterations, 8 s) a CI run under the other tests' load once had the job end before the browser's first
    /// read (776 points, then no more); a tighter tolerance only stalls at the loss's rounding, and more rows of the same
    /// kind converged in fewer iterations (300 at 400000 rows).</summary>
    private const int Rows = 200000, Columns = 60;
    private const int Workers = 2;
    /// <summary>The iteration limit of the job that must end "stopped": far short of the ≈ 1140 the tolerance needs.</summary>
    private const int StoppedIterations = 3;
    /// <summary>The instance's folder: its name is markup, which the dashboard must show as text (the job's
    /// specification holds the path) and never parse (the onerror handler would set window.xss).</summary>
    private const string MarkupInstanceDir = "inst<img src=x onerror=window.xss=1>";

    [Fact]
    public async Task The_dashboard_shows_members_a_live_chart_and_the_finished_job_in_headless_chromium()
    {
        string root = RepositoryRoot();
        string script = Path.Combine(root, "tests", "browser", "dashboard.test.mjs");
        Assert.True(Directory.Exists(Path.Combine(root, "tests", "browser", "node_modules", "puppeteer-core")),
            "puppeteer-core is not installed: run `npm ci` in tests/browser (.ci/run does)");

        // The README's screenshot is taken with a plain folder name; every other run puts markup in it.
        string? screenshot = Environment.GetEnvironmentVariable("DISTSOFTMAX_DASHBOARD_SCREENSHOT") is { Length: > 0 } shot ? Path.GetFullPath(shot) : null;
        string instanceDir = screenshot is null ? MarkupInstanceDir : "inst";
        using var dir = new TempDir();
        var gen = Cli.Run(dir.Path, "generate", "--problem", "normalized", "--n", Rows.ToString(), "--d", Columns.ToString(),
            "--seed", "5", "--out-dir", instanceDir);
        Assert.True(gen.Code == 0, gen.ToString());

        int clusterPort = BackendTests.FreePort(), httpPort = BackendTests.FreePort();
        var baseUrl = new Uri($"http://127.0.0.1:{httpPort}/");
        using var service = new MultiProcessClusterTests.Node(dir.Path, "serve", "--host", "127.0.0.1", "--port", clusterPort.ToString(),
            "--http-port", httpPort.ToString(), "--min-workers", Workers.ToString());
        using var w1 = new MultiProcessClusterTests.Node(dir.Path, "worker", "--host", "127.0.0.1", "--port", BackendTests.FreePort().ToString(),
            "--seeds", $"127.0.0.1:{clusterPort}");
        using var w2 = new MultiProcessClusterTests.Node(dir.Path, "worker", "--host", "127.0.0.1", "--port", BackendTests.FreePort().ToString(),
            "--seeds", $"127.0.0.1:{clusterPort}");
        string Logs() => "--- service\n" + service.Output + "\n--- worker 1\n" + w1.Output + "\n--- worker 2\n" + w2.Output;

        using var http = new HttpClient { BaseAddress = baseUrl, Timeout = TimeSpan.FromSeconds(30) };
        Assert.True(await WorkersUp(http, Workers), "the service did not report " + Workers + " workers Up:\n" + Logs());

        var spec = new Dictionary<string, object>
        {
            ["problem"] = "normalized", ["A"] = Path.Combine(dir.Path, instanceDir, "A.npy"), ["b"] = Path.Combine(dir.Path, instanceDir, "b.npy"),
            ["solver"] = "gd", ["tol"] = 1e-5, ["maxIter"] = 5000, ["workers"] = Workers,
        };
        async Task<string> Submit(Dictionary<string, object> spec)
        {
            using var submitted = await http.PostAsJsonAsync("api/jobs", spec);
            string body = await submitted.Content.ReadAsStringAsync();
            Assert.True(submitted.IsSuccessStatusCode, $"POST /api/jobs answered {(int)submitted.StatusCode}: {body}\n{Logs()}");
            return JsonDocument.Parse(body).RootElement.GetProperty("id").GetString()!;
        }
        // The job the browser follows, one queued behind it (one job at a time) that the browser cancels, and one that
        // stops at its iteration limit once the first has ended.
        string id = await Submit(spec), queued = await Submit(spec);
        string stopped = await Submit(new Dictionary<string, object>(spec) { ["maxIter"] = StoppedIterations });

        var args = new List<string> { script, "--url", baseUrl.ToString(), "--job", id, "--cancel-job", queued, "--stopped-job", stopped,
            "--workers", Workers.ToString(), "--final", "succeeded" };
        args.AddRange(screenshot is null ? ["--markup", instanceDir] : ["--screenshot", screenshot]);
        var (code, output) = RunNode(Path.Combine(root, "tests", "browser"), args, TimeSpan.FromSeconds(240));
        Assert.True(code == 0 && output.Contains("dashboard ok:"), $"browser test (exit {code}):\n{output}\n{Logs()}");

        // What the browser showed is what the API says: the job ended succeeded, with its report written.
        using var job = JsonDocument.Parse(await http.GetStringAsync("api/jobs/" + Uri.EscapeDataString(id)));
        Assert.Equal("succeeded", job.RootElement.GetProperty("state").GetString());
        Assert.Contains(job.RootElement.GetProperty("files").EnumerateArray(), f => f.GetString() == "report.json");
        using var cancelled = JsonDocument.Parse(await http.GetStringAsync("api/jobs/" + Uri.EscapeDataString(queued)));
        Assert.Equal("cancelled", cancelled.RootElement.GetProperty("state").GetString());
        using var stoppedJob = JsonDocument.Parse(await http.GetStringAsync("api/jobs/" + Uri.EscapeDataString(stopped)));
        Assert.Equal("stopped", stoppedJob.RootElement.GetProperty("state").GetString());
        Assert.Equal("max-iterations", stoppedJob.RootElement.GetProperty("condition").GetString());
    }

    /// <summary>The dashboard's files never turn a string into HTML (no innerHTML and the like: server strings go
    /// through textContent) and load nothing from another origin (no CDN; the SVG namespace is a name, not a load).</summary>
    [Fact]
    public void The_dashboard_files_build_no_html_from_strings_and_load_nothing_from_elsewhere()
    {
        string wwwroot = Path.Combine(RepositoryRoot(), "src", "DistSoftmax.Cli", "Service", "wwwroot");
        string[] files = ["index.html", "app.js", "style.css"];
        foreach (var name in files)
        {
            string text = File.ReadAllText(Path.Combine(wwwroot, name));
            foreach (var sink in new[] { "innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function" })
                Assert.False(text.Contains(sink, StringComparison.Ordinal), $"{name} uses {sink}");
            string withoutNamespace = text.Replace("http://www.w3.org/2000/svg", "", StringComparison.Ordinal);
            foreach (var external in new[] { "http://", "https://", "//cdn", "@import" })
                Assert.False(withoutNamespace.Contains(external, StringComparison.OrdinalIgnoreCase), $"{name} refers to {external}");
        }
    }

    /// <summary>Polls GET /api/cluster until it lists <paramref name="workers"/> members in the worker role with status Up.</summary>
    private static async Task<bool> WorkersUp(HttpClient http, int workers)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < Up)
        {
            try
            {
                using var cluster = JsonDocument.Parse(await http.GetStringAsync("api/cluster"));
                int up = cluster.RootElement.GetProperty("members").EnumerateArray().Count(m =>
                    m.GetProperty("roles").EnumerateArray().Any(r => r.GetString() == "worker") &&
                    string.Equals(m.GetProperty("status").GetString(), "up", StringComparison.OrdinalIgnoreCase));
                if (up >= workers) return true;
            }
            catch (HttpRequestException) { } // not listening yet
            catch (TaskCanceledException) { }
            await Task.Delay(250);
        }
        return false;
    }

    /// <summary>Runs node with the arguments; its exit code and its stdout and stderr.</summary>
    private static (int Code, string Output) RunNode(string workingDirectory, IEnumerable<string> args, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo("node") { WorkingDirectory = workingDirectory, RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args) psi.ArgumentList.Add(a);
        Process process;
        try { process = Process.Start(psi)!; }
        catch (System.ComponentModel.Win32Exception e) { return (-1, "cannot start node (install nodejs; .ci/run does): " + e.Message); }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit((int)timeout.TotalMilliseconds))
            {
                process.Kill(entireProcessTree: true);
                process.WaitForExit();
                return (-1, "node did not finish in " + timeout + "\n" + stdout.Result + stderr.Result);
            }
            process.WaitForExit();
            return (process.ExitCode, stdout.Result + stderr.Result);
        }
    }

    /// <summary>The repository's root: the nearest folder above the test binaries holding DistSoftmax.sln.</summary>
    private static string RepositoryRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
            if (File.Exists(Path.Combine(d.FullName, "DistSoftmax.sln"))) return d.FullName;
        throw new InvalidOperationException("DistSoftmax.sln not found above " + AppContext.BaseDirectory);
    }
}
