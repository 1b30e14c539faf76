using System.Diagnostics;
using Akka.Actor;
using Akka.Serialization;
using DistSoftmax.Cluster.Protocol;
using DistSoftmax.Cluster.Serialization;
using DistSoftmax.Core.Statistics;
using Hyperion;
using Xunit.Abstractions;

namespace DistSoftmax.Cluster.Tests;

/// <summary>
/// The design card's Hyperion (Akka.Serialization.Hyperion 1.5.73, unsafe types off, an allow-list type filter) against
/// the project's block-copy format on the real messages: sizes and round-trip times are written to the test output
/// (the figures in deploy/README-cluster.md, "Serialization"), and the properties the decision rests on are asserted.
/// </summary>
public sealed class HyperionComparisonTests(ITestOutputHelper output) : ActorTestBase(output)
{
    private readonly ITestOutputHelper _output = output;

    /// <summary>The allow-list: this project's protocol and statistics types (records, their enums) and the arrays and
    /// strings they hold — nothing else can be materialised from the wire.</summary>
    private static readonly Type[] Allowed = typeof(IDistSoftmaxMessage).Assembly.GetTypes()
        .Where(t => t.Namespace == typeof(IDistSoftmaxMessage).Namespace)
        .Concat(typeof(ShardRequest).Assembly.GetTypes().Where(t => t.Namespace == typeof(ShardRequest).Namespace))
        .Append(typeof(double[])).Append(typeof(string)).Append(typeof(CachedRows[]))
        .ToArray();

    /// <summary>An allow-list by full type name. (Hyperion's own TypeFilterBuilder stores names in a shortened
    /// assembly form that, with 1.5.73, did not match this project's types when serializing: it refused
    /// CoordinatorHello itself.)</summary>
    private sealed class AllowList(IEnumerable<Type> types) : ITypeFilter
    {
        private readonly HashSet<string> _names = types.Select(t => t.FullName!).ToHashSet(StringComparer.Ordinal);

        public bool IsAllowed(string typeName)
        {
            int comma = typeName.IndexOf(',');
            return _names.Contains((comma < 0 ? typeName : typeName[..comma]).Trim());
        }
    }

    private HyperionSerializer Filtered()
    {
        var filter = new AllowList(Allowed);
        var settings = HyperionSerializerSettings.Default.WithDisallowUnsafeType(true).WithTypeFilter(filter);
        return new HyperionSerializer((ExtendedActorSystem)Sys, settings);
    }

    private static double[] Values(int n) => Enumerable.Range(0, n).Select(i => Math.Sin(i) * 1e3 + i).ToArray();

    /// <summary>The messages of a solve at d = 1000 (a request's x, a gradient reply) and a d = 400 packed Gram.</summary>
    private static (string Name, object Message)[] Messages() =>
    [
        ("CoordinatorHello", new CoordinatorHello("s-20261130-abcdef")),
        ("RegisterWorker", new RegisterWorker("akka.tcp://distsoftmax@10.0.0.7:4053/user/worker", 16)),
        ("ReleaseShard", new ReleaseShard("s-20261130-abcdef", 3)),
        ("ShardFailed", new ShardFailed("s-20261130-abcdef", 2, 41, 3, "worker dropped the request", true)),
        ("EvaluateShard(Scalars, d=1000)", new EvaluateShard("s-20261130-abcdef", 2, 41, 3, new ScalarsRequest(Values(1000)))),
        ("ShardResult(Gradient, d=1000)", new ShardResult("s-20261130-abcdef", 2, 41, 3, new GradientReply(Values(1000), Values(3000), []))),
        ("GramReply(packed, d=400)", new GramReply(Values(400 * 401 / 2), 12345)),
    ];

    [Fact]
    public void Hyperion_with_its_type_filter_against_the_block_copy_format_on_the_real_messages()
    {
        var project = new DistSoftmaxSerializer((ExtendedActorSystem)Sys);
        var hyperion = Filtered();
        _output.WriteLine($"{"message",-32} {"project B",10} {"Hyperion B",11} {"project µs",11} {"Hyperion µs",12}");
        foreach (var (name, message) in Messages())
        {
            byte[] ours = project.ToBinary(message);
            string manifest = project.Manifest(message);
            byte[] theirs = hyperion.ToBinary(message);
            // Both round-trip the message exactly.
            Assert.Null(DeepEquality.FirstDifference(message, project.FromBinary(ours, manifest)));
            Assert.Null(DeepEquality.FirstDifference(message, hyperion.FromBinary(theirs, message.GetType())));
            int rounds = ours.Length > 100_000 ? 40 : 400; // bounded
            double Time(Func<object> roundTrip)
            {
                roundTrip();
                var clock = Stopwatch.StartNew();
                for (int i = 0; i < rounds; i++) roundTrip();
                return clock.Elapsed.TotalMicroseconds / rounds;
            }
            double tOurs = Time(() => project.FromBinary(project.ToBinary(message), manifest));
            double tTheirs = Time(() => hyperion.FromBinary(hyperion.ToBinary(message), message.GetType()));
            _output.WriteLine($"{name,-32} {ours.Length,10} {theirs.Length,11} {tOurs,11:F1} {tTheirs,12:F1}");
            // The decision (Hyperion bound for no message family) rests on this, deterministic part of the measurement:
            // the project's encoding is never larger — Hyperion writes type names into every payload. Times vary with
            // the machine and are only reported.
            Assert.True(ours.Length <= theirs.Length, $"{name}: {ours.Length} B against Hyperion's {theirs.Length} B: revisit the decision");
        }
    }

    [Fact]
    public void Hyperion_with_the_type_filter_refuses_a_type_outside_the_allow_list()
    {
        var open = new HyperionSerializer((ExtendedActorSystem)Sys, HyperionSerializerSettings.Default);
        var bytes = open.ToBinary(new WorkerStatus("w", [new HeldShard("s", 0, 1, true, 10)]));
        Assert.ThrowsAny<Exception>(() => Filtered().FromBinary(bytes, typeof(object)));
    }
}
