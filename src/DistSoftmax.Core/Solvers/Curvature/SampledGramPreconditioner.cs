using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Solvers.Curvature;

/// <summary>
/// The approximate Newton method of vector problems at large d (docs/MATH.md, "Sampled-Gram preconditioned Newton-CG"):
/// the leverage-score-sampled Gauss–Newton model H̃ = Σ_{i kept} (D_i + w_i²)/q_i · a_i a_iᵀ + Σ_jk C_jk l_j l_kᵀ
/// (D, C of <see cref="ModelKind"/>, whatever curvature the CG products use)
/// (<see cref="SampledGramCurvature"/>'s sample, but of only s = min(c·ε⁻² d ln(d/δ), <see cref="RowsPerColumn"/>·d) rows),
/// Cholesky-factorised once and used as the preconditioner M = H̃ of Newton-CG on exact Hessian-vector products.
/// A subspace embedding (1−ε)H ⪯ H̃ ⪯ (1+ε)H gives M⁻¹H eigenvalues in [1/(1+ε), 1/(1−ε)], so CG needs about
/// ½√κ·ln(2/η) products, κ = (1+ε)/(1−ε); the first CG iterate is the sampled Newton step itself and CG corrects it to
/// the inexact-Newton tolerance, so the method keeps Newton's local convergence while its d×d work is O(s·d² + d³)
/// per build instead of exact Newton's O(n·d²) per iteration.
/// The first build costs one gradient pass that returns the per-shard CountSketch R (TSQR, ≈ 8d³ flops a shard); later
/// builds take their leverage estimates from the previous build's sampled Gram instead (its Cholesky factor Lᵀ in
/// place of R: LLᵀ ≈ Aᵀ diag(D_prev) A, which embeds the current diag(√|D|)A to within the change of D), so they cost
/// only the leverage-sampling pass and two Cholesky factorisations. <see cref="NewtonCg"/> reuses a preconditioner for
/// <see cref="RefreshIterations"/> iterations.
/// </summary>
public sealed class SampledGramPreconditioner
{
    /// <summary>Cap on the sample size per column of A: s ≤ this·d (Marchenko–Pastur for s = 8d: M⁻¹H within [0.42, 1.83]).</summary>
    public const int RowsPerColumn = 8;
    /// <summary>Newton iterations a preconditioner is reused before it is sampled again at the current iterate.</summary>
    public const int RefreshIterations = 3;
    /// <summary>Damping increases before the sampled model is given up (then CG runs unpreconditioned).</summary>
    public const int MaxDampingIncreases = 8;

    /// <summary>
    /// The curvature of the sampled model M: Gauss–Newton (D ≥ 0) even when CG multiplies by the exact Hessian. An
    /// exact-Hessian model (signed D) is indefinite in a nonconvex phase, needs damping to factor, and leaves no factor
    /// for the next build's leverage estimates (so every build sketched again): at n = 100000, d = 1000 the exact model
    /// took 21 iterations and 15.6 s of solve, the Gauss–Newton one 17 and 11.8 s in the same run, and peaked lower.
    /// </summary>
    public const HessianKind ModelKind = HessianKind.GaussNewton;

    /// <summary>Random stream purposes of one build (distinct from <see cref="SampledGramCurvature"/>'s).</summary>
    private const int SketchPurpose = 11, ProjectionPurpose = 12, SamplePurpose = 13;

    private readonly double[] _factor;
    private readonly int _d;

    private SampledGramPreconditioner(double[] factor, int d) { _factor = factor; _d = d; }

    /// <summary>The model H̃ (packed upper triangle) this preconditioner factorises; a checkpoint restores it from this.</summary>
    public double[] ModelPacked { get; private init; } = Array.Empty<double>();

    /// <summary>Rows kept by the sample that built it.</summary>
    public long RowsSampled { get; private init; }

    /// <summary>The sampled Gram Σ (D_i/q_i) a_i a_iᵀ alone (packed), kept for the next build's leverage estimates.</summary>
    public double[] GramPacked { get; private init; } = Array.Empty<double>();

    /// <summary>
    /// Lᵀ of the damped sampled Gram as a packed upper triangle (the R the next build's leverage estimates use), or
    /// null when the Gram alone does not factorise (signed D of the exact Hessian): the next build sketches again.
    /// </summary>
    public double[]? LeverageTriangle { get; private init; }

    /// <summary>The sample size s for d columns under the solve's options.</summary>
    public static double SampleSize(SolverOptions options, int d) => Math.Min(options.SampleSize(d), (double)RowsPerColumn * d);

    /// <summary>
    /// Samples and factorises H̃ at the iterate: a gradient request with the CountSketch (returned as the TSQR
    /// triangle R, so Y = R⁻¹G gives leverage estimates of diag(√|D|)A), then the sampled Gram. Null when no
    /// damping makes H̃ positive definite (CG then runs unpreconditioned for this build's lifetime).
    /// </summary>
    public static IEnumerable<ShardRequest> Build(SolveRun run, Iterate current, SampledGramPreconditioner? previous,
        Out<SampledGramPreconditioner?> result)
    {
        var opts = run.Options;
        int d = run.Objective.Dimension;
        var point = current.Point;
        int sketchRows = Math.Max(opts.SketchRowsPerColumn * d, d + 1);
        double[] projT = Array.Empty<double>();
        int k = 0;
        double total = run.Objective.Rows;
        if (!opts.UniformSampling)
        {
            var triangle = previous?.LeverageTriangle;
            if (triangle is null)
            {
                yield return new GradientRequest(point.X, point.Globals, ModelKind, false, sketchRows,
                    StreamSeed(opts.Seed, current.Iteration, SketchPurpose), SketchForm.Triangle);
                triangle = run.Reply<GradientReply>().Sketch;
            }
            k = opts.ProjectionColumnsFor(run.Objective.Rows);
            (projT, total) = Sketching.LeverageProjection.FromTriangle(triangle, d, k,
                Rng.ForStream(opts.Seed, (ulong)current.Iteration, ProjectionPurpose));
        }
        if (!(total > 0 && double.IsFinite(total))) { result.Value = null; yield break; }
        yield return new SampledGramRequest(point.X, point.Globals, ModelKind, projT, k, total, SampleSize(opts, d),
            StreamSeed(opts.Seed, current.Iteration, SamplePurpose), opts.UniformSampling);
        var gram = run.Reply<GramReply>();
        var coefficients = run.Objective.LowRankCoefficients(point.Globals, ModelKind);
        var model = DenseCurvature.AssemblePacked(gram.PackedUpper, d, current.LowRank, coefficients);
        result.Value = FromModel(model, gram.PackedUpper, d, gram.RowsUsed);
    }

    /// <summary>
    /// The preconditioner of a model H̃ given packed (d(d+1)/2), with the sampled Gram it was assembled from (for the
    /// next build's leverage estimates); null when no damping makes H̃ positive definite.
    /// </summary>
    public static SampledGramPreconditioner? FromModel(double[] modelPacked, double[] gramPacked, int d, long rowsSampled)
    {
        var factor = PackedCholesky.Factor(modelPacked, d, MaxDampingIncreases);
        if (factor is null) return null;
        var triangle = PackedCholesky.LeverageTriangle(gramPacked, d);
        return new SampledGramPreconditioner(factor, d)
        {
            ModelPacked = modelPacked, GramPacked = gramPacked, RowsSampled = rowsSampled, LeverageTriangle = triangle,
        };
    }

    /// <summary>M⁻¹ r (d values) by the two triangular solves of the Cholesky factor.</summary>
    public double[] Apply(ReadOnlySpan<double> r) => DenseAlgebra.CholeskySolve(_factor, _d, r);

    private static ulong StreamSeed(ulong seed, int iteration, int purpose) =>
        Rng.Hash(seed ^ Rng.Hash(((ulong)(uint)iteration << 8) | (uint)purpose));
}
