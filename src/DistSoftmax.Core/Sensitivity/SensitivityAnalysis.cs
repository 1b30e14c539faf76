using System.Diagnostics;
using System.Numerics.Tensors;
using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Sensitivity;

/// <summary>A vector problem L(x; A) = ℓ(Ax) + ½‖diag(w)Ax‖² held whole in memory.</summary>
public sealed record VectorProblem(IVectorFamily Family, IRowMatrix A, double[] B, Regularizer Regularizer)
{
    public int Rows => A.Rows;
    public int Dimension => A.Cols;
    public VectorObjective Objective => new(Family, A.Cols, A.Rows);

    public InProcessDriver Driver(int shards, ShardComputeOptions? compute = null) =>
        new(ShardLayout.VectorShards(Family, A, B, Regularizer, shards, compute));

    /// <summary>The same problem with data matrix A + t Δ (Δ of A's shape; for CSR A, Δ holds values on A's non-zeros).</summary>
    public VectorProblem Perturbed(IRowMatrix delta, double t) => this with { A = SensitivityAnalysis.Add(A, delta, t) };
}

/// <summary>Options of <see cref="SensitivityAnalysis"/>.</summary>
public sealed record SensitivityOptions
{
    /// <summary>Perturbation sizes ε = ‖A' − A‖_F.</summary>
    public IReadOnlyList<double> Epsilons { get; init; } = new[] { 1e-1, 3e-2, 1e-2, 3e-3, 1e-3, 3e-4, 1e-4 };
    /// <summary>Random directions Δ (‖Δ‖_F = 1) drawn; every ε uses the same directions.</summary>
    public int Draws { get; init; } = 4;
    public ulong Seed { get; init; } = 1;
    /// <summary>Solver of the base problem and of every re-solve (Newton by default: quadratic convergence).</summary>
    public string Solver { get; init; } = "newton";
    public SolverOptions SolverOptions { get; init; } = new() { RelativeTolerance = 1e-11, AbsoluteTolerance = 1e-14, MaxIterations = 100 };
    /// <summary>Row shards per solve (each solve runs on its own in-process driver).</summary>
    public int Shards { get; init; } = 1;
    /// <summary>Independent solves run at once (0: the processor count).</summary>
    public int Parallelism { get; init; } = 0;
    /// <summary>Step of the central difference of ∇L in the direction Δ (relative to ‖A‖_F).</summary>
    public double DifferenceStep { get; init; } = 1e-5;

    public SensitivityOptions Validate()
    {
        if (Epsilons.Count == 0 || Epsilons.Any(e => !(e > 0 && double.IsFinite(e)))) throw new ArgumentException("--epsilons must be finite numbers > 0");
        if (Draws < 1) throw new ArgumentException("--draws must be at least 1");
        if (Shards < 1) throw new ArgumentException("--shards must be at least 1");
        if (Parallelism < 0) throw new ArgumentException("--parallel must be ≥ 0");
        if (!(DifferenceStep > 0)) throw new ArgumentException("the difference step must be > 0");
        SolverCatalog.Create(Solver);
        SolverOptions.Validate();
        return this;
    }
}

/// <summary>One re-solve: direction <see cref="Draw"/> scaled to ‖A' − A‖_F = <see cref="Epsilon"/>.</summary>
/// <param name="SolutionRatio">‖x*(A') − x*(A)‖ / ε.</param>
/// <param name="OutputRatio">‖f(A') − f(A)‖ / ε, f the model output (the attention row) at the solution.</param>
public sealed record PerturbationResult(double Epsilon, int Draw, double SolutionChange, double OutputChange, double SolutionRatio,
    double OutputRatio, ExitCondition Exit, int Iterations, double GradientNorm);

/// <summary>Per ε: the largest and mean ratio over the draws (the largest is the empirical Lipschitz constant).</summary>
public sealed record EpsilonSummary(double Epsilon, double MaxSolutionRatio, double MeanSolutionRatio, double MaxOutputRatio, double MeanOutputRatio);

/// <param name="PredictedSolutionRatio">Per draw: ‖H⁻¹ (∂∇L/∂A · Δ)‖ (‖Δ‖_F = 1), the ε → 0 limit of the solution ratio.</param>
/// <param name="PredictedOutputRatio">Per draw: ‖∂f/∂A · Δ + ∂f/∂x · v‖ with v = −H⁻¹(∂∇L/∂A · Δ).</param>
public sealed record SensitivityResult(string Family, int Rows, int Dimension, double[] Solution, double[] Output, SolverResult BaseSolve,
    IReadOnlyList<PerturbationResult> Perturbations, IReadOnlyList<EpsilonSummary> Summary, double[] PredictedSolutionRatio,
    double[] PredictedOutputRatio, double HessianMinEigenvalue, double HessianMaxEigenvalue, int Parallelism, double Seconds);

/// <summary>
/// In-context-learning sensitivity (MATH.md: the solution moves by at most a constant times ‖A − A'‖): solve
/// x*(A), draw unit directions Δ_k, and for every ε of a grid re-solve at A' = A + εΔ_k warm-started from x*,
/// reporting ‖x*(A') − x*(A)‖/ε and ‖f(A') − f(A)‖/ε. The linearised prediction comes from the optimality
/// condition ∇L(x*(A); A) = 0: differentiating, H·dx + (∂∇L/∂A)·ΔA = 0, so dx = −H⁻¹ (∂∇L/∂A)·ΔA, with H the exact
/// Hessian at x* (Gram pass plus the low-rank part) and (∂∇L/∂A)·Δ a central difference of ∇L(x*; A ± hΔ) at fixed x
/// (exact up to O(h²)).
///
/// The re-solves are independent whole jobs: they run at once in a bounded Parallel.ForEach, each on its own
/// in-process driver with sequential shard kernels, so the results do not depend on the degree of parallelism.
/// </summary>
public static class SensitivityAnalysis
{
    public static SensitivityResult Run(VectorProblem problem, SensitivityOptions options, double[]? x0 = null,
        Action<string>? log = null, CancellationToken cancellation = default)
    {
        options.Validate();
        var clock = Stopwatch.StartNew();
        int d = problem.Dimension;
        var compute = ShardComputeOptions.Sequential;
        var baseSolve = problem.Driver(options.Shards, ShardComputeOptions.Default)
            .Solve(SolverCatalog.Create(options.Solver), problem.Objective, x0 ?? new double[d], options.SolverOptions, cancellation: cancellation);
        var xStar = baseSolve.X;
        var output = Output(problem, xStar);
        log?.Invoke($"x*(A): {baseSolve.Exit} after {baseSolve.Iterations} iterations, ‖∇L‖ = {baseSolve.GradientNorm:E2}");

        // Directions and their linearised effect.
        var directions = Enumerable.Range(0, options.Draws).Select(k => Direction(problem.A, options.Seed, k)).ToArray();
        var hessian = Hessian(problem, xStar, options.Shards);
        var (lo, hi) = DenseAlgebra.EigenvalueRange(hessian, d);
        var factor = (double[])hessian.Clone();
        bool positive = DenseAlgebra.TryCholesky(factor, d);
        double h = options.DifferenceStep * FrobeniusNorm(problem.A);
        var predictedX = new double[options.Draws];
        var predictedF = new double[options.Draws];
        for (int k = 0; k < options.Draws; k++)
        {
            var gPlus = Gradient(problem.Perturbed(directions[k], h), xStar, options.Shards);
            var gMinus = Gradient(problem.Perturbed(directions[k], -h), xStar, options.Shards);
            var jd = new double[d];
            for (int i = 0; i < d; i++) jd[i] = (gPlus[i] - gMinus[i]) / (2 * h);
            var v = positive ? DenseAlgebra.CholeskySolve(factor, d, jd) : DenseAlgebra.SolveModified(hessian, d, jd).Solution;
            TensorPrimitives.Negate(v, v);
            predictedX[k] = TensorPrimitives.Norm<double>(v);
            // df = central difference of f along (A + tΔ, x* + t v).
            var xp = new double[d]; var xm = new double[d];
            TensorPrimitives.MultiplyAdd(v, h, xStar, xp);
            TensorPrimitives.MultiplyAdd(v, -h, xStar, xm);
            var fp = Output(problem.Perturbed(directions[k], h), xp);
            var fm = Output(problem.Perturbed(directions[k], -h), xm);
            var df = new double[fp.Length];
            TensorPrimitives.Subtract(fp, fm, df);
            predictedF[k] = TensorPrimitives.Norm<double>(df) / (2 * h);
        }
        log?.Invoke($"Hessian at x*: eigenvalues in [{lo:E3}, {hi:E3}]; linearised ‖dx‖/‖ΔA‖ up to {predictedX.Max():G6}");

        var jobs = options.Epsilons.SelectMany(e => Enumerable.Range(0, options.Draws).Select(k => (Epsilon: e, Draw: k))).ToArray();
        var results = new PerturbationResult[jobs.Length];
        int parallelism = options.Parallelism > 0 ? options.Parallelism : Environment.ProcessorCount;
        Parallel.ForEach(Enumerable.Range(0, jobs.Length),
            new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = cancellation },
            j =>
            {
                var (eps, k) = jobs[j];
                var perturbed = problem.Perturbed(directions[k], eps);
                var solve = perturbed.Driver(options.Shards, compute)
                    .Solve(SolverCatalog.Create(options.Solver), perturbed.Objective, xStar, options.SolverOptions, cancellation: cancellation);
                var dx = new double[d];
                TensorPrimitives.Subtract(solve.X, xStar, dx);
                var f = Output(perturbed, solve.X);
                var dfv = new double[f.Length];
                TensorPrimitives.Subtract(f, output, dfv);
                double nx = TensorPrimitives.Norm<double>(dx), nf = TensorPrimitives.Norm<double>(dfv);
                results[j] = new PerturbationResult(eps, k, nx, nf, nx / eps, nf / eps, solve.Exit, solve.Iterations, solve.GradientNorm);
            });

        var summary = options.Epsilons.Select(e =>
        {
            var rs = results.Where(r => r.Epsilon == e).ToArray();
            return new EpsilonSummary(e, rs.Max(r => r.SolutionRatio), rs.Average(r => r.SolutionRatio),
                rs.Max(r => r.OutputRatio), rs.Average(r => r.OutputRatio));
        }).ToArray();
        foreach (var s in summary)
            log?.Invoke($"ε = {s.Epsilon:E1}: ‖Δx‖/ε max {s.MaxSolutionRatio:G6} mean {s.MeanSolutionRatio:G6}; ‖Δf‖/ε max {s.MaxOutputRatio:G6}");
        return new SensitivityResult(problem.Family.Name, problem.Rows, d, xStar, output, baseSolve, results, summary, predictedX, predictedF,
            lo, hi, parallelism, clock.Elapsed.TotalSeconds);
    }

    /// <summary>
    /// The model output at x: the attention row softmax(Ax) (normalized), u(Ax)/⟨u(Ax), 1⟩ (rescaled, the row its loss
    /// fits to b) or u(Ax) (hyperbolic). Computed max-shifted for the exp-normalised rows.
    /// </summary>
    public static double[] Output(VectorProblem problem, double[] x)
    {
        var z = Multiply(problem.A, x);
        switch (problem.Family)
        {
            case NormalizedSoftmax:
            {
                double m = TensorPrimitives.Max<double>(z);
                TensorPrimitives.Subtract(z, m, z);
                TensorPrimitives.Exp<double>(z, z);
                TensorPrimitives.Multiply(z, 1.0 / TensorPrimitives.Sum<double>(z), z);
                return z;
            }
            case RescaledRegression r:
            {
                for (int i = 0; i < z.Length; i++) z[i] = UnitFunctions.Evaluate(r.Unit, z[i]).U;
                double s = TensorPrimitives.Sum<double>(z);
                TensorPrimitives.Multiply(z, 1.0 / s, z);
                return z;
            }
            case HyperbolicRegression hyp:
                for (int i = 0; i < z.Length; i++) z[i] = UnitFunctions.Evaluate(hyp.Unit, z[i]).U;
                return z;
            default:
                throw new NotSupportedException($"no model output is defined for family {problem.Family.Name}");
        }
    }

    /// <summary>∇L(x) through the shard protocol (phase 1 then phase 2).</summary>
    public static double[] Gradient(VectorProblem problem, double[] x, int shards)
    {
        var driver = problem.Driver(shards, ShardComputeOptions.Sequential);
        var point = problem.Objective.Evaluate(x, (ScalarsReply)driver.Evaluate(new ScalarsRequest(x)));
        return ((GradientReply)driver.Evaluate(new GradientRequest(x, point.Globals, HessianKind.Exact, false))).Gradient;
    }

    /// <summary>The exact Hessian Aᵀ diag(D + w²) A + Σ C_jk (Aᵀq_j)(Aᵀq_k)ᵀ at x, d×d row-major.</summary>
    public static double[] Hessian(VectorProblem problem, double[] x, int shards)
    {
        var driver = problem.Driver(shards, ShardComputeOptions.Sequential);
        var objective = problem.Objective;
        var point = objective.Evaluate(x, (ScalarsReply)driver.Evaluate(new ScalarsRequest(x)));
        var grad = (GradientReply)driver.Evaluate(new GradientRequest(x, point.Globals, HessianKind.Exact, true));
        var gram = (GramReply)driver.Evaluate(new GramRequest(x, point.Globals, HessianKind.Exact));
        int d = objective.Dimension, k = objective.LowRankCount;
        var h = Packed.ToSymmetric(gram.PackedUpper, d);
        var c = objective.LowRankCoefficients(point.Globals, HessianKind.Exact);
        for (int a = 0; a < k; a++)
            for (int b = 0; b < k; b++)
            {
                double coef = c[a * k + b];
                if (coef == 0) continue;
                for (int i = 0; i < d; i++)
                    for (int j = 0; j < d; j++) h[i * d + j] += coef * grad.LowRank[a * d + i] * grad.LowRank[b * d + j];
            }
        return h;
    }

    /// <summary>A direction of A's shape with N(0,1) entries (CSR: on A's non-zeros), scaled to ‖Δ‖_F = 1. Stream (seed, 6, k).</summary>
    public static IRowMatrix Direction(IRowMatrix a, ulong seed, int k)
    {
        var rng = Rng.ForStream(seed, 6, (ulong)k);
        switch (a)
        {
            case DenseMatrix dense:
            {
                var data = new double[dense.Data.Length];
                rng.FillNormal(data);
                TensorPrimitives.Multiply(data, 1.0 / TensorPrimitives.Norm<double>(data), data);
                return new DenseMatrix(dense.Rows, dense.Cols, data);
            }
            case CsrMatrix csr:
            {
                var values = new double[csr.Values.Length];
                rng.FillNormal(values);
                TensorPrimitives.Multiply(values, 1.0 / TensorPrimitives.Norm<double>(values), values);
                return new CsrMatrix(csr.Rows, csr.Cols, csr.RowPointers, csr.ColumnIndices, values);
            }
            default:
                throw new ArgumentException($"unsupported matrix type {a.GetType().Name}");
        }
    }

    /// <summary>A + tΔ for Δ of A's shape (same sparsity pattern for CSR).</summary>
    public static IRowMatrix Add(IRowMatrix a, IRowMatrix delta, double t)
    {
        switch (a, delta)
        {
            case (DenseMatrix da, DenseMatrix dd) when da.Rows == dd.Rows && da.Cols == dd.Cols:
            {
                var data = new double[da.Data.Length];
                TensorPrimitives.MultiplyAdd(dd.Data, t, da.Data, data);
                return new DenseMatrix(da.Rows, da.Cols, data);
            }
            case (CsrMatrix ca, CsrMatrix cd) when ca.Values.Length == cd.Values.Length:
            {
                var values = new double[ca.Values.Length];
                TensorPrimitives.MultiplyAdd(cd.Values, t, ca.Values, values);
                return new CsrMatrix(ca.Rows, ca.Cols, ca.RowPointers, ca.ColumnIndices, values);
            }
            default:
                throw new ArgumentException("a perturbation must have the data matrix's shape and storage");
        }
    }

    public static double FrobeniusNorm(IRowMatrix a) => a switch
    {
        DenseMatrix d => TensorPrimitives.Norm<double>(d.Data),
        CsrMatrix c => TensorPrimitives.Norm<double>(c.Values),
        _ => throw new ArgumentException($"unsupported matrix type {a.GetType().Name}"),
    };

    private static double[] Multiply(IRowMatrix a, double[] x)
    {
        var z = new double[a.Rows];
        var rows = RowAccess.For(a);
        rows.MultiplyRows(0, a.Rows, x, z);
        return z;
    }
}
