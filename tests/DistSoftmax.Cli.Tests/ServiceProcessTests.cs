using System.Text;
using System.Text.Json.Nodes;
using Node = DistSoftmax.Cli.Tests.MultiProcessClusterTests.Node;

namespace DistSoftmax.Cli.Tests;

/// <summary>
/// The built dist-softmax as operating-system processes on 127.0.0.1: <c>serve</c>, worker nodes that name it as their
/// seed, and <c>solve --server</c> / <c>status --server</c> clients. Two jobs on the same A give the x of the command
/// line's local solve, and a shard a worker already holds is served from its cache; a service SIGKILLed mid-job and started
/// again finishes the job from its checkpoint with the x of an uninterrupted run.
/// </summary>
[Collection("multi-process cluster")]
public class ServiceProcessTests
{
    private static readonly TimeSpan Up = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan JobTimeout = TimeSpan.FromSeconds(240);

    private static Node Serve(string dir, int httpPort, int port, params string[] more) =>
        new(dir, ["serve", "--http-port", httpPort.ToString(), "--port", port.ToString(), "--state-dir", "state", .. more]);

    private static Node Worker(string dir, int port, string seeds) =>
        new(dir, "worker", "--port", port.ToString(), "--seeds", seeds);

    private static double[] X(string path) => NpyBytes.Read(path).Values;

    private static void AssertClose(double[] expected, double[] actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance, $"x[{i}] = {actual[i]}, expected {expected[i]}");
    }

    private static async Task<JsonNode> GetAsync(HttpClient http, string path) => JsonNode.Parse(await http.GetStringAsync(path))!;

    [Fact]
    public void An_HTTP_port_in_use_is_one_line_and_exit_2_without_a_stack_trace()
    {
        using var dir = new TempDir();
        var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        try
        {
            int httpPort = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
            using var service = Serve(dir.Path, httpPort, BackendTests.FreePort());
            Assert.Equal(2, service.WaitForExit(Up));
            // The node's lines are tagged with their stream: stderr holds the one error line and nothing else.
            var errors = service.Lines.Where(l => l.StartsWith("stderr: ", StringComparison.Ordinal)).ToArray();
            Assert.True(errors.Length == 1 && errors[0].StartsWith("stderr: error: --http-port: ", StringComparison.Ordinal), service.Output);
        }
        finally { taken.Stop(); }
    }

    [Fact]
    public async Task Jobs_on_the_same_A_through_solve_server_give_the_local_x_and_reuse_the_workers_shard_cache()
    {
        using var dir = new TempDir();
        Assert.Equal(0, Cli.Run(dir.Path, "generate", "--problem", "normalized", "--n", "4000", "--d", "10", "--seed", "21", "--out-dir", "inst").Code);
        int httpPort = BackendTests.FreePort(), port = BackendTests.FreePort();
        using var service = Serve(dir.Path, httpPort, port, "--min-workers", "2");
        Assert.True(service.WaitForLine(l => l.Contains(" is up; jobs: "), Up), "service did not come up:\n" + service.Output);
        using var w1 = Worker(dir.Path, BackendTests.FreePort(), $"127.0.0.1:{port}");
        using var w2 = Worker(dir.Path, BackendTests.FreePort(), $"127.0.0.1:{port}");
        foreach (var w in new[] { w1, w2 })
            Assert.True(w.WaitForLine(l => l.Contains("is up, serving solve jobs"), Up), "worker did not come up:\n" + w.Output);
        string server = $"http://127.0.0.1:{httpPort}";
        using var http = new HttpClient { BaseAddress = new Uri(server) };

        // Three jobs on the same A, 2 shards each. A worker that is assigned a shard it loaded in an earlier job serves it from
        // its cache: exactly those assignments are hits, every other one a miss. The workers report their cached rows when
        // they register and the coordinator gives each shard to the worker that holds it: only the first job loads.
        string[] job = ["solve", "--server", server, "--A", "inst/A.npy", "--b", "inst/b.npy", "--solver", "newton", "--workers", "2"];
        var held = new HashSet<(string Owner, int Index)>();
        long expectedHits = 0, expectedMisses = 0;
        string metrics = "";
        long Sum(string name) => metrics.Split('\n').Where(l => l.StartsWith(name + "{", StringComparison.Ordinal))
            .Sum(l => long.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
        foreach (string run in new[] { "first", "second", "third" })
        {
            using (var client = new Node(dir.Path, [.. job, "--out-dir", run, .. run == "second" ? new[] { "--progress", "json" } : []]))
            {
                Assert.True(client.WaitForExit(JobTimeout) == 0, client.Output);
                if (run == "second")
                {
                    var lines = client.Lines.Where(l => !l.StartsWith("stderr: ", StringComparison.Ordinal)).ToArray();
                    Assert.All(lines, l => Assert.StartsWith("{\"event\":", l)); // stdout: the JSON lines only
                    Assert.Contains("\"event\":\"finished\",\"exit\":0", lines[^1]);
                    // The same finished line as a local solve's: with the downloaded report's regime.
                    var finished = JsonNode.Parse(lines[^1])!;
                    Assert.True(finished["regime"] is JsonObject regime && regime.ToJsonString() == JsonNode.Parse(File.ReadAllText(Path.Combine(dir.Path, run, "report.json")))!["regime"]!.ToJsonString(),
                        lines[^1]);
                }
            }
            var list = await GetAsync(http, "/api/jobs");
            var detail = await GetAsync(http, $"/api/jobs/{(string)list.AsArray()[^1]!["id"]!}");
            foreach (var shard in detail["shards"]!.AsArray())
            {
                var key = ((string)shard!["owner"]!, (int)shard["index"]!);
                if (held.Add(key)) expectedMisses++;
                else expectedHits++;
            }
            metrics = await http.GetStringAsync("/metrics") + "\n" + (await GetAsync(http, "/api/cluster")).ToJsonString();
            Assert.True(Sum("distsoftmax_shard_cache_hits_total") == expectedHits, $"{run}: expected {expectedHits} hits\n{metrics}");
            Assert.True(Sum("distsoftmax_shard_cache_misses_total") == expectedMisses, $"{run}: expected {expectedMisses} misses\n{metrics}");
        }
        Assert.True((expectedMisses, expectedHits) == (2, 4), $"the second and third jobs were not served from the caches\n{metrics}");

        var local = Cli.Run(dir.Path, "solve", "--A", "inst/A.npy", "--b", "inst/b.npy", "--solver", "newton", "--workers", "2", "--out-dir", "local");
        Assert.True(local.Code == 0, local.ToString());
        foreach (string run in new[] { "first", "second", "third" })
        {
            AssertClose(X(dir.File("local/x.npy")), X(dir.File($"{run}/x.npy")), 1e-10);
            Assert.True(File.Exists(dir.File($"{run}/convergence.png")));
            Assert.Equal("cluster", Report.Read(dir.File(run)).GetProperty("backend").GetString());
        }
        Assert.Contains("distsoftmax_jobs{state=\"succeeded\"} 3\n", metrics);
        Assert.Contains("distsoftmax_workers 2\n", metrics);
        Assert.Contains("\"cachedSources\":[{\"key\":\"files(", metrics);

        var status = Cli.Run(dir.Path, "status", "--server", server, "--json");
        Assert.True(status.Code == 0, status.ToString());
        var seen = JsonNode.Parse(status.Out)!;
        Assert.Equal(3, seen["cluster"]!["members"]!.AsArray().Count);
        Assert.Equal(3, seen["jobs"]!.AsArray().Count);
        var table = Cli.Run(dir.Path, "status", "--server", server);
        Assert.True(table.Code == 0, table.ToString());
        Assert.Contains("succeeded", table.Out);
        Assert.Contains("worker", table.Out);

        // HEAD through Kestrel: GET's status and length, no body (it was 405).
        string lastJob = (string)(await GetAsync(http, "/api/jobs")).AsArray()[^1]!["id"]!;
        foreach (string path in new[] { $"/api/jobs/{lastJob}/files/report.json", $"/api/jobs/{lastJob}", "/" })
        {
            using var head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, path));
            Assert.True(head.StatusCode == System.Net.HttpStatusCode.OK, $"HEAD {path}: {head.StatusCode}");
            Assert.Empty(await head.Content.ReadAsByteArrayAsync());
            if (path.EndsWith("report.json", StringComparison.Ordinal))
                Assert.Equal(new FileInfo(Path.Combine(dir.Path, "state", "jobs", lastJob, "report.json")).Length, head.Content.Headers.ContentLength);
        }

        // A normal job end is no news: nothing on the workers' stderr, nor the service's.
        foreach (var node in new[] { service, w1, w2 })
            Assert.DoesNotContain(node.Lines, l => l.StartsWith("stderr: ", StringComparison.Ordinal));
    }

    /// <summary>
    /// Killed (SIGKILL: a crash) or stopped (SIGTERM: the job stops at its next iteration and stays running in the
    /// database) mid-job, the service started again continues the job from its checkpoint to the uninterrupted x.
    /// </summary>
    [Theory]
    [InlineData("KILL")]
    [InlineData("TERM")]
    public async Task A_service_killed_or_stopped_mid_job_resumes_it_from_its_checkpoint_to_the_uninterrupted_x(string signal)
    {
        using var dir = new TempDir();
        Assert.Equal(0, Cli.Run(dir.Path, "generate", "--problem", "normalized", "--n", "40000", "--d", "30", "--seed", "5", "--out-dir", "inst").Code);
        // Long enough that the job is still running when a checkpoint is first on disk: a job that ends removes its
        // checkpoint, and at 150 iterations a fast job under CI load could end before the poll below saw one.
        const int iterations = 1000;
        string[] solve = ["--A", "inst/A.npy", "--b", "inst/b.npy", "--solver", "gd", "--max-iter", $"{iterations}", "--tol", "1e-30", "--workers", "2"];
        int httpPort = BackendTests.FreePort(), port = BackendTests.FreePort(), workerPort = BackendTests.FreePort();
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}") };
        string id;
        using (var service = Serve(dir.Path, httpPort, port))
        {
            Assert.True(service.WaitForLine(l => l.Contains(" is up; jobs: "), Up), "service did not come up:\n" + service.Output);
            using var worker = Worker(dir.Path, workerPort, $"127.0.0.1:{port}");
            Assert.True(worker.WaitForLine(l => l.Contains("is up, serving solve jobs"), Up), "worker did not come up:\n" + worker.Output);
            // Submitted by `solve --server`, which follows the job's events until the service goes away.
            const string submitted = "dist-softmax solve: job ";
            using var client = new Node(dir.Path, ["solve", "--server", $"http://127.0.0.1:{httpPort}", .. solve, "--out-dir", "followed"]);
            Assert.True(client.WaitForLine(l => l.StartsWith(submitted, StringComparison.Ordinal), Up), "no job was submitted:\n" + client.Output);
            id = client.Lines.First(l => l.StartsWith(submitted, StringComparison.Ordinal))[submitted.Length..].Split(' ')[0];
            var deadline = DateTime.UtcNow + JobTimeout;
            // Killed once it has run ten iterations and the checkpoint writer (which writes behind the solve, the latest
            // state at a time) has put a checkpoint on disk: a kill before the first write would leave nothing to resume.
            while (await GetAsync(http, $"/api/jobs/{id}") is var running && (running["trace"]!.AsArray().Count < 10
                   || !File.Exists(dir.File($"state/jobs/{id}/checkpoint.bin"))))
            {
                Assert.True((string?)running["state"] is not ("succeeded" or "stopped" or "failed" or "cancelled"),
                    $"the job ended ({running["state"]}) before it could be killed mid-job: make it longer");
                Assert.True(DateTime.UtcNow < deadline, "the job made no progress:\n" + service.Output + "\n" + worker.Output);
                await Task.Delay(20);
            }
            if (signal == "KILL") service.Kill(); // SIGKILL, mid-job
            else service.Signal(signal);
            int exit = service.WaitForExit(TimeSpan.FromSeconds(30));
            // (A stopped job that had been recorded cancelled would stay so, and the job below would not end stopped
            // with every iteration's trace entry.)
            if (signal == "TERM") Assert.True(exit == 0, $"serve exited {exit} after SIGTERM:\n" + service.Output);
            // The client says in one line that the job did not finish here (exit 3, nothing downloaded); after SIGTERM
            // the job's event stream ends with the service's note, so neither it nor the stopping service waits.
            Assert.Equal(3, client.WaitForExit(TimeSpan.FromSeconds(30)));
            Assert.Contains(client.Lines, l => l.StartsWith("stderr: error: --server: ", StringComparison.Ordinal)
                && l.Contains($"job {id} was running", StringComparison.Ordinal) && l.EndsWith("; nothing downloaded", StringComparison.Ordinal));
            if (signal == "TERM")
                Assert.Contains(client.Lines, l => l.Contains($"the service stopped while job {id} was running; it continues from its last checkpoint", StringComparison.Ordinal));
            Assert.False(Directory.Exists(dir.File("followed")));
            Assert.True(File.Exists(dir.File($"state/jobs/{id}/checkpoint.bin")), "no checkpoint was left behind");

            // Started again, naming the surviving worker as its seed: the job continues from the checkpoint. The node takes a
            // new cluster port: the worker still counts the killed node at the old one as a member (it answers no
            // heartbeat, so it is downed within seconds), and Akka.NET lets no new incarnation join at that address
            // before then (README, "Service": restarting after a crash).
            using var again = Serve(dir.Path, httpPort, BackendTests.FreePort(), "--seeds", $"127.0.0.1:{workerPort}");
            Assert.True(again.WaitForLine(l => l.Contains(" is up; jobs: "), Up), "service did not come up again:\n" + again.Output + "\n--- worker\n" + worker.Output);
            JsonNode job;
            while (true)
            {
                job = await GetAsync(http, $"/api/jobs/{id}");
                if ((string?)job["state"] is "succeeded" or "stopped" or "failed" or "cancelled") break;
                Assert.True(DateTime.UtcNow < deadline, "the resumed job did not end:\n" + again.Output + "\n--- worker\n" + worker.Output);
                await Task.Delay(100);
            }
            Assert.True((int?)job["exitCode"] == 3, job.ToJsonString()); // gd stops at --max-iter (exit 3, files written)
            Assert.True((string?)job["state"] == "stopped" && (string?)job["condition"] == "max-iterations", job.ToJsonString());
            Assert.Equal(iterations + 1, job["trace"]!.AsArray().Count);
            Assert.Equal(Enumerable.Range(0, iterations + 1), job["trace"]!.AsArray().Select(e => (int)e!["iteration"]!));
        }

        var uninterrupted = Cli.Run(dir.Path, ["solve", .. solve, "--out-dir", "uninterrupted"]);
        Assert.True(uninterrupted.Code == 3, uninterrupted.ToString());
        AssertClose(X(dir.File("uninterrupted/x.npy")), X(dir.File($"state/jobs/{id}/x.npy")), 1e-10);
        Assert.Equal(iterations, Report.Read(dir.File($"state/jobs/{id}")).GetProperty("iterations").GetInt32());
    }
}
