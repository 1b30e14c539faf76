using System.Diagnostics;
using Akka.Actor;
using DistSoftmax.Cluster.Coordinator;
using DistSoftmax.Cluster.Protocol;
using DistSoftmax.Cluster.Serialization;
using DistSoftmax.Cluster.Worker;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Sources;
using DistSoftmax.Core.Statistics;
using Xunit.Abstractions;

namespace DistSoftmax.Cluster.Tests;

public sealed class CoordinatorTests(ITestOutputHelper output) : ActorTestBase(output)
{
    private readonly SmallProblem _problem = new();

    [Theory]
    [InlineData("approx-newton")]
    [InlineData("newton-cg")]
    [InlineData("newton")]
    [InlineData("lbfgs")]
    public void Three_worker_actors_give_the_in_process_answer_bit_for_bit(string solver)
    {
        var expected = _problem.InProcess(solver, 3);
        var workers = Workers(_problem.Loader, 3);
        var spec = Spec(_problem, _problem.Loader, solver, 3, 3);
        var (coordinator, events) = StartCoordinator(spec);
        Introduce(coordinator, spec.SolveId, workers);

        var seen = CollectUntil(events, IsFinal);
        var result = ResultOf(seen);
        ResultAssert.Equal(expected, result, 1e-12);
        ResultAssert.BitIdentical(expected, result);
        Assert.Equal(3, seen.OfType<WorkerJoined>().Count());
        Assert.Equal(3, seen.OfType<ShardAssigned>().Select(a => a.WorkerId).Distinct().Count());
        Assert.Equal(result.Trace.Count, seen.OfType<SolveProgress>().Count());
        Output.WriteLine($"{solver}: {result.Exit} after {result.Iterations} iterations, {result.Requests} requests, loss {result.Loss:E6}");
    }

    [Fact]
    public void A_worker_stopped_mid_solve_hands_its_shard_to_a_live_worker_and_the_result_is_unchanged()
    {
        var expected = _problem.InProcess("approx-newton", 3);
        var ranges = ShardLayout.Split(_problem.N, 3);
        var loader = new GatedLoader(_problem.Loader, ranges[1].Start, gatedEvaluation: 5);
        var workers = Workers(loader, 3);
        var spec = Spec(_problem, loader, "approx-newton", 3, 3);
        var (coordinator, events) = StartCoordinator(spec);
        Introduce(coordinator, spec.SolveId, workers);

        var before = CollectUntil(events, e => e is SolveProgress { Entry.Iteration: 0 });
        Assert.True(loader.Reached.Wait(TimeSpan.FromSeconds(10)), "shard 1 never reached its 5th request");
        var victim = OwnerOf(before, 1, workers);
        StopActor(victim);
        loader.Release();

        var after = CollectUntil(events, IsFinal);
        var result = ResultOf(after);
        ResultAssert.Equal(expected, result, 1e-10);
        ResultAssert.BitIdentical(expected, result);
        var lost = Assert.Single(after.OfType<WorkerLost>());
        Assert.Contains("terminated", lost.Reason);
        var moved = Assert.Single(after.OfType<ShardAssigned>());
        Assert.Equal(1, moved.ShardIndex);
        Assert.Equal(lost.WorkerId, moved.PreviousWorkerId);
        Assert.NotEqual(lost.WorkerId, moved.WorkerId);
        Assert.True(moved.Epoch > before.OfType<ShardAssigned>().Max(a => a.Epoch));
        Assert.Equal(4, loader.Loads); // three initial loads and the reassigned one
    }

    [Fact]
    public void A_silent_owner_is_lost_after_the_step_timeout_and_its_shard_is_computed_elsewhere()
    {
        var expected = _problem.InProcess("newton-cg", 3);
        var ranges = ShardLayout.Split(_problem.N, 3);
        var loader = new GatedLoader(_problem.Loader, ranges[2].Start, gatedEvaluation: 4);
        try
        {
            var workers = Workers(loader, 3);
            var spec = Spec(_problem, loader, "newton-cg", 3, 3);
            var settings = CoordinatorSettings with { StepTimeout = TimeSpan.FromSeconds(1) };
            var (coordinator, events) = StartCoordinator(spec, settings);
            Introduce(coordinator, spec.SolveId, workers);

            var seen = CollectUntil(events, IsFinal);
            var result = ResultOf(seen);
            ResultAssert.BitIdentical(expected, result);
            var lost = Assert.Single(seen.OfType<WorkerLost>());
            Assert.Contains("no answer to step", lost.Reason);
            var moved = seen.OfType<ShardAssigned>().Single(a => a.PreviousWorkerId is not null);
            Assert.Equal(2, moved.ShardIndex);
            // The silent worker was told to drop the solve while its evaluation was still blocked.
            var silent = OwnerOf(seen.OfType<ShardAssigned>().Where(a => a.PreviousWorkerId is null), 2, workers);
            AwaitAssert(() => Assert.Empty(StatusOf(silent).Shards));
        }
        finally
        {
            loader.Release();
        }
    }

    [Fact]
    public void Stale_replies_of_old_epochs_old_steps_and_other_solves_are_dropped()
    {
        var expected = _problem.InProcess("newton-cg", 2);
        var spec = Spec(_problem, _problem.Loader, "newton-cg", 2, 2);
        var (coordinator, events) = StartCoordinator(spec, CoordinatorSettings with { StepTimeout = TimeSpan.FromSeconds(30) });
        var probes = new[] { CreateTestProbe(), CreateTestProbe() };
        foreach (var (p, i) in probes.Select((p, i) => (p, i)))
        {
            p.Send(coordinator, new RegisterWorker($"probe-{i}", 1));
            p.ExpectMsg<WorkerRegistered>();
        }
        // Each probe owns one shard; the test evaluates real shards for it.
        var assignments = probes.Select(p => p.ExpectMsg<AssignShard>()).ToArray();
        var shards = assignments.ToDictionary(a => a.ShardIndex, a => _problem.Loader.Load(a.Source, a.Rows, ShardComputeOptions.Sequential));
        for (long step = 1; step <= expected.Requests; step++)
        {
            var requests = probes.Select(p => (Probe: p, Request: p.ExpectMsg<EvaluateShard>())).OrderBy(r => r.Request.ShardIndex).ToArray();
            Assert.All(requests, r => Assert.Equal(step, r.Request.Step));
            foreach (var (probe, request) in requests)
            {
                var reply = shards[request.ShardIndex].Evaluate(request.Request);
                var garbage = Garbage(reply);
                // Wrong epoch, an old step, another solve, a future step: all must be ignored.
                probe.Send(coordinator, new ShardResult(request.SolveId, request.Epoch + 1, request.Step, request.ShardIndex, garbage));
                probe.Send(coordinator, new ShardResult(request.SolveId, request.Epoch, request.Step - 1, request.ShardIndex, garbage));
                probe.Send(coordinator, new ShardResult("solve-other", request.Epoch, request.Step, request.ShardIndex, garbage));
                probe.Send(coordinator, new ShardFailed(request.SolveId, request.Epoch - 1, request.Step, request.ShardIndex, "stale", false));
                probe.Send(coordinator, new ReplyChunk(request.SolveId, request.Epoch, request.Step + 1, request.ShardIndex, 0, 2, 2048, new byte[1024]));
                if (step == 1 && request.ShardIndex == 1)
                {
                    // Only stale answers for shard 1 so far: the coordinator must still be waiting.
                    foreach (var p in probes) p.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
                }
                probe.Send(coordinator, new ShardResult(request.SolveId, request.Epoch, request.Step, request.ShardIndex, reply));
            }
            // A late duplicate of the step just answered, with garbage: the next step has begun (or the solve ended).
            var (lastProbe, last) = requests[^1];
            lastProbe.Send(coordinator, new ShardResult(last.SolveId, last.Epoch, last.Step, last.ShardIndex,
                Garbage(shards[last.ShardIndex].Evaluate(last.Request))));
        }
        var result = ResultOf(CollectUntil(events, IsFinal));
        ResultAssert.BitIdentical(expected, result);
        foreach (var p in probes) p.ExpectMsg<ReleaseSolve>();
    }

    /// <summary>A reply of the same type whose numbers are wrong: accepting it would change the iterates.</summary>
    private static ShardReply Garbage(ShardReply reply) => reply switch
    {
        ScalarsReply s => s with { RegularizerSum = s.RegularizerSum + 1e3 },
        GradientReply g => g with { Gradient = g.Gradient.Select(v => v * 3 + 1).ToArray() },
        HessianVectorReply h => h with { Product = h.Product.Select(v => -v).ToArray() },
        GramReply g => g with { PackedUpper = g.PackedUpper.Select(v => v + 1).ToArray() },
        _ => throw new NotSupportedException(reply.GetType().Name),
    };

    [Fact]
    public void A_worker_that_joins_late_takes_over_the_shard_of_a_lost_worker()
    {
        var expected = _problem.InProcess("approx-newton", 2);
        var ranges = ShardLayout.Split(_problem.N, 2);
        var loader = new GatedLoader(_problem.Loader, ranges[1].Start, gatedEvaluation: 4);
        var workers = Workers(loader, 2);
        var spec = Spec(_problem, loader, "approx-newton", 2, 2);
        var (coordinator, events) = StartCoordinator(spec);
        Introduce(coordinator, spec.SolveId, workers);

        var before = CollectUntil(events, e => e is ShardAssigned { ShardIndex: 1 });
        Assert.True(loader.Reached.Wait(TimeSpan.FromSeconds(10)));
        var late = Workers(loader, 1, "late")[0];
        Introduce(coordinator, spec.SolveId, late);
        var joined = CollectUntil(events, e => e is WorkerJoined { WorkerId: var id } && id.EndsWith("/late-1"));
        Assert.Empty(StatusOf(late).Shards); // a spare until someone is lost

        var victim = OwnerOf(before, 1, workers);
        StopActor(victim);
        loader.Release();
        var after = CollectUntil(events, IsFinal);
        ResultAssert.BitIdentical(expected, ResultOf(after));
        var moved = Assert.Single(after.OfType<ShardAssigned>());
        Assert.Equal(1, moved.ShardIndex);
        Assert.EndsWith("/late-1", moved.WorkerId);
        Assert.Contains(after, e => e is ShardReady { ShardIndex: 1 } r && r.WorkerId.EndsWith("/late-1"));
        _ = joined;
    }

    [Fact]
    public void Without_any_worker_the_solve_fails_within_the_wait_timeout()
    {
        var spec = Spec(_problem, _problem.Loader, "newton-cg", 2, 1);
        var clock = Stopwatch.StartNew();
        var (_, events) = StartCoordinator(spec, CoordinatorSettings with { WorkerWaitTimeout = TimeSpan.FromSeconds(1) });
        var failed = Assert.IsType<SolveFailed>(CollectUntil(events, IsFinal, TimeSpan.FromSeconds(5)).Last());
        clock.Stop();
        Assert.Contains("only 0 of the 1 worker(s) needed registered within 1 s", failed.Reason);
        Assert.InRange(clock.Elapsed.TotalSeconds, 0.9, 3.0);
    }

    [Fact]
    public void When_every_worker_is_lost_the_solve_fails_after_the_no_worker_timeout()
    {
        var loader = new GatedLoader(_problem.Loader, 0, gatedEvaluation: 3);
        var worker = Workers(loader, 1)[0];
        var spec = Spec(_problem, loader, "newton-cg", 2, 1);
        var (coordinator, events) = StartCoordinator(spec, CoordinatorSettings with { NoWorkerTimeout = TimeSpan.FromSeconds(1) });
        Introduce(coordinator, spec.SolveId, worker);
        Assert.True(loader.Reached.Wait(TimeSpan.FromSeconds(10)));
        var clock = Stopwatch.StartNew();
        StopActor(worker);
        loader.Release();
        var seen = CollectUntil(events, IsFinal, TimeSpan.FromSeconds(5));
        var failed = Assert.IsType<SolveFailed>(seen.Last());
        Assert.Contains("no live worker for 1 s", failed.Reason);
        Assert.Contains("shard(s) 0, 1 have no owner", failed.Reason);
        Assert.InRange(clock.Elapsed.TotalSeconds, 0.9, 3.0);
    }

    /// <summary>A solve of many shards (up to 1024) that loses its workers names the first few orphaned shards and counts
    /// the rest: the failure is a service job's end message and one line on the command line.</summary>
    [Fact]
    public void A_failure_over_many_orphaned_shards_lists_the_first_few_and_counts_the_rest()
    {
        const int shards = 20;
        var loader = new GatedLoader(_problem.Loader, 0, gatedEvaluation: 3);
        var worker = Workers(loader, 1)[0];
        var spec = Spec(_problem, loader, "newton-cg", shards, 1);
        var (coordinator, events) = StartCoordinator(spec, CoordinatorSettings with { NoWorkerTimeout = TimeSpan.FromSeconds(1) });
        Introduce(coordinator, spec.SolveId, worker);
        Assert.True(loader.Reached.Wait(TimeSpan.FromSeconds(10)));
        StopActor(worker);
        loader.Release();
        var failed = Assert.IsType<SolveFailed>(CollectUntil(events, IsFinal, TimeSpan.FromSeconds(5)).Last());
        Assert.Contains($"shard(s) 0, 1, 2, 3, 4, 5, 6, 7 and {shards - BoundedList.MostListed} more have no owner", failed.Reason);
    }

    [Fact]
    public void Shard_lists_in_messages_stop_after_the_first_few()
    {
        Assert.Equal("", BoundedList.Describe(Array.Empty<int>()));
        Assert.Equal("3", BoundedList.Describe(new[] { 3 }));
        Assert.Equal("w1, w2, w3, w4, w5, w6, w7, w8 and 2 more", BoundedList.Describe(Enumerable.Range(1, 10).Select(i => $"w{i}")));
        Assert.Equal("0, 1, 2, 3, 4, 5, 6, 7", BoundedList.Describe(Enumerable.Range(0, BoundedList.MostListed)));
        Assert.Equal("0, 1, 2, 3, 4, 5, 6, 7 and 1 more", BoundedList.Describe(Enumerable.Range(0, BoundedList.MostListed + 1)));
        Assert.Equal("5, 9, 10, 11, 12, 13, 14, 15 and 1016 more", BoundedList.Describe(new[] { 5 }.Concat(Enumerable.Range(9, 1023))));
    }

    [Fact]
    public void Workers_release_a_solve_when_it_ends_and_when_its_coordinator_stops()
    {
        var workers = Workers(_problem.Loader, 2);
        var spec = Spec(_problem, _problem.Loader, "newton-cg", 2, 2);
        var (coordinator, events) = StartCoordinator(spec);
        Introduce(coordinator, spec.SolveId, workers);
        ResultOf(CollectUntil(events, IsFinal));
        foreach (var w in workers) AwaitAssert(() => Assert.Empty(StatusOf(w).Shards));

        // Second solve on the same workers; its coordinator is stopped mid-solve.
        var loader = new GatedLoader(_problem.Loader, 0, gatedEvaluation: 2);
        var gatedWorkers = Workers(loader, 2, "gated");
        var spec2 = Spec(_problem, loader, "newton-cg", 2, 2);
        var (coordinator2, events2) = StartCoordinator(spec2);
        Introduce(coordinator2, spec2.SolveId, gatedWorkers);
        Assert.True(loader.Reached.Wait(TimeSpan.FromSeconds(10)));
        Assert.All(gatedWorkers, w => Assert.Single(StatusOf(w).Shards));
        StopActor(coordinator2);
        var failed = Assert.IsType<SolveFailed>(CollectUntil(events2, IsFinal).Last());
        Assert.Contains("coordinator was stopped", failed.Reason);
        loader.Release();
        foreach (var w in gatedWorkers) AwaitAssert(() => Assert.Empty(StatusOf(w).Shards));
    }

    [Fact]
    public void A_shard_that_cannot_be_loaded_fails_the_solve_with_the_loader_s_reason()
    {
        var loader = new FailingLoader(_problem.Loader, "A.npy: no such file");
        var workers = Workers(loader, 2);
        var spec = Spec(_problem, loader, "lbfgs", 2, 2);
        var (coordinator, events) = StartCoordinator(spec);
        Introduce(coordinator, spec.SolveId, workers);
        var failed = Assert.IsType<SolveFailed>(CollectUntil(events, IsFinal).Last());
        Assert.Contains("no worker could load shard", failed.Reason);
        Assert.Contains("A.npy: no such file", failed.Reason);
        Assert.Contains("worker-1", failed.Reason);
        Assert.Contains("worker-2", failed.Reason);
    }

    [Fact]
    public void A_shard_one_worker_cannot_load_moves_to_a_worker_that_can_and_the_answer_is_unchanged()
    {
        var expected = _problem.InProcess("approx-newton", 2);
        var broken = Spawn(WorkerActor.Props(new FailingLoader(_problem.Loader, "A.npy: no such file on this node"), WorkerSettings), "broken-1");
        var healthy = Spawn(WorkerActor.Props(_problem.Loader, WorkerSettings), "healthy-1");
        var spec = Spec(_problem, _problem.Loader, "approx-newton", 2, 2);
        var (coordinator, events) = StartCoordinator(spec);
        Introduce(coordinator, spec.SolveId, broken, healthy);
        var seen = CollectUntil(events, IsFinal);
        ResultAssert.BitIdentical(expected, ResultOf(seen));
        // The broken worker got a shard first, then lost it to the healthy one.
        var moves = seen.OfType<ShardAssigned>().Where(a => a.PreviousWorkerId is not null).ToList();
        Assert.NotEmpty(moves);
        Assert.All(moves, a => Assert.Contains("healthy-1", a.WorkerId));
    }

    [Fact]
    public void A_shard_evaluation_error_fails_the_solve_instead_of_hanging()
    {
        // Shards that answer every request with a Gram block: the solver asks for scalars first and cannot use it.
        var loader = new FixedReplyLoader(new GramReply(new double[] { 1.0 }, 1), _problem.N);
        var workers = Workers(loader, 2);
        var spec = new SolveSpec(SolveSpec.NewSolveId(), _problem.Source, loader.Describe(_problem.Source),
            Core.Solvers.SolverCatalog.Create("gd"), new double[1], SmallProblem.Options, 2, 2);
        var (coordinator, events) = StartCoordinator(spec);
        Introduce(coordinator, spec.SolveId, workers);
        var failed = Assert.IsType<SolveFailed>(CollectUntil(events, IsFinal).Last());
        Assert.Contains("solver gd failed at step 1", failed.Reason);
        Assert.Contains("expected a ScalarsReply", failed.Reason);
    }

    [Theory]
    [InlineData("approx-newton")]
    [InlineData("newton-cg")]
    public void Requests_too_large_for_a_remote_frame_travel_in_chunks_and_the_answer_is_unchanged(string solver)
    {
        // A 64-byte limit: every request is larger, so each goes to each owner as RequestChunks of ≤ 64 bytes.
        var expected = _problem.InProcess(solver, 2);
        var workers = Workers(_problem.Loader, 2);
        var spec = Spec(_problem, _problem.Loader, solver, 2, 2);
        var (coordinator, events) = StartCoordinator(spec, CoordinatorSettings with { MaxRequestBytes = 64 });
        Introduce(coordinator, spec.SolveId, workers);
        var result = ResultOf(CollectUntil(events, IsFinal));
        ResultAssert.BitIdentical(expected, result);
        Assert.Equal(0, CoordinatorSettings.MaxRequestBytes); // local systems have no frame limit
        Assert.Equal(1 << 20, (CoordinatorSettings with { MaxRequestBytes = 8L << 20 }).RequestChunkBytes);
    }

    [Fact]
    public void A_corrupt_request_chunk_is_answered_with_a_failure_not_silence()
    {
        var worker = Workers(_problem.Loader, 1)[0];
        var probe = CreateTestProbe();
        RegisterAsCoordinator(probe, worker, "s-corrupt");
        probe.Send(worker, new AssignShard("s-corrupt", 1, 0, _problem.Source, new RowRange(0, _problem.N)));
        probe.ExpectMsg<ShardLoaded>();
        probe.Send(worker, new RequestChunk("s-corrupt", 1, 1, 0, 5, 2, 100, new byte[50]));
        var failed = probe.ExpectMsg<ShardFailed>();
        Assert.Contains("arrived corrupt", failed.Reason);
        Assert.False(failed.WorkerFault);
        // A whole request still works afterwards.
        probe.Send(worker, new EvaluateShard("s-corrupt", 1, 2, 0, new ScalarsRequest(_problem.X0)));
        Assert.Equal(2, probe.ExpectMsg<ShardResult>().Step);
    }

    [Fact]
    public void An_owner_receives_an_oversized_request_as_chunks_that_reassemble_to_it()
    {
        var spec = Spec(_problem, _problem.Loader, "gd", 1, 1);
        var (coordinator, _) = StartCoordinator(spec, CoordinatorSettings with { MaxRequestBytes = 64 });
        var probe = CreateTestProbe();
        probe.Send(coordinator, new RegisterWorker("probe", 1));
        probe.ExpectMsg<WorkerRegistered>();
        var assignment = probe.ExpectMsg<AssignShard>();
        probe.Send(coordinator, new ShardLoaded(spec.SolveId, assignment.Epoch, 0, "probe", _problem.N, 0.0));
        var first = probe.ExpectMsg<RequestChunk>();
        Assert.True(first.ChunkCount > 1 && first.Bytes.Length <= 64, $"{first.ChunkCount} chunks, the first of {first.Bytes.Length} bytes");
        var assembler = new ChunkAssembler(first.ChunkCount, first.TotalBytes);
        assembler.Add(first);
        for (int c = 1; c < first.ChunkCount; c++)
        {
            var chunk = probe.ExpectMsg<RequestChunk>();
            Assert.Equal((spec.SolveId, assignment.Epoch, first.Step, 0), (chunk.SolveId, chunk.Epoch, chunk.Step, chunk.ShardIndex));
            assembler.Add(chunk);
        }
        var request = Assert.IsType<ScalarsRequest>(assembler.CompleteRequest());
        Assert.Equal(spec.X0, request.X);
    }

    [Fact]
    public void A_request_the_worker_drops_is_answered_with_a_failure_within_a_second()
    {
        // The first evaluation blocks inside the shard; the second waits in the queue behind it.
        var gated = new GatedLoader(_problem.Loader, 0, 1);
        var worker = Workers(gated, 1)[0];
        var probe = CreateTestProbe();
        RegisterAsCoordinator(probe, worker, "s-drop");
        probe.Send(worker, new AssignShard("s-drop", 1, 0, _problem.Source, new RowRange(0, _problem.N)));
        probe.ExpectMsg<ShardLoaded>();
        probe.Send(worker, new EvaluateShard("s-drop", 1, 1, 0, new ScalarsRequest(_problem.X0)));
        Assert.True(gated.Reached.Wait(TimeSpan.FromSeconds(10)));
        probe.Send(worker, new EvaluateShard("s-drop", 1, 2, 0, new ScalarsRequest(_problem.X0)));
        probe.Send(worker, new ReleaseShard("s-drop", 0));
        var queued = probe.ExpectMsg<ShardFailed>(TimeSpan.FromSeconds(1));
        Assert.Equal((2L, true), (queued.Step, queued.WorkerFault));
        Assert.Contains("dropped", queued.Reason);
        gated.Release(); // the running one ends after its shard was released: answered too, not silence
        var running = probe.ExpectMsg<ShardFailed>(TimeSpan.FromSeconds(1));
        Assert.Equal((1L, true), (running.Step, running.WorkerFault));
        probe.ExpectNoMsg(TimeSpan.FromMilliseconds(200));
    }

    [Fact]
    public void A_worker_refuses_assignments_releases_and_requests_from_anyone_but_the_solve_s_coordinator()
    {
        var worker = Workers(_problem.Loader, 1)[0];
        var coordinator = CreateTestProbe();
        var stranger = CreateTestProbe();
        // Unregistered: an assignment is ignored (nothing loaded, nothing answered).
        stranger.Send(worker, new AssignShard("s-auth", 1, 0, _problem.Source, new RowRange(0, _problem.N)));
        stranger.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        RegisterAsCoordinator(coordinator, worker, "s-auth");
        coordinator.Send(worker, new AssignShard("s-auth", 1, 0, _problem.Source, new RowRange(0, _problem.N)));
        coordinator.ExpectMsg<ShardLoaded>();
        // The stranger says hello for the same solve and confirms itself: the solve already has its coordinator.
        RegisterAsCoordinator(stranger, worker, "s-auth");
        stranger.Send(worker, new AssignShard("s-auth", 1, 0, ProblemSource.Create("memory", [new("name", "other")]), new RowRange(0, 1)));
        stranger.Send(worker, new AssignShard("s-auth", 2, 0, _problem.Source, new RowRange(0, 1)));
        stranger.Send(worker, new ReleaseSolve("s-auth"));
        stranger.Send(worker, new ReleaseShard("s-auth", 0));
        stranger.ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        // Its requests are refused; the real coordinator's still work, at the epoch it issued, on the rows it assigned.
        stranger.Send(worker, new EvaluateShard("s-auth", 1, 1, 0, new ScalarsRequest(_problem.X0)));
        Assert.True(stranger.ExpectMsg<ShardFailed>().WorkerFault);
        coordinator.Send(worker, GetWorkerStatus.Instance);
        var held = Assert.Single(coordinator.ExpectMsg<WorkerStatus>().Shards);
        Assert.Equal((1, (long)_problem.N), (held.Epoch, held.Rows));
        coordinator.Send(worker, new EvaluateShard("s-auth", 1, 2, 0, new ScalarsRequest(_problem.X0)));
        Assert.Equal(2, coordinator.ExpectMsg<ShardResult>().Step);
    }

    [Fact]
    public void A_chunk_header_claiming_two_hundred_million_pieces_is_refused_without_allocating()
    {
        var worker = Workers(_problem.Loader, 1)[0];
        var probe = CreateTestProbe();
        RegisterAsCoordinator(probe, worker, "s-huge");
        probe.Send(worker, new AssignShard("s-huge", 1, 0, _problem.Source, new RowRange(0, _problem.N)));
        probe.ExpectMsg<ShardLoaded>();
        long before = GC.GetAllocatedBytesForCurrentThread();
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => new ChunkAssembler(200_000_000, 2_000_000_000L));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 1 << 20, "the refused header allocated");
        probe.Send(worker, new RequestChunk("s-huge", 1, 1, 0, 0, 200_000_000, 2_000_000_000L, new byte[100]));
        var failed = probe.ExpectMsg<ShardFailed>(TimeSpan.FromSeconds(1));
        Assert.Contains("max-chunks", failed.Reason);
        // Pieces for a shard the worker does not hold (or from someone else) are refused, not kept.
        var stranger = CreateTestProbe();
        stranger.Send(worker, new RequestChunk("s-huge", 1, 1, 0, 0, 2, 200, new byte[100]));
        Assert.Contains("holds no shard", stranger.ExpectMsg<ShardFailed>().Reason);
        probe.Send(worker, new RequestChunk("s-other", 1, 1, 7, 0, 2, 200, new byte[100]));
        Assert.Contains("holds no shard", probe.ExpectMsg<ShardFailed>().Reason);
        // The worker still serves its shard.
        probe.Send(worker, new EvaluateShard("s-huge", 1, 2, 0, new ScalarsRequest(_problem.X0)));
        Assert.Equal(2, probe.ExpectMsg<ShardResult>().Step);
    }

    [Fact]
    public void Chunk_limits_bound_the_bytes_and_an_incomplete_assembly_is_dropped_after_its_timeout()
    {
        var limits = new ChunkLimits(1000, 10, TimeSpan.FromMilliseconds(500));
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => new ChunkAssembler(2, 1001, limits));
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => new ChunkAssembler(11, 1000, limits));
        var worker = Spawn(WorkerActor.Props(_problem.Loader, WorkerSettings with { Limits = limits }), "worker-aged");
        var probe = CreateTestProbe();
        RegisterAsCoordinator(probe, worker, "s-aged");
        probe.Send(worker, new AssignShard("s-aged", 1, 0, _problem.Source, new RowRange(0, _problem.N)));
        probe.ExpectMsg<ShardLoaded>();
        var encoded = WireFormat.EncodeRequest(new ScalarsRequest(_problem.X0));
        var pieces = ChunkAssembler.Split(encoded, (encoded.Length + 1) / 2);
        probe.Send(worker, new RequestChunk("s-aged", 1, 1, 0, 0, 2, encoded.LongLength, pieces[0]));
        Thread.Sleep(1200); // past the assembly timeout: the first half is gone
        probe.Send(worker, new RequestChunk("s-aged", 1, 1, 0, 1, 2, encoded.LongLength, pieces[1]));
        probe.ExpectNoMsg(TimeSpan.FromMilliseconds(100)); // half a request: nothing to evaluate
        probe.Send(worker, new RequestChunk("s-aged", 1, 1, 0, 0, 2, encoded.LongLength, pieces[0]));
        Assert.Equal(1, probe.ExpectMsg<ShardResult>().Step); // a fresh, complete assembly works
    }
}
