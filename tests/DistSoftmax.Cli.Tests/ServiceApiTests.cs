using System.Net;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using DistSoftmax.Cli.Commands;
using DistSoftmax.Cli.Service;
using DistSoftmax.Cluster.Hosting;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.TestHost;

namespace DistSoftmax.Cli.Tests;

/// <summary>
/// One cluster for the service API tests, in this process: the service's coordinator node (founding the cluster on a
/// free loopback port) and one worker node that names it as its seed, allowed to read the test's data directory. Each
/// test puts its own <see cref="ServiceHost"/> (in-memory server, own database and state directory) over the node.
/// </summary>
public sealed class ServiceCluster : IAsyncLifetime
{
    /// <summary>Faster membership than production (one process, loopback).</summary>
    private const string Fast = """
        akka.cluster.gossip-interval = 200ms
        akka.cluster.leader-actions-interval = 200ms
        akka.cluster.periodic-tasks-initial-delay = 100ms
        distsoftmax.cluster.hello-interval = 500ms
        """;

    public TempDir Data { get; } = new();
    internal CoordinatorNode Node { get; private set; } = null!;
    private WorkerNode _worker = null!;

    public async Task InitializeAsync()
    {
        Assert.Equal(0, Cli.Run(Data.Path, "generate", "--problem", "normalized", "--n", "3000", "--d", "8", "--seed", "11", "--out-dir", "inst").Code);
        int port = BackendTests.FreePort();
        Node = CoordinatorNode.Start(new NodeOptions { Host = "127.0.0.1", Port = port, Seeds = [], ExtraHocon = Fast + "\n" + OneLineLogger.Hocon() });
        _worker = WorkerNode.Start(new NodeOptions
        {
            Host = "127.0.0.1", Port = 0, Seeds = [$"127.0.0.1:{port}"], DataRoots = [Data.Path], ExtraHocon = Fast + "\n" + OneLineLogger.Hocon(),
        }, TrainCommand.WorkerLoader());
        Assert.True(await Node.WaitUntilUpAsync(TimeSpan.FromSeconds(30)));
        Assert.True(await _worker.WaitUntilUpAsync(TimeSpan.FromSeconds(30)));
    }

    public async Task DisposeAsync()
    {
        await _worker.DisposeAsync();
        await Node.DisposeAsync();
        Data.Dispose();
    }

    /// <summary>A service over the node with an in-memory server; <paramref name="state"/> holds its database and job files.</summary>
    internal async Task<ServiceHost> StartServiceAsync(string state, int maxJobs = 1, int maxQueued = 100, bool loopbackHttp = false)
    {
        var options = new ServiceOptions(new NodeOptions(), state, Path.Combine(state, "jobs.db"), maxJobs, maxQueued, 1, Data.Path,
            LoopbackHttp: loopbackHttp);
        Directory.CreateDirectory(state);
        var host = ServiceHost.Create(options, Node, b => b.WebHost.UseTestServer());
        await host.StartAsync();
        return host;
    }
}

/// <summary>
/// The service's HTTP API in process (ASP.NET Core TestServer over a real one-worker cluster): every endpoint, the
/// 400s with the command line's own messages, 404s, cancellation of running and queued jobs, the queue limit, the
/// records kept across a restart, and a job's results against the same solve run by the command line.
/// </summary>
public class ServiceApiTests(ServiceCluster cluster) : IClassFixture<ServiceCluster>
{
    private static readonly TimeSpan JobTimeout = TimeSpan.FromSeconds(120);

    /// <summary>A solve that runs until cancelled: gradient descent with an unreachable tolerance and many iterations.</summary>
    private static string LongSpec => """{"A": "inst/A.npy", "b": "inst/b.npy", "solver": "gd", "tol": 1e-300, "absTol": 0, "maxIter": 100000, "stallIter": 100000}""";

    private const string Spec = """{"A": "inst/A.npy", "b": "inst/b.npy", "solver": "newton", "workers": 2}""";

    private static async Task<(HttpStatusCode Status, JsonNode? Body)> SendAsync(HttpClient http, HttpMethod method, string path, string? body = null)
    {
        using var request = new HttpRequestMessage(method, path);
        if (body is not null) request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await http.SendAsync(request);
        string text = await response.Content.ReadAsStringAsync();
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    private static async Task<string> SubmitAsync(HttpClient http, string spec)
    {
        var (status, body) = await SendAsync(http, HttpMethod.Post, "/api/jobs", spec);
        Assert.True(status == HttpStatusCode.Accepted, $"{status}: {body}");
        return (string)body!["id"]!;
    }

    private static async Task<JsonNode> WaitForAsync(HttpClient http, string id, Func<JsonNode, bool> done)
    {
        var deadline = DateTime.UtcNow + JobTimeout;
        while (true)
        {
            var (status, job) = await SendAsync(http, HttpMethod.Get, $"/api/jobs/{id}");
            Assert.Equal(HttpStatusCode.OK, status);
            if (done(job!)) return job!;
            Assert.True(DateTime.UtcNow < deadline, $"job {id} did not get there in time: {job}");
            await Task.Delay(50);
        }
    }

    private static bool Ended(JsonNode job) => (string?)job["state"] is "succeeded" or "stopped" or "failed" or "cancelled";

    /// <summary>The CLI's one-line error for the same solve arguments (stderr "error: …").</summary>
    private string CliError(params string[] solveArguments)
    {
        var run = Cli.Run(cluster.Data.Path, ["solve", .. solveArguments, "--out-dir", "cli-out"]);
        Assert.True(run.Code == 2, run.ToString());
        return run.ErrLines.Single(l => l.StartsWith("error: ", StringComparison.Ordinal))["error: ".Length..];
    }

    /// <summary>The service's data root as its messages name it (its working directory, ending in a separator).</summary>
    private string Root => Path.TrimEndingDirectorySeparator(cluster.Data.Path) + Path.DirectorySeparatorChar;

    [Fact]
    public async Task Bad_specs_get_400_with_the_command_lines_own_messages()
    {
        using var state = new TempDir();
        await using var service = await cluster.StartServiceAsync(state.Path);
        using var http = service.App.GetTestClient();
        var cases = new (string Spec, string Expected)[]
        {
            ("""{"A": "inst/A.npy", "b": "inst/b.npy", "tol": -1}""", CliError("--A", "inst/A.npy", "--b", "inst/b.npy", "--tol", "-1")),
            ("""{"A": "inst/nope.npy", "b": "inst/b.npy"}""", CliError("--A", "inst/nope.npy", "--b", "inst/b.npy")),
            ("""{"A": "inst/A.npy", "b": "inst/b.npy", "solver": "sgd"}""", CliError("--A", "inst/A.npy", "--b", "inst/b.npy", "--solver", "sgd")),
            ("""{"A": "inst/A.npy"}""", CliError("--A", "inst/A.npy")),
            ("""{"A": "inst/A.npy", "b": "inst/b.npy", "maxIter": "many"}""", CliError("--A", "inst/A.npy", "--b", "inst/b.npy", "--max-iter", "many")),
            ("""{"A": "inst/A.npy", "b": "inst/b.npy", "A1": "inst/A.npy"}""", CliError("--A", "inst/A.npy", "--b", "inst/b.npy", "--A1", "inst/A.npy")),
            // Not in the command line: what only a JSON spec can get wrong.
            ("""{"A": "inst/A.npy", "b": "inst/b.npy", "seeds": "127.0.0.1:1"}""", "seeds: is not allowed in a service job (the service chooses where jobs run and where their files go)"),
            ("""{"A": "inst/A.npy", "b": "inst/b.npy", "outDir": "/tmp"}""", "outDir: is not allowed in a service job (the service chooses where jobs run and where their files go)"),
            ("""{"A": ["inst/A.npy"]}""", "A: must be a file path as a JSON string (got a JSON array)"),
            ("""{"A": "inst/A.npy", "b": "inst/b.npy", "tol": [1]}""", "tol: must be a string, a number or a boolean (got a JSON array)"),
            // A number or boolean as a path would be a relative path outside the roots' check; a repeated key would run
            // with a value the stored spec does not show (QA audit).
            ("""{"A": 5, "b": "inst/b.npy"}""", "A: must be a file path as a JSON string (got a JSON number)"),
            ("""{"A": "inst/A.npy", "b": "inst/b.npy", "x0": true}""", "x0: must be a file path as a JSON string (got a JSON true)"),
            ("""{"A": "inst/A.npy", "b": "inst/b.npy", "maxIter": 0, "A": ""}""", "A: is given more than once in the job spec"),
            ("""[1, 2]""", "job spec: must be a JSON object of solve options (got array)"),
            ("""{"tol=1": 3}""", "job spec: 'tol=1' is not a solve option name in camelCase (e.g. maxIter for --max-iter)"),
            ("""{"help": true}""", "help: is not a job option (the API takes solve's options; GET /api/jobs lists the jobs)"),
            // Input files only from the service's data roots (here its working directory), refused before they are read.
            ("""{"A": "/etc/hostname", "b": "inst/b.npy"}""", $"A: /etc/hostname is outside the service's data roots ({Root}; serve --data-root)"),
            ("""{"A": "inst/A.npy", "b": "../b.npy"}""", $"b: ../b.npy is outside the service's data roots ({Root}; serve --data-root)"),
            ("""{"A": "inst/A.npy", "b": "inst/link.npy"}""", $"b: inst/link.npy links outside the service's data roots ({Root}; serve --data-root)"),
            ("""{"A": "inst/A.npy\u0000x", "b": "inst/b.npy"}""", "A: the path contains a NUL character"),
        };
        File.CreateSymbolicLink(Path.Combine(cluster.Data.Path, "inst", "link.npy"), "/etc/hostname");
        foreach (var (spec, expected) in cases)
        {
            var (status, body) = await SendAsync(http, HttpMethod.Post, "/api/jobs", spec);
            Assert.True(status == HttpStatusCode.BadRequest, $"{spec}: {status} {body}");
            Assert.Equal(expected, (string?)body!["error"]);
        }
        // An unknown option: the command line's suggestion, under its kebab-case name.
        var (s2, unknown) = await SendAsync(http, HttpMethod.Post, "/api/jobs", """{"A": "inst/A.npy", "b": "inst/b.npy", "maxIters": 3}""");
        Assert.Equal(HttpStatusCode.BadRequest, s2);
        Assert.StartsWith("--max-iters=3: unknown option", (string?)unknown!["error"]);
        Assert.Contains("--max-iter", (string?)unknown["error"]);
        // A body over the limit: 413 with the one-line message, whether its length is declared or not.
        var (s5, tooLarge) = await SendAsync(http, HttpMethod.Post, "/api/jobs", new string(' ', ServiceHost.MaxSpecBytes + 1));
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, s5);
        Assert.Equal($"job spec: larger than {ServiceHost.MaxSpecBytes} bytes", (string?)tooLarge!["error"]);
        var (s3, notJson) = await SendAsync(http, HttpMethod.Post, "/api/jobs", "{\"A\": ");
        Assert.Equal(HttpStatusCode.BadRequest, s3);
        Assert.StartsWith("job spec: not JSON: ", (string?)notJson!["error"]);
        // A value that looks like an option stays a value.
        var (s4, injected) = await SendAsync(http, HttpMethod.Post, "/api/jobs", """{"A": "inst/A.npy", "b": "inst/b.npy", "problem": "--seeds"}""");
        Assert.Equal(HttpStatusCode.BadRequest, s4);
        Assert.StartsWith("--problem: ", (string?)injected!["error"]);
        // Nothing was queued.
        var (_, jobs) = await SendAsync(http, HttpMethod.Get, "/api/jobs");
        Assert.Empty(jobs!.AsArray());
        Assert.Contains("distsoftmax_jobs_rejected_total 23", await http.GetStringAsync("/metrics"));
    }

    /// <summary>
    /// A page of another site cannot start or cancel jobs through the browser (QA audit: a text/plain POST with a foreign
    /// Origin was accepted, 202): a foreign Origin on a POST or DELETE is 403, a spec not sent as application/json is 415,
    /// and nothing is queued; the service's own origin, and clients that send none, go through.
    /// </summary>
    [Fact]
    public async Task Cross_site_requests_and_specs_not_sent_as_json_are_refused_before_anything_is_queued()
    {
        using var state = new TempDir();
        await using var service = await cluster.StartServiceAsync(state.Path);
        using var http = service.App.GetTestClient();
        async Task<(HttpStatusCode, string)> Post(string? contentType, string? origin, HttpMethod? method = null, string path = "/api/jobs")
        {
            using var request = new HttpRequestMessage(method ?? HttpMethod.Post, path);
            if (method is null)
            {
                request.Content = new StringContent(Spec, Encoding.UTF8);
                request.Content.Headers.ContentType = contentType is null ? null : System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType);
            }
            if (origin is not null) request.Headers.Add("Origin", origin);
            using var response = await http.SendAsync(request);
            return (response.StatusCode, await response.Content.ReadAsStringAsync());
        }
        var (status, text) = await Post("text/plain", "http://evil.example");
        Assert.Equal(HttpStatusCode.Forbidden, status);
        Assert.Equal("cross-site request refused: Origin http://evil.example is not this service's (http://localhost)", (string)JsonNode.Parse(text)!["error"]!);
        (status, text) = await Post("application/json", "http://evil.example");
        Assert.Equal(HttpStatusCode.Forbidden, status);
        (status, _) = await Post(null, "http://evil.example", HttpMethod.Delete, "/api/jobs/nope");
        Assert.Equal(HttpStatusCode.Forbidden, status);
        (status, text) = await Post("text/plain", null);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, status);
        Assert.Equal("job spec: Content-Type must be application/json (got text/plain)", (string)JsonNode.Parse(text)!["error"]!);
        (status, _) = await Post(null, null);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, status);
        var (_, jobs) = await SendAsync(http, HttpMethod.Get, "/api/jobs");
        Assert.Empty(jobs!.AsArray());

        (status, text) = await Post("application/json; charset=utf-8", "http://localhost");
        Assert.True(status == HttpStatusCode.Accepted, text);
        string id = (string)JsonNode.Parse(text)!["id"]!;
        await WaitForAsync(http, id, j => (string)j["state"]! is "succeeded" or "stopped" or "failed");
    }

    /// <summary>
    /// Bound to loopback, the service answers only requests naming a loopback host: a DNS-rebinding page (its own name
    /// resolving to 127.0.0.1, so same-origin with the service as far as the browser knows) is refused, reads as well.
    /// </summary>
    [Fact]
    public async Task A_loopback_service_refuses_requests_that_name_another_host()
    {
        using var state = new TempDir();
        await using var service = await cluster.StartServiceAsync(state.Path, loopbackHttp: true);
        using var http = service.App.GetTestClient();
        foreach (var host in new[] { "localhost", "127.0.0.1:8080", "[::1]:8080" })
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/jobs");
            request.Headers.Host = host;
            using var response = await http.SendAsync(request);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{host}: {response.StatusCode}");
        }
        foreach (var method in new[] { HttpMethod.Get, HttpMethod.Post })
        {
            using var request = new HttpRequestMessage(method, "/api/jobs");
            request.Headers.Host = "rebound.example:8080";
            request.Headers.Add("Origin", "http://rebound.example:8080");
            if (method == HttpMethod.Post) request.Content = new StringContent(Spec, Encoding.UTF8, "application/json");
            using var response = await http.SendAsync(request);
            Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
            Assert.Equal("request refused: Host rebound.example is not a loopback name, and this service answers only at its loopback address",
                (string)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]!);
        }
        var (_, jobs) = await SendAsync(http, HttpMethod.Get, "/api/jobs");
        Assert.Empty(jobs!.AsArray());
    }

    [Fact]
    public async Task Unknown_jobs_files_and_paths_get_404()
    {
        using var state = new TempDir();
        await using var service = await cluster.StartServiceAsync(state.Path);
        using var http = service.App.GetTestClient();
        foreach (var (method, path) in new[]
                 {
                     (HttpMethod.Get, "/api/jobs/nope"), (HttpMethod.Delete, "/api/jobs/nope"), (HttpMethod.Get, "/api/jobs/nope/events"),
                     (HttpMethod.Get, "/api/jobs/nope/files/x.npy"), (HttpMethod.Get, "/api/nothing"),
                 })
        {
            var (status, body) = await SendAsync(http, method, path);
            Assert.True(status == HttpStatusCode.NotFound, $"{method} {path}: {status}");
            Assert.False(string.IsNullOrEmpty((string?)body!["error"]), $"{method} {path}: {body}");
        }
        Assert.Equal("no job 'nope'", (string?)(await SendAsync(http, HttpMethod.Get, "/api/jobs/nope")).Body!["error"]);
        // A method a path does not take: 405 naming the ones it does (it was a 404, "no such API endpoint").
        foreach (var (method, path, allowed) in new[]
                 {
                     (HttpMethod.Put, "/api/jobs", "GET, HEAD, POST"), (HttpMethod.Post, "/api/jobs/nope", "GET, HEAD, DELETE"),
                     (HttpMethod.Delete, "/api/cluster", "GET, HEAD"), (HttpMethod.Post, "/metrics", "GET, HEAD"), (HttpMethod.Post, "/", "GET, HEAD"),
                     (HttpMethod.Post, "/api/jobs/nope/files/x.npy", "GET, HEAD"), (HttpMethod.Put, "/api/jobs/nope/events", "GET, HEAD"),
                 })
        {
            using var response = await http.SendAsync(new HttpRequestMessage(method, path));
            Assert.True(response.StatusCode == HttpStatusCode.MethodNotAllowed, $"{method} {path}: {response.StatusCode}");
            Assert.Equal(allowed, string.Join(", ", response.Content.Headers.Allow));
            Assert.Equal($"{method} {path}: method not allowed (allowed: {allowed})", (string?)JsonNode.Parse(await response.Content.ReadAsStringAsync())!["error"]);
        }
        Assert.Equal(HttpStatusCode.NotFound, (await SendAsync(http, HttpMethod.Post, "/api/nothing")).Status);

        string id = await SubmitAsync(http, Spec);
        var job = await WaitForAsync(http, id, Ended);
        foreach (string name in new[] { "y.npy", "..%2Fjobs.db", "checkpoint.bin" })
        {
            var (status, body) = await SendAsync(http, HttpMethod.Get, $"/api/jobs/{id}/files/{name}");
            Assert.True(status == HttpStatusCode.NotFound, $"{name}: {status} {body}");
        }
        Assert.Equal("succeeded", (string?)job["state"]);
    }

    /// <summary>
    /// HEAD is answered as GET without the body wherever GET is served: the same status, content type and length (it
    /// was 405 "allowed: GET"); a running job's event stream answers its headers at once instead of following the job.
    /// </summary>
    [Fact]
    public async Task HEAD_is_answered_like_GET_without_a_body_wherever_GET_is_served()
    {
        using var state = new TempDir();
        await using var service = await cluster.StartServiceAsync(state.Path);
        using var http = service.App.GetTestClient();
        string done = await SubmitAsync(http, Spec);
        await WaitForAsync(http, done, Ended);
        string running = await SubmitAsync(http, LongSpec);
        await WaitForAsync(http, running, j => (string?)j["state"] == "running");

        // Stable answers (an ended job, its files, the dashboard's files, 404s) have the same Content-Length as GET's body;
        // the job list, the cluster view and the metrics change with the running job between the two requests.
        foreach (var (path, stable) in new[]
                 {
                     ("/api/jobs", false), ($"/api/jobs/{done}", true), ($"/api/jobs/{done}/events", false),
                     ($"/api/jobs/{done}/files/report.json", true), ($"/api/jobs/{done}/files/x.npy", true), ("/api/cluster", false),
                     ("/metrics", false), ("/", true), ("/app.js", true), ("/api/jobs/nope", true), ($"/api/jobs/{done}/files/nope.npy", true),
                     ("/api/nothing", true), ("/nothing.js", true),
                 })
        {
            using var get = await http.SendAsync(new HttpRequestMessage(HttpMethod.Get, path));
            byte[] body = await get.Content.ReadAsByteArrayAsync();
            using var head = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, path));
            Assert.True(get.StatusCode == head.StatusCode, $"HEAD {path}: {head.StatusCode}, GET {get.StatusCode}");
            Assert.Equal(get.Content.Headers.ContentType?.ToString(), head.Content.Headers.ContentType?.ToString());
            Assert.Empty(await head.Content.ReadAsByteArrayAsync());
            if (stable && get.Content.Headers.ContentLength is long length)
                Assert.True(head.Content.Headers.ContentLength == length && length == body.Length,
                    $"HEAD {path}: Content-Length {head.Content.Headers.ContentLength}, GET's {length}");
        }
        // A running job's stream: the headers now, not at the job's end.
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        using var stream = await http.SendAsync(new HttpRequestMessage(HttpMethod.Head, $"/api/jobs/{running}/events"), cts.Token);
        Assert.Equal(HttpStatusCode.OK, stream.StatusCode);
        Assert.Equal("text/event-stream", stream.Content.Headers.ContentType?.MediaType);
        Assert.Empty(await stream.Content.ReadAsByteArrayAsync(cts.Token));
        Assert.Equal("running", (string?)(await SendAsync(http, HttpMethod.Get, $"/api/jobs/{running}")).Body!["state"]);
        await SendAsync(http, HttpMethod.Delete, $"/api/jobs/{running}");
        await WaitForAsync(http, running, Ended);
    }

    [Fact]
    public async Task A_job_runs_on_the_cluster_and_gives_the_files_trace_and_x_of_the_same_solve_on_the_command_line()
    {
        using var state = new TempDir();
        await using var service = await cluster.StartServiceAsync(state.Path);
        using var http = service.App.GetTestClient();
        string id = await SubmitAsync(http, Spec);

        // The event stream: the whole job from its queued state to its end, iterations in order.
        var events = new List<(string Name, string Data)>();
        await new ServiceClient(http).FollowEventsAsync(id, (name, data) => events.Add((name, data)), CancellationToken.None);
        Assert.Equal(("state", """{"state":"queued"}"""), events[0]);
        Assert.Equal(("state", """{"state":"succeeded","condition":"converged"}"""), events[^1]);
        Assert.Contains(("state", """{"state":"running"}"""), events);
        Assert.Contains(events, e => e.Name == "note" && e.Data.Contains(" joined from akka.tcp://distsoftmax@127.0.0.1:"));
        var iterations = events.Where(e => e.Name == "iteration").Select(e => JsonNode.Parse(e.Data)!).ToArray();
        Assert.Equal(Enumerable.Range(0, iterations.Length), iterations.Select(e => (int)e["iteration"]!));

        var (status, job) = await SendAsync(http, HttpMethod.Get, $"/api/jobs/{id}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("succeeded", (string?)job!["state"]);
        Assert.Equal(0, (int?)job["exitCode"]);
        Assert.Equal("newton", (string?)job["spec"]!["solver"]);
        Assert.Equal(["convergence.png", "report.json", "x.npy"], job["files"]!.AsArray().Select(f => (string)f!));
        Assert.Equal(2, job["shards"]!.AsArray().Count);
        Assert.All(job["shards"]!.AsArray(), s => Assert.StartsWith("akka.tcp://distsoftmax@127.0.0.1:", (string?)s!["owner"]));
        Assert.Equal(3000, job["shards"]!.AsArray().Sum(s => (long)s!["rows"]!));
        Assert.NotNull(job["submittedAt"]);
        Assert.NotNull(job["endedAt"]);

        // The trace is report.json's, entry for entry, and the stream carried the same entries.
        byte[] reportBytes = await http.GetByteArrayAsync($"/api/jobs/{id}/files/report.json");
        var report = JsonNode.Parse(reportBytes)!;
        var trace = job["trace"]!.AsArray();
        Assert.Equal(report["trace"]!.AsArray().Count, trace.Count);
        for (int i = 0; i < trace.Count; i++)
        {
            Assert.True(JsonNode.DeepEquals(report["trace"]![i], trace[i]), $"entry {i}: {report["trace"]![i]} vs {trace[i]}");
            Assert.True(JsonNode.DeepEquals(iterations[i], trace[i]), $"streamed entry {i}");
        }
        Assert.Equal("cluster", (string?)report["backend"]);
        Assert.Equal(2, (int?)report["workers"]);
        Assert.Equal(reportBytes, File.ReadAllBytes(Path.Combine(state.Path, "jobs", id, "report.json")));

        // x equals the command line's solve with the same shard layout (local simulation, 2 workers).
        var local = Cli.Run(cluster.Data.Path, "solve", "--A", "inst/A.npy", "--b", "inst/b.npy", "--solver", "newton", "--workers", "2", "--out-dir", $"local-{id}");
        Assert.True(local.Code == 0, local.ToString());
        string downloaded = state.File("x-downloaded.npy");
        File.WriteAllBytes(downloaded, await http.GetByteArrayAsync($"/api/jobs/{id}/files/x.npy"));
        var x = NpyBytes.Read(downloaded).Values;
        var expected = NpyBytes.Read(cluster.Data.File($"local-{id}/x.npy")).Values;
        Assert.Equal(expected.Length, x.Length);
        for (int i = 0; i < x.Length; i++) Assert.True(Math.Abs(x[i] - expected[i]) <= 1e-10, $"x[{i}] = {x[i]} vs {expected[i]}");
        var png = await http.GetAsync($"/api/jobs/{id}/files/convergence.png");
        Assert.Equal("image/png", png.Content.Headers.ContentType?.MediaType);

        // The job list, the cluster view and the metrics.
        var (_, list) = await SendAsync(http, HttpMethod.Get, "/api/jobs");
        var row = list!.AsArray().Single()!;
        Assert.Equal(id, (string?)row["id"]);
        Assert.Equal("normalized", (string?)row["problem"]);
        Assert.Equal(trace.Count - 1, (int?)row["iterations"]);
        Assert.True(JsonNode.DeepEquals(trace[^1]!["loss"], row["loss"]));

        var (_, view) = await SendAsync(http, HttpMethod.Get, "/api/cluster");
        Assert.Equal(cluster.Node.Address.ToString(), (string?)view!["self"]);
        var members = view["members"]!.AsArray();
        Assert.Equal(2, members.Count);
        var worker = members.Single(m => m!["roles"]!.AsArray().Any(r => (string?)r == "worker"))!;
        Assert.Equal("up", (string?)worker["status"]);
        Assert.True((int?)worker["cores"] >= 1, worker.ToJsonString());
        Assert.NotNull(worker["cachedSources"]);
        Assert.Equal(0, (int?)view["jobs"]!["running"]);

        string metrics = await http.GetStringAsync("/metrics");
        Assert.Contains("distsoftmax_jobs{state=\"succeeded\"} 1\n", metrics);
        Assert.Contains($"distsoftmax_steps_total {trace.Count}\n", metrics);
        Assert.Contains("distsoftmax_workers 1\n", metrics);
        Assert.Contains($"distsoftmax_step_seconds_count {trace.Count - 1}\n", metrics);
        Assert.Contains("distsoftmax_shard_cache_misses_total{worker=\"akka.tcp://distsoftmax@127.0.0.1:", metrics);
        // The job's requests went to the worker node and its replies came back through the serializer.
        foreach (string direction in new[] { "sent", "received" })
        {
            var line = metrics.Split('\n').Single(l => l.StartsWith($"distsoftmax_wire_bytes_total{{direction=\"{direction}\"}} "));
            Assert.True(long.Parse(line.Split(' ')[1]) > 0, line);
        }
    }

    /// <summary>
    /// A solve that reaches its iteration limit ran correctly and wrote its files; the command line exits 3 and says
    /// "stopped without meeting the tolerance (max-iterations)". The job ends "stopped" with that condition (it was
    /// recorded "failed", like a job that could not run), in the API, the event stream, /metrics and the database.
    /// </summary>
    [Fact]
    public async Task A_job_that_reaches_its_iteration_limit_ends_stopped_with_its_condition_not_failed()
    {
        using var state = new TempDir();
        string id;
        JsonNode job;
        await using (var service = await cluster.StartServiceAsync(state.Path))
        {
            using var http = service.App.GetTestClient();
            id = await SubmitAsync(http, """{"A": "inst/A.npy", "b": "inst/b.npy", "solver": "gd", "tol": 1e-300, "absTol": 0, "maxIter": 2}""");
            var events = new List<(string Name, string Data)>();
            await new ServiceClient(http).FollowEventsAsync(id, (name, data) => events.Add((name, data)), CancellationToken.None);
            Assert.Equal(("state", """{"state":"stopped","condition":"max-iterations"}"""), events[^1]);

            job = (await SendAsync(http, HttpMethod.Get, $"/api/jobs/{id}")).Body!;
            Assert.Equal("stopped", (string?)job["state"]);
            Assert.Equal("max-iterations", (string?)job["condition"]);
            Assert.Equal(ExitCodes.NotConverged, (int?)job["exitCode"]);
            Assert.StartsWith("stopped without meeting the tolerance (max-iterations): reached 2 iterations", (string?)job["message"]);
            Assert.Equal(["convergence.png", "report.json", "x.npy"], job["files"]!.AsArray().Select(f => (string)f!));
            var report = JsonNode.Parse(await http.GetByteArrayAsync($"/api/jobs/{id}/files/report.json"))!;
            Assert.Equal("max-iterations", (string?)report["exit"]);

            var row = (await SendAsync(http, HttpMethod.Get, "/api/jobs")).Body!.AsArray().Single()!;
            Assert.Equal("stopped", (string?)row["state"]);
            Assert.Equal("max-iterations", (string?)row["condition"]);
            string metrics = await http.GetStringAsync("/metrics");
            Assert.Contains("distsoftmax_jobs{state=\"stopped\"} 1\n", metrics);
            Assert.Contains("distsoftmax_jobs{state=\"failed\"} 0\n", metrics);

            // A job that converges carries its condition too.
            string converged = await SubmitAsync(http, Spec);
            var done = await WaitForAsync(http, converged, Ended);
            Assert.Equal("succeeded", (string?)done["state"]);
            Assert.Equal("converged", (string?)done["condition"]);
        }
        // The database keeps the state and the condition; the replayed stream ends with both.
        await using (var service = await cluster.StartServiceAsync(state.Path))
        {
            using var http = service.App.GetTestClient();
            var after = (await SendAsync(http, HttpMethod.Get, $"/api/jobs/{id}")).Body!;
            Assert.Equal("stopped", (string?)after["state"]);
            Assert.Equal("max-iterations", (string?)after["condition"]);
            var events = new List<(string Name, string Data)>();
            await new ServiceClient(http).FollowEventsAsync(id, (name, data) => events.Add((name, data)), CancellationToken.None);
            Assert.Equal(("state", """{"state":"stopped","condition":"max-iterations"}"""), events[^1]);
        }
    }

    [Fact]
    public void A_job_ends_stopped_only_after_a_solve_that_ran_short_of_the_tolerance()
    {
        Assert.Equal(JobState.Succeeded, JobManager.EndState(false, ExitCodes.Ok, "converged"));
        foreach (string condition in new[] { "max-iterations", "stalled", "diverged" })
            Assert.Equal(JobState.Stopped, JobManager.EndState(false, ExitCodes.NotConverged, condition));
        // Cancelled by DELETE (or by the service stopping), whatever the solve said.
        Assert.Equal(JobState.Cancelled, JobManager.EndState(true, ExitCodes.NotConverged, "cancelled"));
        Assert.Equal(JobState.Cancelled, JobManager.EndState(true, ExitCodes.NotConverged, null));
        // Exit 3 without a solve (cancelled before its first iteration, not by the job's DELETE), and any other failure.
        Assert.Equal(JobState.Failed, JobManager.EndState(false, ExitCodes.NotConverged, null));
        Assert.Equal(JobState.Failed, JobManager.EndState(false, ExitCodes.NotConverged, "cancelled"));
        Assert.Equal(JobState.Failed, JobManager.EndState(false, ExitCodes.Internal, null));
        Assert.Equal(JobState.Failed, JobManager.EndState(false, ExitCodes.BadInput, null));
        Assert.Equal(JobState.Failed, JobManager.EndState(false, ExitCodes.Internal, "converged")); // --save could not be written
    }

    [Fact]
    public async Task Cancelling_a_running_job_stops_it_with_its_files_and_a_queued_one_at_once()
    {
        using var state = new TempDir();
        await using var service = await cluster.StartServiceAsync(state.Path, maxJobs: 1);
        using var http = service.App.GetTestClient();
        string running = await SubmitAsync(http, LongSpec);
        string queued = await SubmitAsync(http, Spec);
        await WaitForAsync(http, running, j => j["trace"]!.AsArray().Count >= 3);
        Assert.Equal("queued", (string?)(await SendAsync(http, HttpMethod.Get, $"/api/jobs/{queued}")).Body!["state"]);

        var (status, cancelledQueued) = await SendAsync(http, HttpMethod.Delete, $"/api/jobs/{queued}");
        Assert.Equal(HttpStatusCode.OK, status);
        Assert.Equal("cancelled", (string?)cancelledQueued!["state"]);
        Assert.Empty(cancelledQueued["files"]!.AsArray());

        var (status2, _) = await SendAsync(http, HttpMethod.Delete, $"/api/jobs/{running}");
        Assert.Equal(HttpStatusCode.OK, status2);
        var job = await WaitForAsync(http, running, Ended);
        Assert.Equal("cancelled", (string?)job["state"]);
        Assert.Equal(3, (int?)job["exitCode"]);
        Assert.Contains("x.npy", job["files"]!.AsArray().Select(f => (string?)f));
        var report = JsonNode.Parse(await http.GetByteArrayAsync($"/api/jobs/{running}/files/report.json"))!;
        Assert.Equal("cancelled", (string?)report["exit"]);
        // Cancelling an ended job changes nothing.
        var (status3, again) = await SendAsync(http, HttpMethod.Delete, $"/api/jobs/{running}");
        Assert.Equal(HttpStatusCode.OK, status3);
        Assert.Equal("cancelled", (string?)again!["state"]);
        Assert.Equal("cancelled", (string?)(await SendAsync(http, HttpMethod.Get, $"/api/jobs/{queued}")).Body!["state"]);
    }

    [Fact]
    public async Task A_full_queue_refuses_submissions_with_503_until_a_place_is_free()
    {
        using var state = new TempDir();
        await using var service = await cluster.StartServiceAsync(state.Path, maxJobs: 1, maxQueued: 1);
        using var http = service.App.GetTestClient();
        string first = await SubmitAsync(http, LongSpec);
        await WaitForAsync(http, first, j => (string?)j["state"] == "running");
        string second = await SubmitAsync(http, LongSpec);
        var (status, body) = await SendAsync(http, HttpMethod.Post, "/api/jobs", Spec);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, status);
        Assert.Equal("the queue is full (1 jobs waiting; serve --max-queued); try again later", (string?)body!["error"]);
        var (_, view) = await SendAsync(http, HttpMethod.Get, "/api/cluster");
        Assert.Equal(1, (int?)view!["jobs"]!["queued"]);
        Assert.Equal(1, (int?)view["jobs"]!["running"]);

        await SendAsync(http, HttpMethod.Delete, $"/api/jobs/{second}");
        string third = await SubmitAsync(http, Spec);
        await SendAsync(http, HttpMethod.Delete, $"/api/jobs/{first}");
        Assert.Equal("succeeded", (string?)(await WaitForAsync(http, third, Ended))["state"]);
        Assert.Equal("cancelled", (string?)(await WaitForAsync(http, first, Ended))["state"]);
    }

    [Fact]
    public async Task Job_records_outlive_the_service_in_its_database()
    {
        using var state = new TempDir();
        string id;
        JsonNode before;
        await using (var service = await cluster.StartServiceAsync(state.Path))
        {
            using var http = service.App.GetTestClient();
            id = await SubmitAsync(http, Spec);
            before = await WaitForAsync(http, id, Ended);
        }
        await using (var service = await cluster.StartServiceAsync(state.Path))
        {
            using var http = service.App.GetTestClient();
            var (status, after) = await SendAsync(http, HttpMethod.Get, $"/api/jobs/{id}");
            Assert.Equal(HttpStatusCode.OK, status);
            foreach (string key in new[] { "state", "spec", "message", "exitCode", "trace", "shards", "files", "submittedAt", "startedAt", "endedAt" })
                Assert.True(JsonNode.DeepEquals(before[key], after![key]), $"{key}: {before[key]} vs {after[key]}");
            var events = new List<string>();
            await new ServiceClient(http).FollowEventsAsync(id, (name, _) => events.Add(name), CancellationToken.None);
            Assert.Equal(before["trace"]!.AsArray().Count, events.Count(e => e == "iteration"));
            Assert.Equal("state", events[^1]);
        }
    }

    [Fact]
    public void Spec_keys_are_the_solve_options_in_camel_case()
    {
        foreach (var (key, option) in new[] { ("maxIter", "--max-iter"), ("wScalar", "--w-scalar"), ("A1", "--A1"), ("B", "--B"), ("x0", "--x0"), ("tol", "--tol") })
        {
            Assert.Equal(option, JobSpec.OptionName(key));
            Assert.Equal(key, JobSpec.Key(option));
        }
        using var doc = JsonDocument.Parse("""{"problem": "rescaled", "maxIter": 7, "uniformSampling": true, "x0": null}""");
        Assert.Equal(["--problem=rescaled", "--max-iter=7", "--uniform-sampling=true"], JobSpec.ToArguments(doc.RootElement));
    }
}
