using System.Net;
using System.Net.Sockets;
using Akka.Configuration;

namespace DistSoftmax.Cluster.Hosting;

/// <summary>
/// Refuses a cluster node whose port another socket is listening on. Akka's transport opens its listener with
/// SO_REUSEADDR (tcp-reuse-addr), which .NET on Linux turns into SO_REUSEPORT as well, so a second node started on a
/// port a running node holds bound it beside that node and took its connections, and the cluster then downed the
/// running node. Before the ActorSystem starts, a probe binds the node's address and port with SO_REUSEADDR alone:
/// Linux allows that beside connections left in TIME_WAIT (a node restarted at once still starts) and refuses it
/// beside a listener, with a <see cref="SocketException"/> (address already in use) that the commands report as a bad
/// --port. Port 0 (any free port) needs no probe; elsewhere than Linux the transport's own bind decides.
/// </summary>
internal static class PortProbe
{
    private const int SolSocket = 1, SoReuseAddr = 2;   // <sys/socket.h> on Linux

    /// <summary>Throws <see cref="SocketException"/> if another socket listens on the node's configured address and port.</summary>
    public static void EnsureFree(Config config)
    {
        int port = config.GetInt("akka.remote.dot-netty.tcp.port", 0);
        if (port == 0 || !OperatingSystem.IsLinux()) return;
        string host = config.GetString("akka.remote.dot-netty.tcp.hostname", "");
        IPAddress? address = string.IsNullOrWhiteSpace(host) ? IPAddress.Any
            : IPAddress.TryParse(host, out var parsed) ? parsed
            : TryResolve(host);
        if (address is null) return;   // unresolvable: the transport reports it
        using var probe = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        probe.SetRawSocketOption(SolSocket, SoReuseAddr, BitConverter.GetBytes(1));
        probe.Bind(new IPEndPoint(address, port));
    }

    private static IPAddress? TryResolve(string host)
    {
        try { return Dns.GetHostAddresses(host).FirstOrDefault(); }
        catch (SocketException) { return null; }
    }
}
