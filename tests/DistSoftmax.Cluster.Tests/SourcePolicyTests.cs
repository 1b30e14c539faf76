using Akka.Actor;
using DistSoftmax.Cluster.Protocol;
using DistSoftmax.Cluster.Worker;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Sources;
using Xunit.Abstractions;

namespace DistSoftmax.Cluster.Tests;

/// <summary>A worker node loads files only inside its data roots and generated instances only up to a size.</summary>
public sealed class SourcePolicyTests(ITestOutputHelper output) : ActorTestBase(output)
{
    private static ProblemSource Files(string path) => ProblemSource.Create("files", [new("problem", "normalized"), new("A", path)]);

    [Fact]
    public void Paths_outside_the_data_roots_relative_paths_escaping_links_and_huge_generated_instances_are_refused()
    {
        var root = Directory.CreateTempSubdirectory("distsoftmax-root-").FullName;
        try
        {
            var policy = new SourcePolicy([root + "/"], 1_000_000);
            File.WriteAllText(Path.Combine(root, "A.npy"), "x");
            policy.Check(Files(Path.Combine(root, "A.npy"))); // inside: admitted
            Assert.Throws<UnauthorizedAccessException>(() => policy.Check(Files("/etc/passwd")));
            Assert.Throws<UnauthorizedAccessException>(() => policy.Check(Files(Path.Combine(root, "..", "x.npy"))));
            Assert.Throws<UnauthorizedAccessException>(() => policy.Check(Files("inst/A.npy")));
            Assert.Throws<UnauthorizedAccessException>(() => policy.Check(Files(root + "-sibling/A.npy")));
            File.CreateSymbolicLink(Path.Combine(root, "link.csv"), "/etc/passwd");
            Assert.Throws<UnauthorizedAccessException>(() => policy.Check(Files(Path.Combine(root, "link.csv"))));
            var huge = ProblemSource.Create("generated", [new("problem", "normalized"), new("n", "100000"), new("d", "20000"), new("seed", "1")]);
            Assert.Throws<ArgumentException>(() => policy.Check(huge));
            policy.Check(ProblemSource.Create("generated", [new("problem", "normalized"), new("n", "1000"), new("d", "1000"), new("seed", "1")]));
        }
        finally { Directory.Delete(root, recursive: true); }
    }

    [Fact]
    public void A_worker_asked_to_load_a_file_outside_its_roots_fails_the_load_without_touching_it()
    {
        var problem = new SmallProblem(n: 40, d: 3);
        var guarded = new GuardedShardLoader(problem.Loader, new SourcePolicy([Path.GetTempPath()], 1000));
        var worker = Spawn(WorkerActor.Props(guarded, WorkerSettings), "guarded-worker");
        var probe = CreateTestProbe();
        RegisterAsCoordinator(probe, worker, "s-roots");
        probe.Send(worker, new AssignShard("s-roots", 1, 0, Files("/etc/passwd"), new RowRange(0, 1)));
        var failed = probe.ExpectMsg<ShardLoadFailed>();
        Assert.Contains("outside this worker's data roots", failed.Reason);
        Assert.DoesNotContain("passwd", failed.Reason);
        // Its own kind of source still loads.
        probe.Send(worker, new AssignShard("s-roots", 2, 1, problem.Source, new RowRange(0, problem.N)));
        Assert.Equal(problem.N, probe.ExpectMsg<ShardLoaded>().Rows);
    }
}
