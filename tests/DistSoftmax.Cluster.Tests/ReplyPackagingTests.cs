using Akka.Actor;
using DistSoftmax.Cluster.Protocol;
using DistSoftmax.Cluster.Worker;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Sources;
using DistSoftmax.Core.Statistics;
using Xunit.Abstractions;

namespace DistSoftmax.Cluster.Tests;

/// <summary>
/// A worker measures and chunks a reply only when it goes to another node; in one ActorSystem a reply goes whole,
/// whatever its size (chunk-size is 1 KiB in these systems).
/// </summary>
public sealed class ReplyPackagingTests(ITestOutputHelper output) : ActorTestBase(output)
{
    [Fact]
    public void Only_a_recipient_path_with_a_remote_address_crosses_nodes()
    {
        Assert.False(WorkerActor.CrossesNodes(ActorPath.Parse("akka://distsoftmax/user/coordinator")));
        Assert.True(WorkerActor.CrossesNodes(ActorPath.Parse("akka.tcp://distsoftmax@10.0.0.7:4053/user/coordinator")));
        Assert.False(WorkerActor.CrossesNodes(TestActor));
    }

    [Fact]
    public void A_reply_larger_than_the_chunk_size_reaches_a_local_coordinator_whole()
    {
        var reply = new GramReply(Enumerable.Range(0, 5000).Select(i => Math.Sqrt(i)).ToArray(), 12);
        Assert.True(WorkerSettings.ChunkSize < 5000 * sizeof(double));
        var worker = Spawn(WorkerActor.Props(new FixedReplyLoader(reply, 10), WorkerSettings), "local-worker");
        var source = ProblemSource.Create("fixed", Array.Empty<KeyValuePair<string, string>>());
        worker.Tell(new CoordinatorHello("s-local"));
        ExpectMsg<RegisterWorker>();
        worker.Tell(new WorkerRegistered("s-local"));
        worker.Tell(new AssignShard("s-local", 1, 0, source, new RowRange(0, 10)));
        ExpectMsg<ShardLoaded>();
        worker.Tell(new EvaluateShard("s-local", 1, 1, 0, new ScalarsRequest(new double[1])));
        var result = ExpectMsg<ShardResult>();
        Assert.Null(DeepEquality.FirstDifference(reply, result.Reply));
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void Packaging_for_another_node_still_chunks_a_large_reply()
    {
        var reply = new GramReply(new double[5000], 1);
        var request = new EvaluateShard("s", 1, 1, 0, new ScalarsRequest(new double[1]));
        Assert.All(WorkerActor.Package(request, reply, 1024), m => Assert.IsType<ReplyChunk>(m));
        Assert.Equal(reply, WorkerActor.Whole(request, reply).Reply);
    }
}
