using Akka.Actor;
using Akka.TestKit;
using DistSoftmax.Cluster.Protocol;
using DistSoftmax.Cluster.Serialization;
using DistSoftmax.Cluster.Worker;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Sources;
using DistSoftmax.Core.Statistics;
using Xunit.Abstractions;

namespace DistSoftmax.Cluster.Tests;

/// <summary>
/// The workers' shard cache: LRU within a byte budget with leases (<see cref="ShardCache"/>), source identities that
/// change with a file's size or time (<see cref="SourceIdentity"/>), and worker actors that serve a second solve on
/// the same rows without loading them again, with the same result.
/// </summary>
public class ShardCacheTests(ITestOutputHelper output) : ActorTestBase(output)
{
    /// <summary>A shard that only has a size (the cache never evaluates).</summary>
    private sealed class Sized(long bytes) : IShard
    {
        public long RowOffset => 0;
        public int Rows => 1;
        public long Bytes => bytes;
        public ShardReply Evaluate(ShardRequest request) => throw new NotSupportedException();
    }

    private static ShardCacheKey Key(string name) => new(name, 0, 1);

    [Fact]
    public void The_cache_evicts_idle_entries_least_recently_used_first_and_never_a_leased_one()
    {
        var cache = new ShardCache(250);
        var (a, b, c) = (new Sized(100), new Sized(100), new Sized(100));
        Assert.True(cache.Admit(Key("a"), a, "a"));
        Assert.True(cache.Admit(Key("b"), b, "b"));
        // Both leased (in use by their solves): no room for c, and nothing is evicted.
        Assert.False(cache.Admit(Key("c"), c, "c"));
        Assert.Equal((200L, 0L, 2), (cache.UsedBytes, cache.Evictions, cache.Count));
        cache.Return(Key("a"), a);
        cache.Return(Key("b"), b);
        // a is used again (a hit), so b is now the least recently used.
        Assert.True(cache.TryLease(Key("a"), out var hit));
        Assert.Same(a, hit);
        cache.Return(Key("a"), a);
        Assert.True(cache.Admit(Key("c"), c, "c"));
        Assert.Equal(1, cache.Evictions);
        Assert.False(cache.TryLease(Key("b"), out _));            // evicted: a miss
        Assert.False(cache.TryLease(Key("c"), out _));            // c is leased (admitted in use): a miss, not a second user
        Assert.Equal((1L, 2L), (cache.Hits, cache.Misses));
        var status = cache.Status("w");
        Assert.Equal(["a", "c"], status.Entries.Select(e => e.Source));   // least recently used first
        Assert.Equal([false, true], status.Entries.Select(e => e.InUse));
        Assert.Equal(200, status.UsedBytes);
    }

    [Fact]
    public void The_cache_refuses_shards_larger_than_its_budget_of_unknown_size_or_of_a_key_it_holds()
    {
        var cache = new ShardCache(100);
        Assert.False(cache.Admit(Key("big"), new Sized(101), "big"));
        Assert.False(cache.Admit(Key("unknown"), new Sized(0), "unknown"));
        var kept = new Sized(60);
        Assert.True(cache.Admit(Key("x"), kept, "x"));
        var copy = new Sized(30);
        Assert.False(cache.Admit(Key("x"), copy, "x"));          // a second solve's own copy is not kept
        cache.Return(Key("x"), copy);                             // and returning it does not end the first one's lease
        Assert.False(cache.TryLease(Key("x"), out _));
        Assert.Equal(0, new ShardCache(0).Status("w").BudgetBytes);
        Assert.Throws<ArgumentOutOfRangeException>(() => new ShardCache(-1));
    }

    [Fact]
    public void A_source_identity_changes_when_a_file_is_rewritten_and_only_cacheable_kinds_have_one()
    {
        string dir = Directory.CreateTempSubdirectory("distsoftmax-cache-").FullName;
        try
        {
            string path = Path.Combine(dir, "A.npy");
            File.WriteAllBytes(path, new byte[10]);
            var source = ProblemSource.Create("files", [new("A", path), new("problem", "normalized")]);
            var kinds = WorkerSettings.DefaultCacheableKinds;
            string first = SourceIdentity.Of(source, kinds)!;
            Assert.Contains("10 bytes", first);
            Assert.Equal(first, SourceIdentity.Of(source, kinds));
            File.WriteAllBytes(path, new byte[10]);
            File.SetLastWriteTimeUtc(path, DateTime.UtcNow.AddMinutes(1));
            Assert.NotEqual(first, SourceIdentity.Of(source, kinds));          // same size, new time
            File.WriteAllBytes(path, new byte[11]);
            Assert.Contains("11 bytes", SourceIdentity.Of(source, kinds));
            File.Delete(path);
            Assert.Null(SourceIdentity.Of(source, kinds));                     // a missing file: not cacheable
            var generated = ProblemSource.Create("generated", [new("n", "100"), new("d", "5"), new("seed", "3")]);
            Assert.Equal(SourceIdentity.Of(generated, kinds), SourceIdentity.Of(generated, kinds));
            Assert.NotEqual(SourceIdentity.Of(generated, kinds),
                SourceIdentity.Of(ProblemSource.Create("generated", [new("n", "100"), new("d", "5"), new("seed", "4")]), kinds));
            Assert.Null(SourceIdentity.Of(ProblemSource.Create("memory", [new("name", "m")]), kinds));
        }
        finally { Directory.Delete(dir, recursive: true); }
    }

    /// <summary>Counts every Load (the rows a worker reads).</summary>
    private sealed class CountingLoader(IShardLoader inner) : IShardLoader
    {
        public int Loads;
        public ProblemShape Describe(ProblemSource source) => inner.Describe(source);
        public IShard Load(ProblemSource source, RowRange rows, ShardComputeOptions compute)
        {
            Interlocked.Increment(ref Loads);
            return inner.Load(source, rows, compute);
        }
    }

    private IActorRef[] CachingWorkers(IShardLoader loader, int count, long cacheBytes) =>
        Enumerable.Range(1, count).Select(i => Spawn(WorkerActor.Props(loader,
            WorkerSettings with { CacheBytes = cacheBytes, CacheableKinds = ["memory"] }), $"caching-{cacheBytes}-{i}")).ToArray();

    private ShardCacheStatus CacheOf(IActorRef worker)
    {
        var probe = CreateTestProbe();
        worker.Tell(GetShardCacheStatus.Instance, probe.Ref);
        return probe.ExpectMsg<ShardCacheStatus>();
    }

    [Theory]
    [InlineData(64L << 20)]
    [InlineData(0L)]
    public void A_second_solve_on_the_same_source_starts_without_loading_again_and_reaches_the_same_x(long cacheBytes)
    {
        var problem = new SmallProblem();
        var loader = new CountingLoader(problem.Loader);
        var workers = CachingWorkers(loader, 2, cacheBytes);
        var expected = problem.InProcess("lbfgs", 3);
        var results = new List<Core.Solvers.SolverResult>();
        foreach (int job in new[] { 1, 2 })
        {
            var spec = Spec(problem, loader, "lbfgs", 3, 2);
            var (coordinator, events) = StartCoordinator(spec);
            Introduce(coordinator, spec.SolveId, workers);
            results.Add(ResultOf(CollectUntil(events, IsFinal)));
            if (job == 1) Assert.Equal(3, loader.Loads);
        }
        foreach (var r in results) ResultAssert.BitIdentical(expected, r);
        var caches = workers.Select(CacheOf).ToArray();
        if (cacheBytes == 0)
        {
            Assert.Equal(6, loader.Loads);                          // every job reads its rows again
            Assert.All(caches, c => Assert.Empty(c.Entries));
            return;
        }
        Assert.Equal(3, loader.Loads);                              // the second job read nothing
        Assert.Equal(3, caches.Sum(c => c.Hits));
        Assert.Equal(3, caches.Sum(c => c.Misses));
        Assert.Equal(0, caches.Sum(c => c.Evictions));
        var entries = caches.SelectMany(c => c.Entries).OrderBy(e => e.RowStart).ToArray();
        Assert.Equal(ShardLayout.Split(problem.N, 3).Select(r => (r.Start, (int)r.Count)), entries.Select(e => (e.RowStart, e.Rows)));
        Assert.All(entries, e => Assert.False(e.InUse));                                        // both solves released them
        // A's rows (8 bytes each) + the n-long arrays b, w, z, g, D, q.
        Assert.All(entries, e => Assert.Equal(e.Rows * problem.D * 8L + e.Rows * 6 * 8L, e.Bytes));
        Assert.All(entries, e => Assert.Contains("memory", e.Source));
    }

    [Fact]
    public void A_cached_shard_in_use_by_one_solve_is_not_shared_with_another_which_loads_its_own_copy()
    {
        var problem = new SmallProblem();
        var loader = new CountingLoader(problem.Loader);
        var worker = CachingWorkers(loader, 1, 64L << 20)[0];
        var rows = new RowRange(0, problem.N);
        void Assign(TestProbe probe, string solveId)
        {
            RegisterAsCoordinator(probe, worker, solveId);
            probe.Send(worker, new AssignShard(solveId, 1, 0, problem.Source, rows));
            probe.ExpectMsg<ShardLoaded>();
        }
        var (first, second, third) = (CreateTestProbe(), CreateTestProbe(), CreateTestProbe());
        Assign(first, "solve-a");
        Assign(second, "solve-b");                               // solve-a still holds the cached shard
        Assert.Equal(2, loader.Loads);
        first.Send(worker, new ReleaseSolve("solve-a"));
        second.Send(worker, new ReleaseSolve("solve-b"));
        Assign(third, "solve-c");                                // the cached copy is idle again: a hit
        Assert.Equal(2, loader.Loads);
        var status = CacheOf(worker);
        Assert.Equal((1L, 2L), (status.Hits, status.Misses));
        Assert.True(Assert.Single(status.Entries).InUse);
        // It answers like a freshly loaded shard.
        third.Send(worker, new EvaluateShard("solve-c", 1, 1, 0, new ScalarsRequest(problem.X0)));
        var reply = Assert.IsType<ScalarsReply>(third.ExpectMsg<ShardResult>().Reply);
        var fresh = (ScalarsReply)problem.Loader.Load(problem.Source, rows, ShardComputeOptions.Sequential).Evaluate(new ScalarsRequest(problem.X0));
        Assert.Null(DeepEquality.FirstDifference(fresh, reply));
    }

    [Fact]
    public void The_cache_status_round_trips_through_the_wire_format()
    {
        var status = new ShardCacheStatus("w", 1L << 30, 12345, 3, 4, 1,
            new[] { new CachedShard("files\nA=/d/A.npy [80 bytes, modified 1]", 1L << 33, 1000, 12345, true), new CachedShard("", 0, 0, 0, false) });
        foreach (object message in new object[] { status, GetShardCacheStatus.Instance, status with { Entries = Array.Empty<CachedShard>() } })
        {
            var back = WireFormat.Decode(WireFormat.Encode(message), WireFormat.ManifestOf(message));
            Assert.Null(DeepEquality.FirstDifference(message, back));
        }
        var bytes = WireFormat.Encode(status);
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => WireFormat.Decode(bytes[..^3], WireFormat.ManifestOf(status)));
    }
}
