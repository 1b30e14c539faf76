using DistSoftmax.Core;
using Akka.Actor;
using DistSoftmax.Cluster.Coordinator;
using DistSoftmax.Cluster.Hosting;
using DistSoftmax.Cluster.Serialization;
using DistSoftmax.Cluster.Worker;

namespace DistSoftmax.Cluster.Tests;

public sealed class ConfigTests
{
    [Fact]
    public void The_embedded_hocon_binds_the_protocol_and_core_types_to_the_project_serializer()
    {
        var c = DistSoftmaxConfig.Base;
        Assert.False(c.GetBoolean("akka.actor.serialization-settings.allow-unregistered-types", true));
        var bindings = c.GetConfig("akka.actor.serialization-bindings").AsEnumerable().ToDictionary(kv => kv.Key, kv => kv.Value.GetString());
        Assert.Equal("distsoftmax", bindings["DistSoftmax.Cluster.Protocol.IDistSoftmaxMessage, DistSoftmax.Cluster"]);
        Assert.Equal("distsoftmax", bindings["DistSoftmax.Core.Statistics.ShardRequest, DistSoftmax.Core"]);
        Assert.Equal("distsoftmax", bindings["DistSoftmax.Core.Statistics.ShardReply, DistSoftmax.Core"]);
        Assert.Equal(DistSoftmaxSerializer.SerializerId,
            c.GetInt("akka.actor.serialization-identifiers.\"DistSoftmax.Cluster.Serialization.DistSoftmaxSerializer, DistSoftmax.Cluster\""));
        Assert.Equal("local", DistSoftmaxConfig.Local().GetString("akka.actor.provider"));
        Assert.Equal("cluster", DistSoftmaxConfig.Cluster(new NodeOptions(), ClusterRole.Worker).GetString("akka.actor.provider"));
    }

    [Fact]
    public void Default_settings_are_valid_and_chunks_fit_well_inside_a_frame()
    {
        var cluster = DistSoftmaxConfig.Cluster(new NodeOptions(), ClusterRole.Worker);
        var worker = WorkerSettings.FromConfig(cluster);
        var frame = cluster.GetByteSize("akka.remote.dot-netty.tcp.maximum-frame-size")!.Value;
        Assert.Equal(1 << 20, worker.ChunkSize);
        Assert.True(worker.ChunkSize + 4096 < frame / 2, $"chunk {worker.ChunkSize} vs frame {frame}");
        var coordinator = CoordinatorSettings.FromConfig(cluster);
        Assert.Equal(TimeSpan.FromSeconds(120), coordinator.StepTimeout);
        Assert.Equal(TimeSpan.FromSeconds(30), coordinator.NoWorkerTimeout);
        Assert.Equal(frame - CoordinatorSettings.FrameOverhead, coordinator.MaxRequestBytes);
        // Issue 14: only workers count, the oldest worker decides, and instability never downs everyone.
        Assert.Equal("keep-oldest", cluster.GetString("akka.cluster.split-brain-resolver.active-strategy"));
        Assert.Equal("worker", cluster.GetString("akka.cluster.split-brain-resolver.keep-oldest.role"));
        Assert.True(cluster.GetBoolean("akka.cluster.split-brain-resolver.keep-oldest.down-if-alone"));
        Assert.Equal("off", cluster.GetString("akka.cluster.split-brain-resolver.down-all-when-unstable"));
        Assert.Equal("Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster", cluster.GetString("akka.cluster.downing-provider-class"));
        Assert.Throws<ArgumentException>(() => WorkerSettings.FromConfig(
            Akka.Configuration.ConfigurationFactory.ParseString("distsoftmax.worker.chunk-size = 10b").WithFallback(cluster)));
    }

    [Fact]
    public void Environment_variables_fill_what_the_caller_left_unset_and_explicit_arguments_win()
    {
        var env = new Dictionary<string, string>
        {
            ["DISTSOFTMAX_HOST"] = "0.0.0.0",
            ["DISTSOFTMAX_PORT"] = "4100",
            ["DISTSOFTMAX_PUBLIC_HOST"] = "worker1",
            ["DISTSOFTMAX_PUBLIC_PORT"] = "14100",
            ["DISTSOFTMAX_SEEDS"] = "worker1:4053, akka.tcp://distsoftmax@worker2:4053",
        };
        var options = new NodeOptions { Port = 5000 }.FromEnvironment(k => env.GetValueOrDefault(k));
        Assert.Equal("0.0.0.0", options.Host);
        Assert.Equal(5000, options.Port);
        var c = DistSoftmaxConfig.Cluster(options, ClusterRole.Worker);
        Assert.Equal("0.0.0.0", c.GetString("akka.remote.dot-netty.tcp.hostname"));
        Assert.Equal(5000, c.GetInt("akka.remote.dot-netty.tcp.port"));
        Assert.Equal("worker1", c.GetString("akka.remote.dot-netty.tcp.public-hostname"));
        Assert.Equal(14100, c.GetInt("akka.remote.dot-netty.tcp.public-port"));
        Assert.Equal(new[] { "akka.tcp://distsoftmax@worker1:4053", "akka.tcp://distsoftmax@worker2:4053" }, c.GetStringList("akka.cluster.seed-nodes"));
        Assert.Equal(new[] { "worker" }, c.GetStringList("akka.cluster.roles"));
        Assert.Equal(new[] { "coordinator" }, DistSoftmaxConfig.Cluster(options, ClusterRole.Coordinator).GetStringList("akka.cluster.roles"));

        Assert.Contains("DISTSOFTMAX_PORT", Assert.Throws<ArgumentException>(() =>
            new NodeOptions().FromEnvironment(k => k == "DISTSOFTMAX_PORT" ? "80a" : null)).Message);
    }

    [Fact]
    public void Seeds_accept_host_port_or_full_addresses_and_reject_anything_else()
    {
        var seeds = DistSoftmaxConfig.SeedAddresses(new[] { "10.0.0.5:4053", "akka.tcp://distsoftmax@h:1", "a:2,b:3" });
        Assert.Equal(new Address("akka.tcp", "distsoftmax", "10.0.0.5", 4053), seeds[0]);
        Assert.Equal(new Address("akka.tcp", "distsoftmax", "h", 1), seeds[1]);
        Assert.Equal(new Address("akka.tcp", "distsoftmax", "b", 3), seeds[3]);
        foreach (var bad in new[] { "nohost", "h:0", "h:99999", ":4053" })
            Assert.Equal(DistSoftmaxConfig.SeedsParameter, Assert.Throws<ParameterException>(() => DistSoftmaxConfig.SeedAddresses(new[] { bad })).Parameter);
    }

    [Fact]
    public void A_config_file_is_layered_above_cluster_conf_and_below_the_environment()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, """
                akka.remote.dot-netty.tcp.enable-ssl = true
                akka.remote.dot-netty.tcp.hostname = "from-file"
                distsoftmax.coordinator.step-timeout = 7s
                """);
            var c = DistSoftmaxConfig.Cluster(new NodeOptions { ConfigFile = file }, ClusterRole.Worker);
            Assert.True(c.GetBoolean("akka.remote.dot-netty.tcp.enable-ssl"));
            Assert.True(c.GetBoolean("akka.remote.dot-netty.tcp.ssl.require-mutual-authentication"));
            Assert.Equal("from-file", c.GetString("akka.remote.dot-netty.tcp.hostname"));
            Assert.Equal(TimeSpan.FromSeconds(7), CoordinatorSettings.FromConfig(c).StepTimeout);
            // With TLS on, host:port seeds get the transport's ssl scheme.
            var tls = DistSoftmaxConfig.Cluster(new NodeOptions { ConfigFile = file, Seeds = new[] { "w1:4053" } }, ClusterRole.Worker);
            Assert.Equal(new[] { "akka.ssl.tcp://distsoftmax@w1:4053" }, tls.GetStringList("akka.cluster.seed-nodes"));
            var env = DistSoftmaxConfig.Cluster(new NodeOptions { ConfigFile = file, Host = "from-env" }, ClusterRole.Worker);
            Assert.Equal("from-env", env.GetString("akka.remote.dot-netty.tcp.hostname"));
        }
        finally
        {
            File.Delete(file);
        }
        Assert.Throws<FileNotFoundException>(() => DistSoftmaxConfig.Cluster(new NodeOptions { ConfigFile = "/nonexistent/x.conf" }, ClusterRole.Worker));
    }
}
