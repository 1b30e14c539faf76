using System.Net.Sockets;
using System.Diagnostics;
using Akka.Actor;
using Akka.Cluster;
using AkkaCluster = Akka.Cluster.Cluster;

namespace DistSoftmax.Cluster.Hosting;

/// <summary>
/// Before a cluster job starts its ActorSystem: checks that at least one seed node accepts a TCP connection. Akka's own
/// join retries an unreachable seed forever, logging an association warning every few seconds, so without this a
/// mistyped address or a stopped worker showed up only as the 30 s join timeout. A refused connection is retried every
/// 250 ms until the timeout (a job started together with its workers waits for them to bind their ports). The probe opens and closes a plain TCP connection (no
/// Akka handshake), which the seed's transport sees as a peer that went away.
/// </summary>
public static class SeedProbe
{
    /// <summary>The default of <c>distsoftmax.cluster.seed-timeout</c>.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Returns when some seed of <paramref name="seeds"/> accepts a connection; throws
    /// <see cref="SeedsUnreachableException"/> when none does within <paramref name="timeout"/>.
    /// </summary>
    public static async Task EnsureReachableAsync(IReadOnlyList<Address> seeds, TimeSpan timeout, CancellationToken ct)
    {
        if (seeds.Count == 0) return;
        using var window = CancellationTokenSource.CreateLinkedTokenSource(ct);
        window.CancelAfter(timeout);
        var attempts = seeds.Select(s => TryConnectAsync(s, window.Token)).ToList();
        var failures = new List<string>();
        while (attempts.Count > 0)
        {
            var done = await Task.WhenAny(attempts).ConfigureAwait(false);
            attempts.Remove(done);
            string? failure = await done.ConfigureAwait(false);
            if (failure is null)
            {
                window.Cancel(); // the others need not finish
                return;
            }
            failures.Add(failure);
        }
        ct.ThrowIfCancellationRequested();
        throw new SeedsUnreachableException(seeds.Select(HostPort).ToArray(), timeout,
            string.Join("; ", failures.Distinct()));
    }

    /// <summary>
    /// After the job's ActorSystem started joining <paramref name="seeds"/>: returns once a seed has answered the join
    /// (its gossip lists a member other than this node) or this node is Up; throws <see cref="SeedsUnreachableException"/>
    /// when neither happens within <paramref name="timeout"/>: a port that accepts connections but is no cluster node
    /// of this system (another service, a TLS mismatch, a different system name).
    /// </summary>
    public static async Task EnsureAnsweredAsync(ActorSystem system, IReadOnlyList<Address> seeds, TimeSpan timeout, CancellationToken ct)
    {
        if (seeds.Count == 0) return;
        var cluster = AkkaCluster.Get(system);
        var clock = Stopwatch.StartNew();
        while (clock.Elapsed < timeout)
        {
            var state = cluster.State;
            if (state.Members.Any(m => m.Address != cluster.SelfAddress) || cluster.SelfMember.Status == MemberStatus.Up) return;
            if (system.WhenTerminated.IsCompleted) return; // the wait for Up reports a stopped system
            await Task.Delay(50, ct).ConfigureAwait(false);
        }
        throw new SeedsUnreachableException(seeds.Select(HostPort).ToArray(), timeout,
            "a connection was accepted but no cluster node answered the join: another service on that port, a TLS mismatch or another system name");
    }

    /// <summary>Null when <paramref name="seed"/> accepted a connection before <paramref name="ct"/> fired, else why not
    /// (the last attempt's reason).</summary>
    private static async Task<string?> TryConnectAsync(Address seed, CancellationToken ct)
    {
        if (seed.Host is null || seed.Port is null) return $"{seed} has no host and port";
        string reason = "no answer";
        while (!ct.IsCancellationRequested)
        {
            string? failure = await ConnectOnceAsync(seed, ct).ConfigureAwait(false);
            if (failure is null) return null;
            if (failure != "no answer") reason = failure;
            try { await Task.Delay(250, ct).ConfigureAwait(false); }
            catch (OperationCanceledException) { break; }
        }
        return reason;
    }

    private static async Task<string?> ConnectOnceAsync(Address seed, CancellationToken ct)
    {
        using var client = new TcpClient();
        try
        {
            await client.ConnectAsync(seed.Host!, seed.Port!.Value, ct).ConfigureAwait(false);
            return null;
        }
        catch (OperationCanceledException) { return "no answer"; }
        catch (SocketException e) { return e.SocketErrorCode switch
        {
            SocketError.ConnectionRefused => "connection refused",
            SocketError.HostNotFound or SocketError.NoData or SocketError.TryAgain => $"unknown host {seed.Host}",
            _ => e.Message,
        }; }
    }

    private static string HostPort(Address a) => $"{a.Host}:{a.Port}";
}
