using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace DistSoftmax.Cli.Service;

/// <summary>
/// The command line's side of the service API (<c>solve --server</c>, <c>status --server</c>): plain HttpClient calls,
/// no ASP.NET Core. Failures are <see cref="CliInputException"/>s naming --server (unreachable, not a service) or the
/// service's own one-line message (a refused spec), so the commands print them as every other bad input.
/// </summary>
internal sealed class ServiceClient : IDisposable
{
    private readonly HttpClient _http;

    public Uri BaseAddress { get; }

    public ServiceClient(string server)
    {
        if (!Uri.TryCreate(server.EndsWith('/') ? server : server + "/", UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https"))
            throw new CliInputException("--server", $"'{server}' is not a service URL (expected http://HOST:PORT)");
        BaseAddress = uri;
        _http = new HttpClient { BaseAddress = uri, Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>A client over an existing HttpClient whose BaseAddress is the service (tests: the in-memory server's client).</summary>
    public ServiceClient(HttpClient http)
    {
        _http = http;
        BaseAddress = http.BaseAddress ?? throw new ArgumentException("the HttpClient needs a BaseAddress", nameof(http));
    }

    /// <summary>POST /api/jobs; the job's id. A refused spec is a <see cref="CliInputException"/> with the service's message.</summary>
    public async Task<string> SubmitAsync(JsonObject spec, CancellationToken ct)
    {
        using var content = new StringContent(spec.ToJsonString(), Encoding.UTF8, "application/json");
        using var response = await SendAsync(() => _http.PostAsync("api/jobs", content, ct), ct);
        var body = await ReadJsonAsync(response, ct);
        if (response.StatusCode == HttpStatusCode.BadRequest && body?["error"] is JsonValue error)
            throw new ServiceRefusedException((string)error!);
        EnsureSuccess(response, body);
        return (string?)body?["id"] ?? throw NotAService("POST /api/jobs answered without a job id");
    }

    /// <summary>GET a JSON document of the API.</summary>
    public async Task<JsonNode> GetJsonAsync(string path, CancellationToken ct)
    {
        using var response = await SendAsync(() => _http.GetAsync(path, ct), ct);
        var body = await ReadJsonAsync(response, ct);
        EnsureSuccess(response, body);
        return body ?? throw NotAService($"GET /{path} answered no JSON");
    }

    /// <summary>DELETE /api/jobs/{id}: asks the service to stop the job.</summary>
    public async Task CancelAsync(string id)
    {
        using var response = await SendAsync(() => _http.DeleteAsync($"api/jobs/{Uri.EscapeDataString(id)}"), CancellationToken.None);
    }

    /// <summary>GET /api/jobs/{id}/files/{name}.</summary>
    public async Task<byte[]> DownloadAsync(string id, string name, CancellationToken ct)
    {
        using var response = await SendAsync(() => _http.GetAsync($"api/jobs/{Uri.EscapeDataString(id)}/files/{Uri.EscapeDataString(name)}", ct), ct);
        if (!response.IsSuccessStatusCode) EnsureSuccess(response, await ReadJsonAsync(response, ct));
        return await response.Content.ReadAsByteArrayAsync(ct);
    }

    /// <summary>
    /// Follows GET /api/jobs/{id}/events: <paramref name="onEvent"/> gets each server-sent event's name and data, in
    /// order, from the first; returns when the service ends the stream (after the job's final state).
    /// </summary>
    public async Task FollowEventsAsync(string id, Action<string, string> onEvent, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, $"api/jobs/{Uri.EscapeDataString(id)}/events");
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("text/event-stream"));
        using var response = await SendAsync(() => _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct), ct);
        if (!response.IsSuccessStatusCode) EnsureSuccess(response, await ReadJsonAsync(response, ct));
        using var reader = new StreamReader(await response.Content.ReadAsStreamAsync(ct), Encoding.UTF8);
        string? name = null;
        var data = new StringBuilder();
        while (await reader.ReadLineAsync(ct) is { } line)
        {
            if (line.Length == 0)
            {
                if (data.Length > 0) onEvent(name ?? "message", data.ToString());
                name = null;
                data.Clear();
            }
            else if (line.StartsWith("event:", StringComparison.Ordinal)) name = line[6..].Trim();
            else if (line.StartsWith("data:", StringComparison.Ordinal))
            {
                if (data.Length > 0) data.Append('\n');
                data.Append(line.AsSpan(5).TrimStart(' '));
            }
        }
    }

    public void Dispose() => _http.Dispose();

    private async Task<HttpResponseMessage> SendAsync(Func<Task<HttpResponseMessage>> send, CancellationToken ct)
    {
        try { return await send(); }
        catch (HttpRequestException e)
        {
            throw new CliInputException("--server", $"cannot reach {BaseAddress}: {Reason(e)}");
        }
        catch (TaskCanceledException) when (!ct.IsCancellationRequested)
        {
            throw new CliInputException("--server", $"{BaseAddress} did not answer");
        }
    }

    /// <summary>
    /// Why a request failed, in the user's terms: a port that answers but not as an HTTP service (a worker's or the
    /// cluster's port), a TLS handshake that failed (an https:// URL for an http:// service, or another certificate),
    /// else the innermost exception's sentence (the runtime's outer ones say only "see inner exception").
    /// </summary>
    internal static string Reason(HttpRequestException e)
    {
        string innermost = e.GetBaseException().Message;
        return e.HttpRequestError switch
        {
            HttpRequestError.ResponseEnded or HttpRequestError.InvalidResponse or HttpRequestError.HttpProtocolError =>
                "it does not answer as an HTTP service (a worker's or the cluster's port? give the URL 'dist-softmax serve' printed)",
            HttpRequestError.SecureConnectionError =>
                $"the TLS handshake failed ({innermost}); an https:// URL needs a service started with TLS, http:// one without",
            _ => innermost,
        };
    }

    private static async Task<JsonNode?> ReadJsonAsync(HttpResponseMessage response, CancellationToken ct)
    {
        string text = await response.Content.ReadAsStringAsync(ct);
        try { return text.Length == 0 ? null : JsonNode.Parse(text); }
        catch (System.Text.Json.JsonException) { return null; }
    }

    private void EnsureSuccess(HttpResponseMessage response, JsonNode? body)
    {
        if (response.IsSuccessStatusCode) return;
        if (body?["error"] is JsonValue error)
            throw new CliInputException("--server", $"{BaseAddress}: {(int)response.StatusCode}: {(string?)error}");
        throw NotAService($"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");
    }

    private CliInputException NotAService(string what) =>
        new("--server", $"{BaseAddress} is not a dist-softmax service ({what})");
}
