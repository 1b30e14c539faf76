using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Solvers.Curvature;

/// <summary>
/// The approximate Newton method of vector problems at large d (docs/MATH.md, "Sampled-Gram preconditioned Newton-CG"):
/// the leverage-score-sampled Gauss–Newton model H̃ = Σ_{i kept} (D_i + w_i²)/q_i · a_i a_iᵀ + Σ_jk C_jk l_j l_kᵀ
/// (D, C of <see cref="ModelKind"/>, whatever curvature the CG products use)
/// (<see cref="SampledGramCurvature"/>'s sample, but of only s = min(c·ε⁻² d ln(d/δ), <see cref="RowsPerColumn"/>·d) rows),
/// used as the preconditioner M = H̃ of Newton-CG on exact Hessian-vector products. Only the sampled Gram G = LLᵀ is
/// factorised; the k low-rank terms (k ≤ 3) enter by Woodbury: M = L(I + V C Vᵀ)Lᵀ with V = L⁻¹[l_1 … l_k], so with
/// V = QR (thin QR) M⁻¹ = L⁻ᵀ(I + Q(T⁻¹ − I)Qᵀ)L⁻¹, T = I + R C Rᵀ (k×k). Where the sample's noise leaves T with an
/// eigenvalue below <see cref="MinimumRelativeCurvature"/> (M indefinite or nearly singular), that eigenvalue is
/// replaced by max(|λ|, that floor), so M stays positive definite and within a bounded factor of G; before, M itself
/// was factorised, raising a diagonal damping ×100 from 1e-10·tr/d until it factored, which at n = 100000, d = 1000
/// cost 4–5 failed factorisations (290–340 ms) in half the builds and left M nearly singular.
/// A subspace embedding (1−ε)H ⪯ H̃ ⪯ (1+ε)H gives M⁻¹H eigenvalues in [1/(1+ε), 1/(1−ε)], so CG needs about
/// ½√κ·ln(2/η) products, κ = (1+ε)/(1−ε); the first CG iterate is the sampled Newton step itself and CG corrects it to
/// the inexact-Newton tolerance, so the method keeps Newton's local convergence while its d×d work is O(s·d² + d³)
/// per build instead of exact Newton's O(n·d²) per iteration.
/// The first build samples uniformly (<see cref="Build"/>); later builds take their leverage estimates from the
/// previous build's sampled Gram (its Cholesky factor Lᵀ in the place of a sketch's R: LLᵀ ≈ Aᵀ diag(D_prev) A, which
/// embeds the current diag(√|D|)A to within the change of D), so a build costs the leverage-sampling pass and one
/// Cholesky factorisation, and A is never sketched. <see cref="NewtonCg"/> reuses a preconditioner for
/// <see cref="RefreshIterations"/> iterations.
/// The sample's products are summed in single precision where the shards can (dense rows with OpenBLAS's ssyrk,
/// d ≥ 64; <see cref="SampledGramRequest.SinglePrecision"/>): the preconditioner only steers CG, whose products are
/// exact, and float sums perturb the Gram by about 1e-6 of its entries against the sample's (1 ± ε). At n = 100000,
/// d = 1000 the sampled Gram is most of a build (README, "Dependency decisions").
/// </summary>
public sealed class SampledGramPreconditioner
{
    /// <summary>Cap on the sample size per column of A: s ≤ this·d (Marchenko–Pastur for s = 8d: M⁻¹H within [0.42, 1.83]).</summary>
    public const int RowsPerColumn = 8;
    /// <summary>
    /// Newton iterations a preconditioner is reused before it is sampled again at the current iterate: 1, a fresh
    /// sample at every iterate. At n = 100000, d = 1000 (`scale 100000 1000 approx-newton`, ninth session, the Woodbury
    /// form above) rebuilding every 1, 2, 3 iterations took 44, 105, 156 Hessian-vector products and 6.5, 7.7, 9.0 s
    /// of solve in 14 iterations each: a build (leverage pass, Gram of 3000–12000 rows, one Cholesky) costs about
    /// what six products do, and a stale model costs more. (With three builds in 14 iterations the fifth session's
    /// tuning chose 3, when every build sketched again and the model was damped until it factored.)
    /// Once the solve has settled (<see cref="SampledGramCurvature.SettledSteps"/>: two full steps, the last changing the
    /// loss by at most 1e-3 of it) D hardly changes, and the preconditioner is kept to the end (CG's products stay
    /// exact, so only its speed could suffer). Five alternated in-process pairs at 100000×1000 (sixteenth session): 14
    /// iterations and 78 requests instead of 15 and 84, solve 3.72, 3.64, 3.67, 4.22, 4.35 s against 3.87, 3.62, 3.95,
    /// 4.35, 4.70 s. Kept after two full steps alone (the loss still falling 3× a step) it took 163 requests and 6.4 s.
    /// </summary>
    public const int RefreshIterations = 1;
    /// <summary>Damping increases before the sampled Gram is given up (then CG runs unpreconditioned).</summary>
    public const int MaxDampingIncreases = 8;
    /// <summary>
    /// Least curvature of M relative to the sampled Gram G along any direction (the floor on T's eigenvalues): the
    /// low-rank part changes G's curvature only in the k directions it spans, and there the floor keeps M within a
    /// factor 100 of G.
    /// </summary>
    public const double MinimumRelativeCurvature = 1e-2;

    /// <summary>
    /// The curvature of the sampled model M: Gauss–Newton (D ≥ 0) even when CG multiplies by the exact Hessian. An
    /// exact-Hessian model (signed D) is indefinite in a nonconvex phase, needs damping to factor, and leaves no factor
    /// for the next build's leverage estimates (so every build sketched again): at n = 100000, d = 1000 the exact model
    /// took 21 iterations and 15.6 s of solve, the Gauss–Newton one 17 and 11.8 s in the same run, and peaked lower.
    /// </summary>
    public const HessianKind ModelKind = HessianKind.GaussNewton;

    /// <summary>Random stream purposes of one build (distinct from <see cref="SampledGramCurvature"/>'s; 11 was the first build's sketch).</summary>
    private const int ProjectionPurpose = 12, SamplePurpose = 13;

    /// <summary>R of the sampled Gram G = RᵀR, packed by rows (d(d+1)/2, <see cref="Packed"/>; L = Rᵀ).</summary>
    private readonly double[] _factor;
    private readonly int _d;
    /// <summary>Q (m×d row-major, orthonormal rows) spanning L⁻¹[l_1 … l_k], m ≤ k.</summary>
    private readonly double[] _basis;
    /// <summary>T⁻¹ − I (m×m), T = I + R C Rᵀ with its small eigenvalues floored.</summary>
    private readonly double[] _correction;

    private SampledGramPreconditioner(double[] factor, int d, double[] basis, double[] correction)
    {
        _factor = factor; _d = d; _basis = basis; _correction = correction;
    }

    /// <summary>Rows kept by the sample that built it.</summary>
    public long RowsSampled { get; private init; }

    /// <summary>The sampled Gram Σ (D_i/q_i) a_i a_iᵀ (packed), from which a checkpoint restores it.</summary>
    public double[] GramPacked { get; private init; } = Array.Empty<double>();

    /// <summary>The low-rank vectors l_j (k×d row-major) and their coefficients C (k×k) of the model.</summary>
    public double[] LowRank { get; private init; } = Array.Empty<double>();
    public double[] Coefficients { get; private init; } = Array.Empty<double>();

    /// <summary>Lᵀ of the sampled Gram as a packed upper triangle: the R the next build's leverage estimates use.</summary>
    public double[] LeverageTriangle => _factor;

    /// <summary>The sample size s for d columns under the solve's options.</summary>
    public static double SampleSize(SolverOptions options, int d) => Math.Min(options.SampleSize(d), (double)RowsPerColumn * d);

    /// <summary>
    /// Samples and factorises H̃ at the iterate: rows sampled by the leverage estimates of the previous build's factor
    /// (Y = R⁻¹G), or uniformly at the first build, then the sampled Gram. Null when no damping makes H̃ positive
    /// definite (CG then runs unpreconditioned for this build's lifetime).
    /// <para>
    /// The first build samples uniformly rather than sketching A for leverage estimates: it has no factor to take them
    /// from, and a sketch (a pass with the CountSketch scatter, each shard's Householder R, their TSQR) cost 0.6 s of the
    /// first iteration's 1.15–1.24 s at n = 100000, d = 1000. Its estimates only ever seeded this one build, CG corrects
    /// whatever its preconditioner misses, and the next build's leverage estimates come from this build's factor, which
    /// is small along any direction the uniform sample missed and so raises the scores of exactly the rows that span
    /// it. On the 100000×1000 file the uniform first build took one CG product more (5 against 4) in its iteration and
    /// the same 15 iterations; the first iteration took 0.53–0.56 s instead of 1.15–1.24 s.
    /// </para>
    /// </summary>
    public static IEnumerable<ShardRequest> Build(SolveRun run, Iterate current, SampledGramPreconditioner? previous,
        Out<SampledGramPreconditioner?> result)
    {
        var opts = run.Options;
        int d = run.Objective.Dimension;
        var point = current.Point;
        var scores = SampleScores.For(previous?.LeverageTriangle, d, run.Objective.Rows, opts,
            Rng.ForStream(opts.Seed, (ulong)current.Iteration, ProjectionPurpose));
        if (!(scores.Total > 0 && double.IsFinite(scores.Total))) { result.Value = null; yield break; }
        yield return new SampledGramRequest(point.X, point.Globals, ModelKind, scores.ProjectionT, scores.K, scores.Total, SampleSize(opts, d),
            Rng.StreamSeed(opts.Seed, current.Iteration, SamplePurpose), scores.Uniform, SinglePrecision: true);
        var gram = run.Reply<GramReply>();
        var coefficients = run.Objective.LowRankCoefficients(point.Globals, ModelKind);
        // The previous factor is read no more (its leverage estimates are in this build's request): R goes into it.
        result.Value = FromGram(gram.PackedUpper, current.LowRank, coefficients, d, gram.RowsUsed, recycledFactor: previous?._factor);
    }

    /// <summary>
    /// The preconditioner of the model G + Σ_ab C_ab l_a l_bᵀ, G given packed (d(d+1)/2), the l_a as the rows of
    /// <paramref name="lowRank"/> (k×d) and C as <paramref name="coefficients"/> (k×k); null when no damping makes G
    /// positive definite. <paramref name="recycledFactor"/>: a replaced preconditioner's factor, which receives this
    /// one's (<see cref="PackedCholesky.FactorUpper"/>); that preconditioner must not be applied again.
    /// </summary>
    public static SampledGramPreconditioner? FromGram(double[] gramPacked, double[] lowRank, double[] coefficients, int d, long rowsSampled,
        double[]? recycledFactor = null)
    {
        var factor = PackedCholesky.FactorUpper(gramPacked, d, MaxDampingIncreases, recycledFactor);
        if (factor is null) return null;
        var (basis, correction) = LowRankCorrection(factor, d, lowRank, coefficients);
        return new SampledGramPreconditioner(factor, d, basis, correction)
        {
            GramPacked = gramPacked, LowRank = lowRank, Coefficients = coefficients, RowsSampled = rowsSampled,
        };
    }

    /// <summary>
    /// Q and T⁻¹ − I of the Woodbury form (class summary): V = L⁻¹[l_1 … l_k] orthonormalised by modified Gram–Schmidt
    /// (twice, for orthogonality to rounding; columns whose remainder is below 1e-12 of their norm are dropped, being in
    /// the span of the others), R the coefficients of V in Q, T = I + R C Rᵀ, whose eigenvalues λ become
    /// max(|λ|, <see cref="MinimumRelativeCurvature"/>).
    /// </summary>
    private static (double[] Basis, double[] Correction) LowRankCorrection(double[] factor, int d, double[] lowRank, double[] coefficients)
    {
        int k = d == 0 ? 0 : lowRank.Length / d;
        var basis = new List<double[]>(k);
        var r = new double[k * k];                      // r[a, j]: coefficient of Q_a in V_j (a < basis.Count)
        for (int j = 0; j < k; j++)
        {
            var v = lowRank.AsSpan(j * d, d).ToArray();
            PackedCholesky.SolveTransposed(factor, d, v);
            double norm = SpanMath.Norm(v);
            for (int pass = 0; pass < 2; pass++)
                for (int a = 0; a < basis.Count; a++)
                {
                    double c = SpanMath.Dot(basis[a], v);
                    r[a * k + j] += c;
                    SpanMath.MultiplyAdd(basis[a], -c, v, v);
                }
            double rest = SpanMath.Norm(v);
            if (!(rest > 1e-12 * norm)) continue;
            SpanMath.Divide(v, rest, v);
            r[basis.Count * k + j] = rest;
            basis.Add(v);
        }
        int m = basis.Count;
        // T = I + R C Rᵀ (m×m), R = r's first m rows (m×k).
        var t = new double[m * m];
        for (int a = 0; a < m; a++)
            for (int b = 0; b < m; b++)
            {
                double sum = a == b ? 1.0 : 0.0;
                for (int i = 0; i < k; i++)
                    for (int j = 0; j < k; j++) sum += r[a * k + i] * coefficients[i * k + j] * r[b * k + j];
                t[a * m + b] = sum;
            }
        var correction = new double[m * m];
        if (m > 0)
        {
            var evd = MathNet.Numerics.LinearAlgebra.Matrix<double>.Build.Dense(m, m, (i, j) => 0.5 * (t[i * m + j] + t[j * m + i]))
                .Evd(MathNet.Numerics.LinearAlgebra.Symmetricity.Symmetric);
            for (int e = 0; e < m; e++)
            {
                double lambda = Math.Max(Math.Abs(evd.EigenValues[e].Real), MinimumRelativeCurvature);
                double w = 1.0 / lambda - 1.0;
                for (int a = 0; a < m; a++)
                    for (int b = 0; b < m; b++) correction[a * m + b] += w * evd.EigenVectors[a, e] * evd.EigenVectors[b, e];
            }
        }
        var flat = new double[m * d];
        for (int a = 0; a < m; a++) basis[a].CopyTo(flat, a * d);
        return (flat, correction);
    }

    /// <summary>M⁻¹ r = L⁻ᵀ(I + Q(T⁻¹ − I)Qᵀ)L⁻¹ r: two triangular solves and the rank-m correction, O(d² + m·d).</summary>
    public double[] Apply(ReadOnlySpan<double> r)
    {
        var y = r.ToArray();
        PackedCholesky.SolveTransposed(_factor, _d, y);
        int m = _d == 0 ? 0 : _basis.Length / _d;
        if (m > 0)
        {
            Span<double> c = stackalloc double[m];
            for (int a = 0; a < m; a++) c[a] = SpanMath.Dot(_basis.AsSpan(a * _d, _d), y);
            for (int a = 0; a < m; a++)
            {
                double t = 0;
                for (int b = 0; b < m; b++) t += _correction[a * m + b] * c[b];
                SpanMath.MultiplyAdd(_basis.AsSpan(a * _d, _d), t, y, y);
            }
        }
        PackedCholesky.Solve(_factor, _d, y);
        return y;
    }
}
