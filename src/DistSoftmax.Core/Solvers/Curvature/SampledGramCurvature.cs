using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Solvers.Curvature;

/// <summary>
/// The approximate Newton method's curvature, a leverage-score-sampled Hessian (docs/MATH.md, "Sampled Hessian"; seed 001):
///   1. a triangle R with RᵀR ≈ Aᵀ diag(|D|) A: Lᵀ of the previous iteration's sampled Gram (LLᵀ ≈ Aᵀ diag(D_prev) A,
///      which embeds the current diag(√|D|)A to within the change of D, as <see cref="SampledGramPreconditioner"/>'s
///      builds do), so no pass carries a sketch. The first iteration has no such Gram and samples uniformly; a Gram that
///      does not factor (a signed D of the exact Hessian) leaves the last triangle in place. Until the twelfth session
///      the first iteration's gradient pass carried a CountSketch S_k·diag(√|D|)·A_k of each shard's rows (m = 4d) whose
///      Householder R the shards returned and merged by TSQR (<see cref="SketchForm.Triangle"/>), and a Gram that did
///      not factor was followed by another sketch; on `generate --n 400000 --d 400 --seed 7` the uniform start took the
///      same 14 iterations and 5.19–5.21 s whole against 5.57–5.85 s alternated, on the 200000×100 benchmark the same
///      12 iterations and 1.69–1.71 s against 1.75–1.78 s. `--sketch-factor N` (<see cref="SolverOptions.SketchRowsPerColumn"/>)
///      brings the sketch back, with m = max(N·d, d + 1) rows. (Before the sketch was confined to the first iteration,
///      at n = 400000, d = 400 a line-search trial with it cost 126 ms against 65 ms without, and the solve fell from 17
///      iterations in 6.5 s to 14 in 4.0 s);
///   2. Y = R⁻¹G for a d×k Gaussian G drawn once per solve (Σ_i τ_i is estimated by ‖G‖²_F); once steps are full, R is
///      kept from one iteration to the next, and with it Y (<see cref="SettledSteps"/>);
///   3. in one more pass shards compute τ_i = |D_i|‖a_iᵀY‖², keep row i with probability q_i = min(1, s·τ_i/Στ)
///      and weight it 1/q_i, s = ⌈c·ε⁻² d ln(d/δ)⌉;
///   4. H̃ = sampled Aᵀ diag(D) A + the exact low-rank part.
/// Every random draw is keyed by (seed, iteration, global row), so the row sample does not depend on the shard layout;
/// with a sketch R does (each shard sketches its own rows), and results are reproducible for a fixed layout.
/// Where sampling costs more than the exact Gram it approximates (<see cref="VectorSolverCostModel.SampledGramIsDearer"/>:
/// sparse rows, or a sample that keeps most rows), the exact Gram is used instead and no sketch is asked for, so an
/// explicit approx-newton never costs more per iteration than exact Newton.
/// </summary>
public sealed class SampledGramCurvature : DenseCurvature
{
    public static readonly SampledGramCurvature Instance = new();

    public override string SolverName => "approx-newton";

    /// <summary>Random stream purposes of one iteration.</summary>
    private const int SketchPurpose = 1, ProjectionPurpose = 2, SamplePurpose = 3;

    /// <summary>What this solve's next leverage estimates come from.</summary>
    private sealed class LeverageSource
    {
        /// <summary>R of the CountSketch that came with the current gradient (packed), or empty.</summary>
        public double[] Sketch = Array.Empty<double>();
        /// <summary>Lᵀ of the last sampled Gram (packed), or null before the first or when it did not factor.</summary>
        public double[]? PreviousGram;
        /// <summary>Whether the next iterate's gradient must carry a sketch: no previous Gram's factor can stand in.</summary>
        public bool NeedsSketch(SolverOptions options) => PreviousGram is null && Sketches(options);
    }

    /// <summary>Whether this solve uses the exact Gram because sampling would cost more.</summary>
    public static bool UsesExactGram(SolveRun run) =>
        VectorSolverCostModel.SampledGramIsDearer(run.Objective.Rows, run.Objective.Dimension, run.Objective.StoredEntries, run.Options);

    public override GradientRequest GradientRequest(SolveRun run, PointEvaluation point, int iteration, HessianKind kind)
    {
        var opts = run.Options;
        int m = SketchesNext(run) ? SketchRows(run) : 0;
        return new GradientRequest(point.X, point.Globals, kind, true, m, Rng.StreamSeed(opts.Seed, iteration, SketchPurpose), SketchForm.Triangle);
    }

    /// <summary>
    /// When the next iteration needs a sketch (no factor of this one's Gram), trials also return it (seeded as that
    /// iteration's gradient request would be), with the row curvatures at the current iterate's globals: an accepted
    /// step then costs one pass over A plus the leverage pass.
    /// </summary>
    public override ScalarsRequest TrialRequest(SolveRun run, ScalarsRequest trial, int iteration, HessianKind kind)
    {
        if (!trial.WithGradient || !SketchesNext(run)) return trial;
        return trial with
        {
            SketchRows = SketchRows(run), SketchSeed = Rng.StreamSeed(run.Options.Seed, iteration + 1, SketchPurpose), SketchKind = kind,
            SketchForm = SketchForm.Triangle,
        };
    }

    public override bool IsComplete(SolveRun run, GradientReply fused) =>
        fused.Sketch.Length > 0 || !SketchesNext(run);

    public override void OnGradient(SolveRun run, GradientReply reply) => StateOf<LeverageSource>(run).Sketch = reply.Sketch;

    /// <summary>A reply without a sketch is recorded with the previous Gram's Lᵀ in its place: the triangle the next build uses.</summary>
    public override GradientReply ForCheckpoint(SolveRun run, GradientReply reply) =>
        reply.Sketch.Length == 0 && StateOf<LeverageSource>(run).PreviousGram is { } triangle
            ? reply with { Sketch = triangle, SketchColumns = run.Objective.Dimension }
            : reply;

    public override IEnumerable<ShardRequest> Build(SolveRun run, Iterate current, Out<DenseModel> model)
    {
        if (!run.Objective.SupportsRowSampling)
            throw new NotSupportedException($"{run.Objective.Name} has no row sampling: its approximate Newton is the line-search ApproximateNewton (Kronecker-preconditioned Newton-CG)");
        if (UsesExactGram(run))
        {
            foreach (var r in ExactGramCurvature.Instance.Build(run, current, model)) yield return r;
            yield break;
        }
        var opts = run.Options;
        var point = current.Point;
        int d = run.Objective.Dimension;
        double s = opts.SampleSize(d);
        var source = StateOf<LeverageSource>(run);
        var triangle = source.Sketch.Length > 0 ? source.Sketch : source.PreviousGram;
        // G is drawn once per solve (stream (seed, 0)): Y = R⁻¹G then changes only with R, and a kept R brings the same Y.
        var scores = SampleScores.For(triangle, d, run.Objective.Rows, opts, Rng.ForStream(opts.Seed, 0, ProjectionPurpose));
        GramReply gram;
        if (scores.Total > 0 && double.IsFinite(scores.Total))
        {
            yield return new SampledGramRequest(point.X, point.Globals, current.Kind, scores.ProjectionT, scores.K, scores.Total, s,
                Rng.StreamSeed(opts.Seed, current.Iteration, SamplePurpose), scores.Uniform,
                SinglePrecision: StepsCutBack(run));
            gram = run.Reply<GramReply>();
        }
        else
        {
            gram = new GramReply(new double[Packed.Length(d)], 0);
        }
        if (!opts.UniformSampling)
        {
            // A Gram that does not factor (a signed D of the exact Hessian) gives no triangle: with sketching the next
            // iterate is sketched again; without, the triangle this sample came from stays (stale by an iteration or
            // more, which only loosens the constant of the estimates, and the sample stays unbiased).
            // Once steps are full the triangle this sample came from is kept (it arrives as Sketch after a resume).
            source.Sketch = Array.Empty<double>();
            source.PreviousGram = triangle is not null && SettledSteps(run) ? triangle
                : PackedCholesky.LeverageTriangle(gram.PackedUpper, d) ?? (Sketches(opts) ? null : triangle);
        }
        model.Value = FromGram(run, current, gram);
    }

    /// <summary>Full steps in a row after which the leverage triangle may be kept (<see cref="SettledSteps"/>).</summary>
    public const int KeepTriangleAfterFullSteps = 2;

    /// <summary>The largest relative change of the loss in the last step at which the triangle is kept.</summary>
    public const double KeepTriangleBelowLossChange = 1e-3;

    /// <summary>
    /// Or the largest change of the loss, relative to the loss at x0, at which it is kept: a problem with an exact
    /// solution has its loss falling to 0, so its relative change stays large to the end.
    /// </summary>
    public const double KeepTriangleBelowInitialLossChange = 1e-6;

    /// <summary>
    /// Whether the solve has settled: the last <see cref="KeepTriangleAfterFullSteps"/> line-search steps were full
    /// (t = 1) and the last one changed the loss by at most <see cref="KeepTriangleBelowLossChange"/> of it (or by at most
    /// <see cref="KeepTriangleBelowInitialLossChange"/> of the loss at x0). D then changes little from
    /// one iterate to the next, so the triangle the current sample came from is kept for the next instead of factoring
    /// this sample's Gram; Y = R⁻¹G stays the same, and the shards project each row by it once for all the iterations
    /// that keep it (<see cref="Shards.VectorShard"/>). In-process (`scale 400000 400 approx-newton`): 2.65 s of solve in
    /// 14 iterations before, 2.39–2.41 s in 13 after, the kept iterations taking 60–75 ms instead of 104–143 ms. Full
    /// steps alone were not enough: on `generate --n 400000 --d 400 --seed 7` a triangle kept from iteration 7 (loss
    /// still falling 3×) sampled 3400 rows instead of 5000 and converged at 0.08 a step instead of 0.03, taking
    /// 16 iterations instead of 14; with the loss condition it takes 14. Read from the trace, which a checkpoint
    /// carries, so a resumed solve keeps the same triangles.
    /// </summary>
    internal static bool SettledSteps(SolveRun run)
    {
        // A trust region's trace records ‖p‖, not t: only the line search's full steps are read.
        var trace = run.Trace;
        if (run.Solver.Globalization != LineSearchSolver.LineSearchGlobalization || trace.Count < KeepTriangleAfterFullSteps) return false;
        for (int i = trace.Count - KeepTriangleAfterFullSteps; i < trace.Count; i++)
            if (trace[i].StepLength != 1) return false;
        double before = trace[^2].Loss, now = trace[^1].Loss, change = Math.Abs(before - now);
        return change <= KeepTriangleBelowLossChange * Math.Abs(now) || change <= KeepTriangleBelowInitialLossChange * Math.Abs(trace[0].Loss);
    }

    /// <summary>
    /// Whether a line-search solve is still in its damped phase — no step taken yet, or the last one cut back (a trust
    /// region's trace records ‖p‖, not t, and its models stay in double) — where the model's sampled Gram is summed in single
    /// precision (<see cref="SampledGramRequest.SinglePrecision"/>: OpenBLAS's ssyrk on dense rows, d ≥ 64). There the
    /// line search, not the model's accuracy, decides the step, and float sums (≈ 1e-6 of the Gram's entries) are far
    /// inside the sample's own (1 ± ε); once steps are full the model is summed in double again, so the local
    /// convergence is the double model's. `scale 400000 400 approx-newton`, four alternated pairs (sixteenth session):
    /// the same 13 iterations and 32 requests, solve 2.37, 2.27, 2.26, 2.21 s against 2.37, 2.43, 2.59, 2.39 s.
    /// (The thirteenth session's float model at every iteration saved 0.3 s of 2.9 s but was kept out of the local
    /// phase, where an additive error near the smallest eigenvalues would be the step's own error.)
    /// </summary>
    private static bool StepsCutBack(SolveRun run) =>
        run.Solver.Globalization == LineSearchSolver.LineSearchGlobalization && (run.Trace.Count < 2 || run.Trace[^1].StepLength < 1);

    /// <summary>
    /// Whether the next iterate's gradient pass must carry a sketch: the solve samples by leverage (not uniformly, not
    /// on the exact Gram), sketches at all, and has no previous Gram's factor to take the estimates from.
    /// </summary>
    private static bool SketchesNext(SolveRun run) =>
        !run.Options.UniformSampling && !UsesExactGram(run) && StateOf<LeverageSource>(run).NeedsSketch(run.Options);

    /// <summary>Whether the solve sketches A for leverage estimates (<see cref="SolverOptions.SketchRowsPerColumn"/> ≥ 1; off by default).</summary>
    private static bool Sketches(SolverOptions options) => options.SketchRowsPerColumn > 0;

    private static int SketchRows(SolveRun run)
    {
        int d = run.Objective.Dimension;
        return Math.Max(run.Options.SketchRowsPerColumn * d, d + 1);
    }
}
