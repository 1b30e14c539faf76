using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Solvers.Curvature;

/// <summary>
/// The approximate Newton method's curvature, a leverage-score-sampled Hessian (docs/MATH.md, "Sampled Hessian"; seed 001):
///   1. a triangle R with RᵀR ≈ Aᵀ diag(|D|) A: at the first iteration, with the gradient, each shard forms a
///      CountSketch S_k·diag(√|D|)·A_k of its rows (m = SketchRowsPerColumn·d rows) and returns only R of its
///      Householder QR (a packed d×d triangle); replies merge by TSQR in shard order (<see cref="SketchForm.Triangle"/>).
///      Later iterations take Lᵀ of the previous iteration's sampled Gram (LLᵀ ≈ Aᵀ diag(D_prev) A, which embeds the
///      current diag(√|D|)A to within the change of D, as <see cref="SampledGramPreconditioner"/>'s builds do), so their
///      passes carry no sketch: at n = 400000, d = 400 a line-search trial with the sketch cost 126 ms against 65 ms
///      without (`passes 400000 400`), and the solve fell from 17 iterations in 6.5 s to 14 in 4.0 s (`scale 400000 400
///      approx-newton`). Only when that Gram does not factor (a signed D of the exact Hessian) is the next iterate's
///      sketch taken again, from the accepted trial's own pass with D at the previous iterate's globals
///      (see <see cref="TrialRequest"/>);
///   2. Y = R⁻¹G for a d×k Gaussian G (Σ_i τ_i is estimated by ‖G‖²_F);
///   3. in one more pass shards compute τ_i = |D_i|‖a_iᵀY‖², keep row i with probability q_i = min(1, s·τ_i/Στ)
///      and weight it 1/q_i, s = ⌈c·ε⁻² d ln(d/δ)⌉;
///   4. H̃ = sampled Aᵀ diag(D) A + the exact low-rank part.
/// Every random draw is keyed by (seed, iteration, global row); the row sample would not depend on the shard layout,
/// but R (and so the leverage estimates) does, since each shard sketches its own rows: results are reproducible for
/// a fixed layout.
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
        public bool NeedsSketch => PreviousGram is null;
    }

    /// <summary>Whether this solve uses the exact Gram because sampling would cost more.</summary>
    public static bool UsesExactGram(SolveRun run) =>
        VectorSolverCostModel.SampledGramIsDearer(run.Objective.Rows, run.Objective.Dimension, run.Objective.StoredEntries, run.Options);

    public override GradientRequest GradientRequest(SolveRun run, PointEvaluation point, int iteration, HessianKind kind)
    {
        var opts = run.Options;
        int m = opts.UniformSampling || UsesExactGram(run) || !StateOf<LeverageSource>(run).NeedsSketch ? 0 : SketchRows(run);
        return new GradientRequest(point.X, point.Globals, kind, true, m, StreamSeed(opts.Seed, iteration, SketchPurpose), SketchForm.Triangle);
    }

    /// <summary>
    /// When the next iteration needs a sketch (no factor of this one's Gram), trials also return it (seeded as that
    /// iteration's gradient request would be), with the row curvatures at the current iterate's globals: an accepted
    /// step then costs one pass over A plus the leverage pass.
    /// </summary>
    public override ScalarsRequest TrialRequest(SolveRun run, ScalarsRequest trial, int iteration, HessianKind kind)
    {
        if (!trial.WithGradient || run.Options.UniformSampling || UsesExactGram(run) || !StateOf<LeverageSource>(run).NeedsSketch)
            return trial;
        return trial with
        {
            SketchRows = SketchRows(run), SketchSeed = StreamSeed(run.Options.Seed, iteration + 1, SketchPurpose), SketchKind = kind,
            SketchForm = SketchForm.Triangle,
        };
    }

    public override bool IsComplete(SolveRun run, GradientReply fused) =>
        run.Options.UniformSampling || UsesExactGram(run) || fused.Sketch.Length > 0 || !StateOf<LeverageSource>(run).NeedsSketch;

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
        double[] projT = Array.Empty<double>();
        int k = 0;
        double total;
        if (opts.UniformSampling)
        {
            total = run.Objective.Rows;
        }
        else
        {
            var source = StateOf<LeverageSource>(run);
            var triangle = source.Sketch.Length > 0 ? source.Sketch : source.PreviousGram!;
            k = opts.ProjectionColumnsFor(run.Objective.Rows);
            (projT, total) = Sketching.LeverageProjection.FromTriangle(triangle, d, k,
                Rng.ForStream(opts.Seed, (ulong)current.Iteration, ProjectionPurpose));
        }
        GramReply gram;
        if (total > 0 && double.IsFinite(total))
        {
            yield return new SampledGramRequest(point.X, point.Globals, current.Kind, projT, k, total, s,
                StreamSeed(opts.Seed, current.Iteration, SamplePurpose), opts.UniformSampling);
            gram = run.Reply<GramReply>();
        }
        else
        {
            gram = new GramReply(new double[Packed.Length(d)], 0);
        }
        if (!opts.UniformSampling)
        {
            var source = StateOf<LeverageSource>(run);
            source.Sketch = Array.Empty<double>();
            source.PreviousGram = PackedCholesky.LeverageTriangle(gram.PackedUpper, d);
        }
        model.Value = FromGram(run, current, gram);
    }

    private static int SketchRows(SolveRun run)
    {
        int d = run.Objective.Dimension;
        return Math.Max(run.Options.SketchRowsPerColumn * d, d + 1);
    }

    private static ulong StreamSeed(ulong seed, int iteration, int purpose) =>
        Rng.Hash(seed ^ Rng.Hash(((ulong)(uint)iteration << 8) | (uint)purpose));
}
