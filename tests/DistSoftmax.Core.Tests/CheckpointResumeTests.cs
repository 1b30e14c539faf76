using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Solvers.Checkpoints;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// Checkpoints and resume (SolverCheckpoint, CheckpointFormat): a solve resumed from the checkpoint of any iteration,
/// read back from its file bytes, reaches the x of the uninterrupted solve (bit for bit: the continuation issues the same
/// requests with the same keyed random draws), with the same iteration count and trace; bad checkpoint files and
/// checkpoints of another solve are refused with one-line messages.
/// </summary>
public class CheckpointResumeTests
{
    /// <summary>n large enough that the sampled Hessian samples (s = ⌈2·ε⁻²·d·ln(d/δ)⌉ ≈ 307 rows of 3000 for d = 6).</summary>
    private static TestProblem Planted(int n = 3000, int d = 6, ulong seed = 41)
    {
        var a = TestProblem.Gaussian(n, d, seed);
        var b = TestProblem.Softmax(a, TestProblem.Vector(d, seed + 1, 1.5));
        return new TestProblem(NormalizedSoftmax.Instance, a, b, Regularizer.None);
    }

    private static (SolverResult Result, List<SolverCheckpoint> Checkpoints) RunTakingCheckpoints(InProcessDriver driver, Solver solver,
        IObjective objective, double[] x0, SolverOptions options)
    {
        var checkpoints = new List<SolverCheckpoint>();
        var result = driver.Solve(solver, objective, x0, options with { Checkpoint = checkpoints.Add });
        return (result, checkpoints);
    }

    private static void AssertSameSolve(SolverResult expected, SolverResult resumed, string what)
    {
        Assert.Equal(expected.Exit, resumed.Exit);
        Assert.Equal(expected.Iterations, resumed.Iterations);
        Assert.Equal(expected.Requests, resumed.Requests);
        double err = Assertions.RelativeError(resumed.X, expected.X);
        Assert.True(err <= 1e-10, $"{what}: resumed x differs from the uninterrupted x by {err:E2} (relative)");
        Assert.Equal(expected.X, resumed.X);   // and in fact bit for bit
        Assert.Equal(expected.Trace.Select(t => (t.Iteration, t.Loss, t.GradientNorm, t.StepLength, t.RowsSampled)),
            resumed.Trace.Select(t => (t.Iteration, t.Loss, t.GradientNorm, t.StepLength, t.RowsSampled)));
        Assert.Equal(expected.InitialGradientNorm, resumed.InitialGradientNorm);
    }

    [Theory]
    [InlineData("lbfgs", GlobalizationMode.LineSearch)]
    [InlineData("gd", GlobalizationMode.LineSearch)]
    [InlineData("approx-newton", GlobalizationMode.LineSearch)]
    [InlineData("approx-newton", GlobalizationMode.TrustRegion)]
    [InlineData("newton", GlobalizationMode.LineSearch)]
    [InlineData("newton", GlobalizationMode.TrustRegion)]
    [InlineData("newton-cg", GlobalizationMode.LineSearch)]
    [InlineData("newton-cg", GlobalizationMode.TrustRegion)]
    public void A_solve_resumed_from_any_checkpoint_file_reaches_the_uninterrupted_x(string name, GlobalizationMode globalization)
    {
        var p = Planted();
        var options = new SolverOptions { RelativeTolerance = 1e-11, MaxIterations = name == "gd" ? 60 : 300, Seed = 5, Globalization = globalization };
        var solver = SolverCatalog.Create(name, options);
        var x0 = new double[p.D];
        var (full, checkpoints) = RunTakingCheckpoints(p.Driver(3), solver, p.Objective, x0, options);
        Assert.True(full.Iterations >= 3, $"{name}: {full.Iterations} iterations is too few to test resuming");
        // One checkpoint per iteration that did not end the solve, each ending its trace at its iteration.
        Assert.Equal(Enumerable.Range(0, full.Iterations), checkpoints.Select(c => c.Iteration));
        Assert.All(checkpoints, c => Assert.Equal(c.Iteration + 1, c.Trace.Count));
        if (name == "lbfgs") Assert.NotNull(checkpoints[2].SolverState);
        if (name == "approx-newton" && globalization == GlobalizationMode.LineSearch) Assert.NotEmpty(checkpoints[2].Sketch);

        foreach (int at in new[] { 0, 2, full.Iterations - 1 })
        {
            var restored = CheckpointFormat.Read(CheckpointFormat.Write(checkpoints[at]));
            var resumed = p.Driver(3).Solve(SolverCatalog.Create(name, options), p.Objective, x0, options with { ResumeFrom = restored });
            AssertSameSolve(full, resumed, $"{name} ({globalization}) resumed after iteration {at}");
        }
    }

    [Fact]
    public void The_Kronecker_preconditioned_approximate_Newton_of_a_matrix_problem_resumes_with_the_same_preconditioner()
    {
        var p = MatrixTestProblems.Random("multiple-normalized", 40, 4, false, 61);
        var options = new SolverOptions { RelativeTolerance = 1e-10, MaxIterations = 200, Seed = 2 };
        var x0 = new double[p.Objective.Dimension];
        var (full, checkpoints) = RunTakingCheckpoints(MatrixTestProblems.Driver(p, 2), SolverCatalog.Create("approx-newton"), p.Objective, x0, options);
        Assert.True(full.Iterations >= 3, $"{full.Iterations} iterations is too few to test resuming");
        Assert.Equal(SolverStates.Kronecker, checkpoints[1].SolverState!.Kind);
        // After iteration 1 the preconditioner built at iteration 0 is still in use (refreshed every 3 iterations):
        // the resumed run must rebuild that one, not one at iteration 1.
        var restored = CheckpointFormat.Read(CheckpointFormat.Write(checkpoints[1]));
        Assert.Equal(0, (int)restored.SolverState!.Scalars[0]);
        // And the curvature pairs of iterations 0 and 1's CG solves that correct it (CurvaturePairs): [.., kind, k].
        var state = restored.SolverState!;
        int pairs = (int)state.Scalars[4];
        Assert.True(pairs > 0, "no curvature pairs in the checkpoint");
        Assert.Equal(2 + 2 * pairs, state.Arrays.Count);
        var resumed = MatrixTestProblems.Driver(p, 2).Solve(SolverCatalog.Create("approx-newton"), p.Objective, x0, options with { ResumeFrom = restored });
        AssertSameSolve(full, resumed, "matrix approx-newton resumed after iteration 1");

        // A checkpoint written before the pairs (three scalars, two arrays) resumes too, collecting pairs afresh.
        var earlier = restored with { SolverState = new CheckpointState(state.Kind, state.Scalars[..3], state.Arrays.Take(2).ToList()) };
        var fromEarlier = MatrixTestProblems.Driver(p, 2).Solve(SolverCatalog.Create("approx-newton"), p.Objective, x0, options with { ResumeFrom = earlier });
        Assert.True(fromEarlier.Converged, fromEarlier.Message);
        Assert.True(Assertions.RelativeError(fromEarlier.X, full.X) < 1e-7);
        // A pair count that does not match the arrays, or a pair of the wrong length, is refused.
        foreach (var bad in new[]
                 {
                     new CheckpointState(state.Kind, [.. state.Scalars[..4], pairs + 1], state.Arrays),
                     new CheckpointState(state.Kind, state.Scalars, [.. state.Arrays.Take(state.Arrays.Count - 1), new double[3]]),
                     new CheckpointState(state.Kind, [.. state.Scalars[..3], 7, pairs], state.Arrays),
                 })
        {
            var message = Assert.Throws<CheckpointFormatException>(() => SolverCatalog.Create("approx-newton")
                .Start(p.Objective, x0, options with { ResumeFrom = restored with { SolverState = bad } })).Message;
            Assert.Contains("Kronecker", message);
        }
    }

    [Fact]
    public void The_sampled_Gram_preconditioned_approximate_Newton_resumes_with_the_same_preconditioner()
    {
        var p = Planted(n: 3000, d: 12);
        var solver = new NewtonCg(CgPreconditioning.SampledGram);
        var options = new SolverOptions { RelativeTolerance = 1e-11, MaxIterations = 200, Seed = 9 };
        var x0 = new double[p.D];
        var (full, checkpoints) = RunTakingCheckpoints(p.Driver(3), solver, p.Objective, x0, options);
        Assert.True(full.Iterations >= 3, $"{full.Iterations} iterations is too few to test resuming");
        Assert.Equal(SolverStates.SampledGram, checkpoints[1].SolverState!.Kind);
        foreach (int at in new[] { 0, 1, full.Iterations - 1 })
        {
            var restored = CheckpointFormat.Read(CheckpointFormat.Write(checkpoints[at]));
            // Built at iteration 0 and kept for RefreshIterations: after iteration 1 the resumed run must refactor that model.
            if (at == 1) Assert.Equal(0, (int)restored.SolverState!.Scalars[0]);
            var resumed = p.Driver(3).Solve(new NewtonCg(CgPreconditioning.SampledGram), p.Objective, x0, options with { ResumeFrom = restored });
            AssertSameSolve(full, resumed, $"preconditioned approx-newton resumed after iteration {at}");
        }
    }

    [Fact]
    public void A_checkpoint_file_is_its_header_and_exact_payload_and_reads_back_to_the_same_bytes()
    {
        var p = Planted(n: 3000, d: 12);
        var options = new SolverOptions { RelativeTolerance = 1e-11, MaxIterations = 200, Seed = 9 };
        var (_, checkpoints) = RunTakingCheckpoints(p.Driver(3), new NewtonCg(CgPreconditioning.SampledGram), p.Objective, new double[p.D], options);
        var c = checkpoints[1];
        var file = CheckpointFormat.Write(c);
        // Header: magic, version, payload length, SHA-256 of the payload (4 + 2 + 8 + 32 bytes), then the payload only.
        const int header = 46;
        Assert.Equal(file.Length - header, BitConverter.ToInt64(file, 6));
        Assert.Equal(System.Security.Cryptography.SHA256.HashData(file.AsSpan(header)), file[14..header]);
        var back = CheckpointFormat.Read(file);
        Assert.Equal(c.X, back.X);
        Assert.Equal(c.SolverState!.Arrays.Count, back.SolverState!.Arrays.Count);
        for (int i = 0; i < c.SolverState.Arrays.Count; i++) Assert.Equal(c.SolverState.Arrays[i], back.SolverState.Arrays[i]);
        Assert.Equal(file, CheckpointFormat.Write(back));
    }

    [Fact]
    public void A_kept_encoding_buffer_holds_the_same_file_and_is_reused_as_the_trace_grows()
    {
        var p = Planted(n: 3000, d: 12);
        var options = new SolverOptions { RelativeTolerance = 1e-11, MaxIterations = 200, Seed = 9 };
        var (_, checkpoints) = RunTakingCheckpoints(p.Driver(3), new NewtonCg(CgPreconditioning.SampledGram), p.Objective, new double[p.D], options);
        Assert.True(checkpoints.Count >= 4, "the test needs a few checkpoints");
        byte[]? buffer = null;
        var buffers = new HashSet<byte[]>(ReferenceEqualityComparer.Instance);
        foreach (var c in checkpoints)
        {
            int length = CheckpointFormat.Write(c, ref buffer);
            buffers.Add(buffer!);
            Assert.Equal(CheckpointFormat.Write(c), buffer![..length]);   // the same file, byte for byte
            Assert.Equal(c.Trace.Count, CheckpointFormat.Read(buffer.AsSpan(0, length)).Trace.Count);
        }
        // Each checkpoint's trace is one row longer: the quarter of slack absorbs that, so only the jump when the
        // preconditioner's arrays first appear (iteration 0 has none) needs a second buffer.
        Assert.InRange(buffers.Count, 1, 2);
    }

    [Fact]
    public void A_resumed_run_continues_the_trace_request_count_and_clock()
    {
        var p = Planted(n: 500);
        var options = new SolverOptions { RelativeTolerance = 1e-11, MaxIterations = 100 };
        var (full, checkpoints) = RunTakingCheckpoints(p.Driver(2), new Lbfgs(), p.Objective, new double[p.D], options);
        var at = checkpoints[3];
        var seen = new List<TraceEntry>();
        var run = new Lbfgs().Start(p.Objective, new double[p.D], options with { ResumeFrom = at });
        run.Progress += seen.Add;
        Assert.Equal(4, run.Trace.Count);
        Assert.Equal(at.Requests, run.Requests);
        Assert.True(run.Seconds >= at.Seconds);
        var result = p.Driver(2).Run(run);
        Assert.Equal(full.Iterations - 3, seen.Count);          // progress only for the new iterations
        Assert.Equal(4, seen[0].Iteration);
        Assert.Equal(full.X, result.X);
    }

    [Fact]
    public void Bad_checkpoint_files_are_refused_with_one_line_messages()
    {
        var p = Planted(n: 500);
        var (_, checkpoints) = RunTakingCheckpoints(p.Driver(1), new Lbfgs(), p.Objective, new double[p.D], new SolverOptions { MaxIterations = 5 });
        var good = CheckpointFormat.Write(checkpoints[^1]);

        string Refused(byte[] bytes)
        {
            var message = Assert.Throws<CheckpointFormatException>(() => CheckpointFormat.Read(bytes)).Message;
            Assert.DoesNotContain('\n', message);
            return message;
        }
        Assert.Contains("DSCK", Refused(Array.Empty<byte>()));
        Assert.Contains("DSCK", Refused("not a checkpoint at all, just text"u8.ToArray()));
        Assert.Contains("truncated", Refused(good[..^9]));
        Assert.Contains("trailing", Refused([.. good, 0]));
        var flipped = (byte[])good.Clone();
        flipped[^20] ^= 0x40;
        Assert.Contains("corrupted", Refused(flipped));
        var otherVersion = (byte[])good.Clone();
        otherVersion[4] = 99;
        Assert.Contains("version 99", Refused(otherVersion));
        // Payloads whose digest matches but whose lengths lie: a string longer than allowed, an array longer than the file.
        Assert.Contains("invalid length", Refused(Framed([.. BitConverter.GetBytes(1_000_000), .. new byte[16]])));
        byte[] lbfgs = [.. BitConverter.GetBytes(5), .. "lbfgs"u8.ToArray()];
        byte[] lineSearch = [.. BitConverter.GetBytes(11), .. "line-search"u8.ToArray()];
        byte[] sizes = [.. BitConverter.GetBytes(6), .. BitConverter.GetBytes(500L), .. BitConverter.GetBytes(3)];
        var hugeX = Refused(Framed([.. lbfgs, .. lineSearch, .. sizes, .. BitConverter.GetBytes(int.MaxValue), .. new byte[64]]));
        Assert.Contains("x count", hugeX);
    }

    /// <summary>A checkpoint file around a payload: magic, version 1, length and the payload's true SHA-256.</summary>
    private static byte[] Framed(byte[] payload) =>
        [.. "DSCK"u8.ToArray(), .. BitConverter.GetBytes((ushort)1), .. BitConverter.GetBytes((long)payload.Length),
            .. System.Security.Cryptography.SHA256.HashData(payload), .. payload];

    [Fact]
    public void A_checkpoint_of_another_solver_or_problem_does_not_resume()
    {
        var p = Planted(n: 500);
        var (_, checkpoints) = RunTakingCheckpoints(p.Driver(1), new Lbfgs(), p.Objective, new double[p.D], new SolverOptions { MaxIterations = 5 });
        var options = new SolverOptions { ResumeFrom = checkpoints[^1] };
        var otherSolver = Assert.Throws<CheckpointFormatException>(() => new GradientDescent().Start(p.Objective, new double[p.D], options)).Message;
        Assert.Contains("lbfgs", otherSolver);
        var other = Planted(n: 400, d: 6);
        var otherProblem = Assert.Throws<CheckpointFormatException>(() => new Lbfgs().Start(other.Objective, new double[other.D], options)).Message;
        Assert.Contains("500 rows", otherProblem);
        var badPairs = checkpoints[^1] with { SolverState = new CheckpointState(SolverStates.LbfgsPairs, [1.0], [new double[6]]) };
        Assert.Throws<CheckpointFormatException>(() => new Lbfgs().Start(p.Objective, new double[p.D], new SolverOptions { ResumeFrom = badPairs }));
        var unknown = checkpoints[^1] with { SolverState = new CheckpointState("quasi-magic", [], []) };
        Assert.Contains("quasi-magic", Assert.Throws<CheckpointFormatException>(() =>
            new Lbfgs().Start(p.Objective, new double[p.D], new SolverOptions { ResumeFrom = unknown })).Message);
    }
}
