using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Actor;
using Akka.Configuration;
using DistSoftmax.Cluster.Hosting;
using DistSoftmax.Cluster.Protocol;
using DistSoftmax.Cluster.Worker;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Statistics;
using Xunit.Abstractions;

namespace DistSoftmax.Cluster.Tests;

/// <summary>
/// The TLS settings of deploy/README-cluster.md, layered exactly as a node layers DISTSOFTMAX_CONFIG, on two
/// ActorSystems with a throw-away self-signed certificate (hence suppress-validation; mutual authentication stays on).
/// </summary>
public sealed class TlsTests(ITestOutputHelper output) : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("distsoftmax-tls").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string WriteConfig()
    {
        using var key = RSA.Create(2048);
        var request = new CertificateRequest("CN=distsoftmax-test", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var cert = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        var pfx = Path.Combine(_dir, "node.pfx");
        File.WriteAllBytes(pfx, cert.Export(X509ContentType.Pfx, "secret"));
        var conf = Path.Combine(_dir, "tls.conf");
        File.WriteAllText(conf, $$"""
            akka.remote.dot-netty.tcp {
              enable-ssl = true
              ssl {
                certificate { path = "{{pfx}}", password = "secret", flags = [ "default-key-set" ] }
                suppress-validation = true
                require-mutual-authentication = true
              }
            }
            """);
        return conf;
    }

    [Fact]
    public async Task Two_nodes_with_the_documented_tls_settings_exchange_protocol_messages()
    {
        var file = WriteConfig();
        Config Node() => ConfigurationFactory.ParseString("akka.actor.provider = remote\nakka.loglevel = WARNING")
            .WithFallback(DistSoftmaxConfig.Cluster(new NodeOptions { ConfigFile = file, Host = "127.0.0.1", Port = 0 }, ClusterRole.Worker));
        var a = ActorSystem.Create("distsoftmax", Node());
        var b = ActorSystem.Create("distsoftmax", Node());
        try
        {
            var problem = new SmallProblem(n: 50, d: 3);
            a.ActorOf(WorkerActor.Props(problem.Loader, WorkerSettings.FromConfig(a.Settings.Config)), "worker");
            var address = ((ExtendedActorSystem)a).Provider.DefaultAddress;
            Assert.Equal("akka.ssl.tcp", address.Protocol);
            var worker = await b.ActorSelection(new RootActorPath(address) / "user" / "worker").ResolveOne(TimeSpan.FromSeconds(10));
            var status = await worker.Ask<WorkerStatus>(GetWorkerStatus.Instance, TimeSpan.FromSeconds(10));
            Assert.StartsWith("akka.ssl.tcp://distsoftmax@127.0.0.1:", status.WorkerId);

            // One long-lived coordinator stand-in (the worker watches whoever assigns it a shard).
            var inbox = Inbox.Create(b);
            var range = new RowRange(0, problem.N);
            inbox.Send(worker, new CoordinatorHello("tls"));
            Assert.IsType<RegisterWorker>(await inbox.ReceiveAsync(TimeSpan.FromSeconds(10)));
            inbox.Send(worker, new WorkerRegistered("tls"));
            inbox.Send(worker, new AssignShard("tls", 1, 0, problem.Source, range));
            Assert.Equal(problem.N, Assert.IsType<ShardLoaded>(await inbox.ReceiveAsync(TimeSpan.FromSeconds(10))).Rows);
            var x = new[] { 0.1, -0.2, 0.3 };
            inbox.Send(worker, new EvaluateShard("tls", 1, 1, 0, new ScalarsRequest(x)));
            var result = Assert.IsType<ShardResult>(await inbox.ReceiveAsync(TimeSpan.FromSeconds(10)));
            var expected = problem.Loader.Load(problem.Source, range, ShardComputeOptions.Sequential).Evaluate(new ScalarsRequest(x));
            Assert.Null(DeepEquality.FirstDifference(expected, result.Reply));
            output.WriteLine($"TLS round trip with {status.WorkerId}");
        }
        finally
        {
            await Task.WhenAll(a.Terminate(), b.Terminate());
        }
    }

    private static Config Remote(NodeOptions options) => ConfigurationFactory.ParseString("akka.actor.provider = remote\nakka.loglevel = WARNING")
        .WithFallback(DistSoftmaxConfig.Cluster(options, ClusterRole.Worker));

    private static async Task<bool> Reaches(ActorSystem from, Address to, TimeSpan timeout)
    {
        try
        {
            var worker = await from.ActorSelection(new RootActorPath(to) / "user" / "worker").ResolveOne(timeout);
            await worker.Ask<WorkerStatus>(GetWorkerStatus.Instance, timeout);
            return true;
        }
        catch (Exception e) when (e is ActorNotFoundException or AskTimeoutException or TaskCanceledException) { return false; }
    }

    [Fact]
    public async Task Only_a_peer_with_the_cluster_s_credentials_can_associate_with_a_credentialed_node()
    {
        var cluster = ClusterCredentials.Create(Path.Combine(_dir, "cluster")).Directory;
        var other = ClusterCredentials.Create(Path.Combine(_dir, "other")).Directory;
        var node = new NodeOptions { Host = "127.0.0.1", Port = 0, CredentialsDirectory = cluster };
        var a = DistSoftmaxConfig.CreateClusterSystem("distsoftmax", Remote(node), node);
        var peers = new List<ActorSystem>();
        ActorSystem Peer(NodeOptions o) { var s = DistSoftmaxConfig.CreateClusterSystem("distsoftmax", Remote(o), o); peers.Add(s); return s; }
        try
        {
            a.ActorOf(WorkerActor.Props(new SmallProblem(n: 20, d: 2).Loader, WorkerSettings.FromConfig(a.Settings.Config)), "worker");
            var address = ((ExtendedActorSystem)a).Provider.DefaultAddress;
            Assert.Equal("akka.ssl.tcp", address.Protocol);
            // The same credentials: accepted.
            Assert.True(await Reaches(Peer(node), address, TimeSpan.FromSeconds(10)));
            // Another cluster's certificate (valid TLS, mutual authentication, wrong key): refused.
            Assert.False(await Reaches(Peer(node with { CredentialsDirectory = other }), address, TimeSpan.FromSeconds(3)));
            // No credentials at all: plain TCP to the TLS port is refused (and such a node has no TLS transport at all).
            var plain = Peer(new NodeOptions { Host = "127.0.0.1", Port = 0 });
            Assert.False(await Reaches(plain, new Address("akka.tcp", address.System, address.Host, address.Port), TimeSpan.FromSeconds(3)));
        }
        finally
        {
            await Task.WhenAll(peers.Select(p => p.Terminate()).Append(a.Terminate()));
        }
    }

    [Fact]
    public void A_node_on_a_non_loopback_address_without_credentials_refuses_to_start_unless_insecure()
    {
        var open = new NodeOptions { Host = "0.0.0.0", Port = 0 };
        var e = Assert.Throws<InsecureNodeException>(() => DistSoftmaxConfig.CreateClusterSystem("distsoftmax", Remote(open), open));
        Assert.Contains("--credentials", e.Message);
        Assert.True(DistSoftmaxConfig.IsLoopback("127.0.0.1") && DistSoftmaxConfig.IsLoopback("::1") && DistSoftmaxConfig.IsLoopback("localhost"));
        Assert.False(DistSoftmaxConfig.IsLoopback("10.0.0.7") || DistSoftmaxConfig.IsLoopback("worker1") || DistSoftmaxConfig.IsLoopback(""));
        var insecure = open with { Insecure = true };
        DistSoftmaxConfig.CreateClusterSystem("distsoftmax", Remote(insecure), insecure).Terminate().Wait(TimeSpan.FromSeconds(10));
        // Credentials files are private, and never overwritten.
        var dir = ClusterCredentials.Create(Path.Combine(_dir, "c")).Directory;
        if (!OperatingSystem.IsWindows())
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(dir, ClusterCredentials.PasswordFile)));
        Assert.Throws<IOException>(() => ClusterCredentials.Create(dir));
        Assert.Throws<ArgumentException>(() => ClusterCredentials.Load(_dir));
    }
}
