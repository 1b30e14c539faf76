using Microsoft.Net.Http.Headers;
using System.Reflection;
using System.Text;
using System.Text.Json.Nodes;
using DistSoftmax.Cluster.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.StaticFiles;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace DistSoftmax.Cli.Service;

/// <summary>
/// The service's HTTP side (ASP.NET Core minimal APIs on Kestrel, in the process of its cluster node): the job API,
/// the cluster view, /metrics and the embedded dashboard at /. Only the serve command reaches this type, so no other
/// command loads ASP.NET Core. The API (all JSON camelCase; errors are {"error": "…"}):
/// <list type="bullet">
/// <item>POST /api/jobs (a spec: solve's options in camelCase) → 202 {"id"}; 400 bad spec; 503 queue full.</item>
/// <item>GET /api/jobs → job summaries; GET /api/jobs/{id} → the job with its trace, shards and files; 404 unknown.</item>
/// <item>GET /api/jobs/{id}/events → server-sent events (iteration, state, note), the past first, ending after the final state
/// (or after the note of a job the service's stop interrupted).</item>
/// <item>DELETE /api/jobs/{id} → cancel, 200 with the job.</item>
/// <item>GET /api/jobs/{id}/files/{name} → a file the job wrote; GET /api/cluster; GET /metrics; GET / (dashboard).</item>
/// <item>HEAD wherever GET is served: the same status and headers, no body (an event stream answers its headers at once).</item>
/// </list>
/// </summary>
internal sealed class ServiceHost : IAsyncDisposable
{
    /// <summary>Largest job spec accepted (bytes): a spec is a few option names and paths.</summary>
    public const int MaxSpecBytes = 1 << 20;
    /// <summary>An idle event stream sends a comment this often, so proxies keep it open.</summary>
    public static readonly TimeSpan KeepAlive = TimeSpan.FromSeconds(15);
    private static readonly FileExtensionContentTypeProvider ContentTypes = new();
    /// <summary>The methods of every route that reads: HEAD is answered as GET without the body (RFC 9110, 9.3.2).</summary>
    private static readonly string[] ReadMethods = [HttpMethods.Get, HttpMethods.Head];

    private readonly JobStore _store;

    public WebApplication App { get; }
    public JobManager Jobs { get; }
    public ServiceMetrics Metrics { get; }
    public ClusterView Cluster { get; }

    /// <summary><see cref="ServiceOptions.LoopbackHttp"/>: only requests naming a loopback host are answered.</summary>
    private readonly bool _loopbackHttp;

    private ServiceHost(WebApplication app, JobStore store, JobManager jobs, ServiceMetrics metrics, ClusterView cluster, bool loopbackHttp)
    {
        _loopbackHttp = loopbackHttp;
        App = app;
        _store = store;
        Jobs = jobs;
        Metrics = metrics;
        Cluster = cluster;
    }

    /// <summary>
    /// The service over <paramref name="node"/> (already started): opens the job database, restores its jobs and maps
    /// the API. <paramref name="configure"/> chooses the server (Kestrel's URLs, or the tests' in-memory server).
    /// </summary>
    public static ServiceHost Create(ServiceOptions options, CoordinatorNode node, Action<WebApplicationBuilder> configure)
    {
        var store = new JobStore(options.Database);
        try
        {
            var metrics = new ServiceMetrics();
            ClusterView? view = null;
            var jobs = new JobManager(options, store, metrics,
                job => new ServiceClusterBackend(node, job, options.MinWorkers, e => view?.Observe(e)));
            view = new ClusterView(node, jobs);
            var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [], ContentRootPath = options.StateDirectory });
            // One line per message on stderr, warnings and above (a request is not worth a line).
            builder.Logging.ClearProviders();
            builder.Logging.SetMinimumLevel(LogLevel.Warning);
            builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.IncludeScopes = false; });
            builder.Services.Configure<Microsoft.Extensions.Logging.Console.ConsoleLoggerOptions>(o => o.LogToStandardErrorThreshold = LogLevel.Trace);
            // The host logs a failure to start (an HTTP port in use) with the exception's stack trace; serve reports it
            // itself as one line (--http-port: …).
            builder.Logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.None);
            configure(builder);
            var app = builder.Build();
            var host = new ServiceHost(app, store, jobs, metrics, view, options.LoopbackHttp);
            host.Map();
            jobs.Restore();
            return host;
        }
        catch
        {
            store.Dispose();
            throw;
        }
    }

    public Task StartAsync(CancellationToken ct = default) => App.StartAsync(ct);

    /// <summary>Cancels the running jobs (they write their files), stops the server and closes the database.</summary>
    public async ValueTask DisposeAsync()
    {
        await Jobs.StopAsync().ConfigureAwait(false);
        await App.StopAsync().ConfigureAwait(false);
        await App.DisposeAsync().ConfigureAwait(false);
        _store.Dispose();
    }

    private void Map()
    {
        // HEAD: the GET route runs (same status and headers, Content-Length included) and what it writes is dropped here,
        // whatever the server (Kestrel drops it too; the tests' in-memory server would not). File and stream results write
        // no body for HEAD themselves, so no file is read for nothing.
        App.Use(async (http, next) =>
        {
            if (HttpMethods.IsHead(http.Request.Method)) http.Response.Body = Stream.Null;
            await next(http);
        });
        // A request that changes something, sent by a page of another site: refused before it runs (see CrossSiteRefusal).
        App.Use(async (http, next) =>
        {
            if (((_loopbackHttp ? ForeignHostRefusal(http.Request) : null) ?? CrossSiteRefusal(http.Request)) is { } refusal)
            {
                await Error(StatusCodes.Status403Forbidden, refusal).ExecuteAsync(http);
                return;
            }
            await next(http);
        });
        App.MapPost("/api/jobs", (Func<HttpContext, Task<IResult>>)SubmitAsync);
        MapRead("/api/jobs", () => Json(new JsonArray(Jobs.All().Select(j => (JsonNode)JobJson.Summary(j)).ToArray())));
        MapRead("/api/jobs/{id}", (string id) => Jobs.Get(id) is { } job ? Json(JobJson.Detail(job)) : UnknownJob(id));
        App.MapDelete("/api/jobs/{id}", (string id) => Jobs.Cancel(id) is { } job ? Json(JobJson.Detail(job)) : UnknownJob(id));
        MapRead("/api/jobs/{id}/events", EventsAsync);
        MapRead("/api/jobs/{id}/files/{name}", (string id, string name) =>
        {
            if (Jobs.Get(id) is not { } job) return UnknownJob(id);
            if (JobJson.FilePath(job, name) is not { } path)
                return Error(StatusCodes.Status404NotFound, $"job {id} has no file '{name}' (files: {string.Join(", ", JobJson.Files(job))})");
            return Results.File(path, ContentType(name), name);
        });
        MapRead("/api/cluster", async (CancellationToken ct) => Json(await Cluster.DescribeAsync(ct)));
        MapRead("/metrics", async (CancellationToken ct) =>
        {
            var byState = Jobs.All().GroupBy(j => j.State).ToDictionary(g => g.Key, g => g.Count());
            var caches = await Cluster.WorkerCachesAsync(ct);
            return Results.Text(Metrics.Render(byState, Cluster.Workers(), caches), "text/plain; version=0.0.4; charset=utf-8");
        });
        // The dashboard's files (any path, with or without an extension: MapFallback would skip "app.js"); the API's
        // routes above are more specific and win.
        MapRead("/{**path}", (string? path) => Dashboard("/" + (path ?? "")));
        // Only requests with a method no route takes reach the fallback (its pattern takes file-like paths too, which the
        // default one skips): 405 with Allow where the path is one of ours.
        App.MapFallback("{**path}", (HttpContext http) =>
        {
            string path = http.Request.Path.Value ?? "/";
            if (AllowedMethods(path) is not { } allowed) return Dashboard(path);
            http.Response.Headers.Allow = allowed;
            return Error(StatusCodes.Status405MethodNotAllowed, $"{http.Request.Method} {path}: method not allowed (allowed: {allowed})");
        });
    }

    /// <summary>A route that reads, for GET and HEAD (<see cref="ReadMethods"/>).</summary>
    private void MapRead(string pattern, Delegate handler) => App.MapMethods(pattern, ReadMethods, handler);

    /// <summary>The methods the routes above take at <paramref name="path"/>; null for a path under /api that is none of them.</summary>
    internal static string? AllowedMethods(string path)
    {
        var s = path.Trim('/').Split('/');
        if (s[0] != "api") return "GET, HEAD";   // the metrics and the dashboard's files
        return s.Length switch
        {
            2 when s[1] == "jobs" => "GET, HEAD, POST",
            2 when s[1] == "cluster" => "GET, HEAD",
            3 when s[1] == "jobs" => "GET, HEAD, DELETE",
            4 when s[1] == "jobs" && s[3] == "events" => "GET, HEAD",
            5 when s[1] == "jobs" && s[3] == "files" => "GET, HEAD",
            _ => null,
        };
    }

    /// <summary>
    /// The API has no authentication and relies on binding to loopback, but a browser on the same machine sends any
    /// page's requests there: a POST with a "simple" content type (text/plain, a form) needs no CORS preflight, so any
    /// site the user visited could start jobs (QA audit). A request that changes something (not GET, HEAD or OPTIONS) whose
    /// Origin header names another origin than the request's own (scheme://Host) is refused, and a job spec must be sent
    /// as application/json (<see cref="SubmitAsync"/>), which a cross-site page cannot send without a preflight this
    /// service never answers. Clients that are not browsers send no Origin.
    /// </summary>
    private static string? CrossSiteRefusal(HttpRequest request)
    {
        if (HttpMethods.IsGet(request.Method) || HttpMethods.IsHead(request.Method) || HttpMethods.IsOptions(request.Method)) return null;
        string? origin = request.Headers.Origin;
        if (string.IsNullOrEmpty(origin)) return null;
        string own = $"{request.Scheme}://{request.Host.Value}";
        return string.Equals(origin, own, StringComparison.OrdinalIgnoreCase) ? null
            : $"cross-site request refused: Origin {origin} is not this service's ({own})";
    }

    /// <summary>
    /// On a loopback bind, a request whose Host is not a loopback name: a DNS-rebinding page (a name of its own that
    /// resolves to 127.0.0.1) would otherwise be same-origin with the service and could submit jobs and read results.
    /// </summary>
    private static string? ForeignHostRefusal(HttpRequest request)
    {
        string host = request.Host.Host;
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)) return null;
        if (System.Net.IPAddress.TryParse(host.Trim('[', ']'), out var address) && System.Net.IPAddress.IsLoopback(address)) return null;
        return $"request refused: Host {(host.Length == 0 ? "(none)" : host)} is not a loopback name, and this service answers only at its loopback address";
    }

    /// <summary>Whether a Content-Type header is application/json (parameters such as charset allowed).</summary>
    private static bool IsJson(string? contentType) =>
        contentType is not null && MediaTypeHeaderValue.TryParse(contentType, out var media)
        && string.Equals(media.MediaType.Value, "application/json", StringComparison.OrdinalIgnoreCase);

    private async Task<IResult> SubmitAsync(HttpContext http)
    {
        if (!IsJson(http.Request.ContentType))
            return Error(StatusCodes.Status415UnsupportedMediaType,
                $"job spec: Content-Type must be application/json (got {(string.IsNullOrEmpty(http.Request.ContentType) ? "none" : http.Request.ContentType)})");
        string body;
        // A declared length over the limit is refused before reading (Kestrel's own limit would otherwise throw from the
        // read, as an unhandled exception logged with its stack trace, and answer 413 with no body).
        if (http.Request.ContentLength > MaxSpecBytes)
            return Error(StatusCodes.Status413PayloadTooLarge, $"job spec: larger than {MaxSpecBytes} bytes");
        try
        {
            using var reader = new StreamReader(http.Request.Body, Encoding.UTF8);
            var buffer = new char[MaxSpecBytes + 1];
            int read = 0, n;
            while (read < buffer.Length && (n = await reader.ReadAsync(buffer.AsMemory(read), http.RequestAborted)) > 0) read += n;
            if (read > MaxSpecBytes) return Error(StatusCodes.Status413PayloadTooLarge, $"job spec: larger than {MaxSpecBytes} bytes");
            body = new string(buffer, 0, read);
        }
        catch (Microsoft.AspNetCore.Http.BadHttpRequestException e)
        {
            return Error(e.StatusCode, $"job spec: {e.Message}");
        }
        try
        {
            var job = await Jobs.SubmitAsync(body, http.RequestAborted);
            return Results.Json(new JsonObject { ["id"] = job.Id }, statusCode: StatusCodes.Status202Accepted);
        }
        catch (JobRejectedException e)
        {
            return Error(e.Status, e.Message);
        }
    }

    /// <summary>Server-sent events: the job's events so far, then live ones, until its final state (or its suspension by
    /// the service's stop, <see cref="ServiceJob.Suspend"/>).</summary>
    private async Task EventsAsync(HttpContext http, string id)
    {
        if (Jobs.Get(id) is not { } job)
        {
            await UnknownJob(id).ExecuteAsync(http);
            return;
        }
        var response = http.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        // HEAD: the headers of the stream, at once (following the stream to the job's end would hold the request open).
        if (HttpMethods.IsHead(http.Request.Method)) return;
        var ct = http.RequestAborted;
        int next = 0;
        try
        {
            while (true)
            {
                var (events, changed, ended) = job.ReadEvents(next);
                var text = new StringBuilder();
                foreach (var e in events) text.Append("event: ").Append(e.Kind).Append("\ndata: ").Append(e.Data).Append("\n\n");
                next += events.Count;
                if (text.Length > 0) await response.WriteAsync(text.ToString(), ct);
                await response.Body.FlushAsync(ct);
                if (ended) break;
                if (await Task.WhenAny(changed, Task.Delay(KeepAlive, ct)) != changed) await response.WriteAsync(": keep-alive\n\n", ct);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested) { /* the client went away */ }
    }

    /// <summary>The embedded dashboard (resources wwwroot/…; / is wwwroot/index.html); unknown /api paths get JSON 404s.</summary>
    private static IResult Dashboard(string path)
    {
        if (path.StartsWith("/api/", StringComparison.Ordinal) || path == "/api")
            return Error(StatusCodes.Status404NotFound, $"{path}: no such API endpoint");
        string name = path.TrimStart('/');
        if (name.Length == 0 || name.EndsWith('/')) name += "index.html";
        var stream = Assembly.GetExecutingAssembly().GetManifestResourceStream("wwwroot/" + name);
        if (stream is null)
            return Error(StatusCodes.Status404NotFound, name == "index.html"
                ? "this dist-softmax was built without the dashboard (src/DistSoftmax.Cli/Service/wwwroot)"
                : $"{path}: not found");
        return Results.Stream(stream, ContentType(name));
    }

    private static string ContentType(string name) =>
        ContentTypes.TryGetContentType(name, out var type) ? type : "application/octet-stream";

    private static IResult Json(JsonNode node) => Results.Text(node.ToJsonString(), "application/json; charset=utf-8");

    private static IResult UnknownJob(string id) => Error(StatusCodes.Status404NotFound, $"no job '{id}'");

    private static IResult Error(int status, string message) =>
        Results.Text(new JsonObject { ["error"] = message }.ToJsonString(), "application/json; charset=utf-8", statusCode: status);
}
