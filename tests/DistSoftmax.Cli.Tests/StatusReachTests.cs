using System.Net;
using System.Net.Sockets;
using System.Text;

namespace DistSoftmax.Cli.Tests;

/// <summary>
/// `status --server URL` at something that is not the service — a port that closes at once or answers garbage (a
/// worker's or the cluster's port), an https:// URL for a plain port, nothing listening — gives one line saying which,
/// with exit 2 (it was the runtime's "An error occurred while sending the request" and "see inner exception").
/// </summary>
public class StatusReachTests
{
    [Theory]
    [InlineData("http", "", "it does not answer as an HTTP service (a worker's or the cluster's port?")]
    [InlineData("http", "hello\r\n\r\n", "it does not answer as an HTTP service (a worker's or the cluster's port?")]
    [InlineData("https", "", "the TLS handshake failed (")]
    public void A_port_that_is_not_the_service_is_named_as_such(string scheme, string answer, string expected)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        using var stop = new CancellationTokenSource();
        var serving = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var client = await listener.AcceptTcpClientAsync(stop.Token);
                var stream = client.GetStream();
                var buffer = new byte[4096];
                if (answer.Length > 0)
                {
                    await stream.ReadAsync(buffer, stop.Token);   // the request, then a reply that is not HTTP
                    await stream.WriteAsync(Encoding.ASCII.GetBytes(answer), stop.Token);
                }
            }
        });
        using var dir = new TempDir();
        var run = Cli.Run(dir.Path, "status", "--server", $"{scheme}://127.0.0.1:{port}");
        stop.Cancel();
        Assert.Equal(2, run.Code);
        Assert.StartsWith($"error: --server: cannot reach {scheme}://127.0.0.1:{port}/: {expected}", Assert.Single(run.ErrLines));
        try { serving.Wait(TimeSpan.FromSeconds(5)); } catch (AggregateException) { }
    }

    [Fact]
    public void Nothing_listening_is_said_in_one_line()
    {
        int port = BackendTests.FreePort();
        using var dir = new TempDir();
        var run = Cli.Run(dir.Path, "status", "--server", $"http://127.0.0.1:{port}");
        Assert.Equal(2, run.Code);
        Assert.Equal($"error: --server: cannot reach http://127.0.0.1:{port}/: Connection refused", Assert.Single(run.ErrLines));
    }
}
