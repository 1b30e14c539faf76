using Akka.Configuration;
using DistSoftmax.Cluster.Hosting;

namespace DistSoftmax.Cluster.Tests;

public static class TestConfig
{
    /// <summary>TestKit systems: the project's HOCON plus serialize-messages, so every message that crosses a mailbox
    /// goes through the project's serializer (and fails the test when it cannot).</summary>
    public const string Common = """
        akka.loglevel = WARNING
        akka.stdout-loglevel = WARNING
        akka.actor.serialize-messages = on
        akka.actor.serialize-creators = off
        akka.test.single-expect-default = 10s
        distsoftmax.worker { compute-threads = 1, shard-parallelism = 1, chunk-size = 1024b }
        distsoftmax.coordinator {
          worker-wait-timeout = 5s
          load-timeout = 5s
          step-timeout = 5s
          no-worker-timeout = 2s
          tick-interval = 50ms
        }
        """;

    public static Config Local(string extra = "") =>
        ConfigurationFactory.ParseString(extra).WithFallback(ConfigurationFactory.ParseString(Common)).WithFallback(DistSoftmaxConfig.Local());

    /// <summary>Faster membership for cluster systems in tests (one process, 127.0.0.1, port 0).</summary>
    public const string FastCluster = """
        akka.loglevel = WARNING
        akka.stdout-loglevel = WARNING
        akka.cluster.gossip-interval = 200ms
        akka.cluster.leader-actions-interval = 200ms
        akka.cluster.unreachable-nodes-reaper-interval = 250ms
        akka.cluster.periodic-tasks-initial-delay = 100ms
        akka.cluster.split-brain-resolver.stable-after = 2s
        akka.cluster.failure-detector.heartbeat-interval = 200ms
        akka.cluster.failure-detector.acceptable-heartbeat-pause = 2s
        akka.cluster.failure-detector.expected-response-after = 200ms
        akka.remote.dot-netty.tcp.hostname = "127.0.0.1"
        akka.remote.dot-netty.tcp.port = 0
        distsoftmax.cluster.hello-interval = 500ms
        distsoftmax.cluster.leave-timeout = 5s
        distsoftmax.coordinator.tick-interval = 50ms
        """;
}
