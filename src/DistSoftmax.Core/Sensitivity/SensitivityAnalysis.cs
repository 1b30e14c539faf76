using DistSoftmax.Core;
using System.Diagnostics;
using System.Numerics.Tensors;
using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Sources;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Sensitivity;

/// <summary>
/// A perturbation: one matrix per perturbed data matrix of a problem (Δ for A; ΔA1, ΔA2, ΔB for a matrix problem),
/// with the joint Frobenius norm √(Σ‖Δ_i‖²_F) as its size.
/// </summary>
public sealed record Perturbation(IReadOnlyList<IRowMatrix> Parts)
{
    public double Norm => Math.Sqrt(Parts.Sum(p => Math.Pow(SensitivityAnalysis.FrobeniusNorm(p), 2)));
}

/// <summary>A problem whose data can be perturbed, seen by <see cref="SensitivityAnalysis"/>.</summary>
public interface ISensitivityProblem
{
    string Name { get; }
    int Dimension { get; }
    long Rows { get; }
    IObjective Objective { get; }
    /// <summary>Names of the perturbed matrices, in the order of <see cref="Perturbation.Parts"/>.</summary>
    IReadOnlyList<string> PerturbedParts { get; }
    /// <summary>√(Σ‖M_i‖²_F) over the perturbed matrices (the scale of the finite-difference step).</summary>
    double DataNorm { get; }
    InProcessDriver Driver(int shards, ShardComputeOptions? compute = null);
    /// <summary>Registers the whole problem with an in-memory loader (for solves run by worker actors).</summary>
    ProblemSource Register(InMemoryShardLoader loader, string name);
    /// <summary>A random perturbation with N(0,1) entries (CSR: on the non-zeros) scaled to norm 1, stream (seed, 6, k).</summary>
    Perturbation Direction(ulong seed, int k);
    /// <summary>The problem with every perturbed matrix M_i replaced by M_i + t Δ_i.</summary>
    ISensitivityProblem Perturbed(Perturbation delta, double t);
    /// <summary>The model output at x (the attention row or rows).</summary>
    double[] Output(double[] x);
    /// <summary>The derivatives in the perturbed data at a fixed x (<see cref="DataLinearization"/>).</summary>
    DataLinearization Linearize(double[] x);
    /// <summary>Δθ flattened as <see cref="DataLinearization"/> orders it (every part dense, row-major, in order).</summary>
    double[] Flatten(Perturbation delta);
    /// <summary>The perturbation of a flattened Δθ (dense parts).</summary>
    Perturbation FromFlat(ReadOnlySpan<double> flat);
}

/// <summary>A vector problem L(x; A) = ℓ(Ax) + ½‖diag(w)Ax‖² held whole in memory; A is perturbed.</summary>
public sealed record VectorProblem(IVectorFamily Family, IRowMatrix A, double[] B, Regularizer Regularizer) : ISensitivityProblem
{
    public string Name => Family.Name;
    public long Rows => A.Rows;
    public int Dimension => A.Cols;
    public IObjective Objective => new VectorObjective(Family, A.Cols, A.Rows);
    public IReadOnlyList<string> PerturbedParts => new[] { "A" };
    public double DataNorm => SensitivityAnalysis.FrobeniusNorm(A);

    public InProcessDriver Driver(int shards, ShardComputeOptions? compute = null) =>
        new(ShardLayout.VectorShards(Family, A, B, Regularizer, shards, compute));

    public ProblemSource Register(InMemoryShardLoader loader, string name) => loader.RegisterVector(name, Family, A, B, Regularizer);

    public Perturbation Direction(ulong seed, int k) => new(new[] { SensitivityAnalysis.Direction(A, seed, k) });

    public ISensitivityProblem Perturbed(Perturbation delta, double t) => this with { A = SensitivityAnalysis.Add(A, delta.Parts[0], t) };

    public DataLinearization Linearize(double[] x) => new VectorLinearization(Family, A, B, Regularizer, x);

    public double[] Flatten(Perturbation delta) => SensitivityAnalysis.Dense(delta.Parts[0]).Data;

    public Perturbation FromFlat(ReadOnlySpan<double> flat) => new(new IRowMatrix[] { new DenseMatrix(A.Rows, A.Cols, flat.ToArray()) });

    /// <summary>
    /// softmax(Ax) (normalized: the attention row), u(Ax)/⟨u(Ax), 1⟩ (rescaled: the row its loss fits to b) or u(Ax)
    /// (hyperbolic); the exp-normalised rows max-shifted.
    /// </summary>
    public double[] Output(double[] x)
    {
        var z = new double[A.Rows];
        RowAccess.For(A).MultiplyRows(0, A.Rows, x, z);
        switch (Family)
        {
            case NormalizedSoftmax:
                SensitivityAnalysis.SoftmaxInPlace(z);
                return z;
            case RescaledRegression r:
            {
                for (int i = 0; i < z.Length; i++) z[i] = UnitCatalog.Evaluate(r.Unit, z[i]).U;
                TensorPrimitives.Multiply(z, 1.0 / TensorPrimitives.Sum<double>(z), z);
                return z;
            }
            case HyperbolicRegression hyp:
                for (int i = 0; i < z.Length; i++) z[i] = UnitCatalog.Evaluate(hyp.Unit, z[i]).U;
                return z;
            default:
                throw new NotSupportedException($"no model output is defined for family {Family.Name}");
        }
    }
}

/// <summary>
/// A multiple softmax regression (tensor trick) whose matrices named in <see cref="Parts"/> ("A1", "A2", "B") are
/// perturbed. Output: the attention matrix, row j = softmax(z_j) of M = A1 X A2ᵀ (both matrix families fit each
/// row's normalised exp to B_j), m×n values row-major.
/// </summary>
public sealed record MatrixSensitivityProblem(MatrixProblem Problem, IReadOnlyList<string> Parts) : ISensitivityProblem
{
    public static readonly string[] AllParts = { "A1", "A2", "B" };

    public string Name => Problem.Name;
    public long Rows => Problem.Rows;
    public int Dimension => Problem.Side * Problem.Side;
    public IObjective Objective => Problem.Objective;
    public IReadOnlyList<string> PerturbedParts => Parts;
    public double DataNorm => Math.Sqrt(Parts.Sum(p => Math.Pow(TensorPrimitives.Norm<double>(Part(p).Data), 2)));

    public InProcessDriver Driver(int shards, ShardComputeOptions? compute = null) => new(Problem.Shards(shards, compute));

    public ProblemSource Register(InMemoryShardLoader loader, string name) => loader.RegisterMatrix(name, Problem);

    private DenseMatrix Part(string name) => name switch
    {
        "A1" => Problem.A1,
        "A2" => Problem.A2,
        "B" => Problem.B,
        _ => throw new ParameterException(nameof(Parts), name, $"unknown matrix '{name}'", AllParts),
    };

    public Perturbation Direction(ulong seed, int k)
    {
        var parts = new List<IRowMatrix>();
        double total = 0;
        for (int i = 0; i < Parts.Count; i++)
        {
            var m = Part(Parts[i]);
            var data = new double[m.Data.Length];
            Rng.ForStream(seed, 6, (ulong)k, (ulong)i).FillNormal(data);
            total += TensorPrimitives.Dot<double>(data, data);
            parts.Add(new DenseMatrix(m.Rows, m.Cols, data));
        }
        double scale = 1.0 / Math.Sqrt(total);
        foreach (DenseMatrix p in parts) TensorPrimitives.Multiply(p.Data, scale, p.Data);
        return new Perturbation(parts);
    }

    public ISensitivityProblem Perturbed(Perturbation delta, double t)
    {
        DenseMatrix a1 = Problem.A1, a2 = Problem.A2, b = Problem.B;
        for (int i = 0; i < Parts.Count; i++)
        {
            var moved = (DenseMatrix)SensitivityAnalysis.Add(Part(Parts[i]), delta.Parts[i], t);
            switch (Parts[i]) { case "A1": a1 = moved; break; case "A2": a2 = moved; break; default: b = moved; break; }
        }
        return this with { Problem = new MatrixProblem(Problem.Name, Problem.RowFamily, a1, a2, b, Problem.W) };
    }

    public DataLinearization Linearize(double[] x) => new MatrixLinearization(Problem, Parts, x);

    public double[] Flatten(Perturbation delta) => delta.Parts.SelectMany(p => SensitivityAnalysis.Dense(p).Data).ToArray();

    public Perturbation FromFlat(ReadOnlySpan<double> flat)
    {
        var parts = new List<IRowMatrix>();
        int offset = 0;
        foreach (var name in Parts)
        {
            var m = Part(name);
            parts.Add(new DenseMatrix(m.Rows, m.Cols, flat.Slice(offset, m.Data.Length).ToArray()));
            offset += m.Data.Length;
        }
        if (offset != flat.Length) throw new ArgumentException($"a flattened perturbation of {string.Join(", ", Parts)} has {offset} entries, got {flat.Length}");
        return new Perturbation(parts);
    }

    public double[] Output(double[] x)
    {
        int m = Problem.Rows, n = Problem.A2.Rows, d = Problem.Side;
        var a1x = new double[m * d];
        for (int j = 0; j < m; j++)
            for (int p = 0; p < d; p++)
            {
                double s = 0;
                for (int q = 0; q < d; q++) s += Problem.A1[j, q] * x[q * d + p];
                a1x[j * d + p] = s;
            }
        var z = new double[m * n];
        for (int j = 0; j < m; j++)
        {
            for (int i = 0; i < n; i++) z[j * n + i] = TensorPrimitives.Dot(a1x.AsSpan(j * d, d), Problem.A2.Row(i));
            SensitivityAnalysis.SoftmaxInPlace(z.AsSpan(j * n, n));
        }
        return z;
    }
}

/// <summary>Options of <see cref="SensitivityAnalysis"/>.</summary>
public sealed record SensitivityOptions
{
    /// <summary>Perturbation sizes ε = ‖A' − A‖_F.</summary>
    public IReadOnlyList<double> Epsilons { get; init; } = new[] { 1e-3, 1e-4, 1e-5 };
    /// <summary>Perturbation sizes ε of the re-solves along the worst direction Δ* (finite-ε confirmation of the worst case).</summary>
    public IReadOnlyList<double> WorstCaseEpsilons { get; init; } = new[] { 1e-3, 1e-4, 1e-5 };
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
    /// <summary>Step of the central difference of f along (θ + tΔ, x* + t·dx) for the output prediction (relative to ‖θ‖_F).</summary>
    public double DifferenceStep { get; init; } = 1e-5;
    /// <summary>
    /// Runs the independent re-solves (each a whole problem, warm-started) and returns their results in order;
    /// null runs them in this process in a bounded Parallel.ForEach. The CLI passes one that distributes them over
    /// worker actors as whole jobs.
    /// </summary>
    public Func<IReadOnlyList<ResolveJob>, CancellationToken, SolverResult[]>? RunJobs { get; init; }
    /// <summary>How the re-solves ran, for the report.</summary>
    public string Execution { get; init; } = "in-process: every re-solve is a whole job in a bounded Parallel.ForEach";

    public SensitivityOptions Validate()
    {
        if (Epsilons.Count == 0 || Epsilons.Any(e => !(e > 0 && double.IsFinite(e)))) throw new ParameterException(nameof(Epsilons), string.Join(",", Epsilons), "must be finite numbers > 0");
        if (WorstCaseEpsilons.Any(e => !(e > 0 && double.IsFinite(e)))) throw new ParameterException(nameof(WorstCaseEpsilons), string.Join(",", WorstCaseEpsilons), "must be finite numbers > 0");
        if (Draws < 1) throw new ParameterException(nameof(Draws), Draws, "must be at least 1");
        if (Shards < 1) throw new ParameterException(nameof(Shards), Shards, "must be at least 1", scope: nameof(SensitivityOptions));
        if (Parallelism < 0) throw new ParameterException(nameof(Parallelism), Parallelism, "must be ≥ 0");
        if (!(DifferenceStep > 0)) throw new ArgumentException("the difference step must be > 0");
        SolverCatalog.Create(Solver);
        SolverOptions.Validate();
        return this;
    }
}

/// <summary>One independent re-solve: the perturbed problem, the solver and the warm start.</summary>
public sealed record ResolveJob(ISensitivityProblem Problem, string Solver, double[] X0, SolverOptions Options);

/// <summary>One re-solve: direction <see cref="Draw"/> scaled to ‖A' − A‖_F = <see cref="Epsilon"/>.</summary>
/// <param name="SolutionRatio">‖x*(A') − x*(A)‖ / ε.</param>
/// <param name="OutputRatio">‖f(A') − f(A)‖ / ε, f the model output (the attention row) at the solution.</param>
public sealed record PerturbationResult(double Epsilon, int Draw, double SolutionChange, double OutputChange, double SolutionRatio,
    double OutputRatio, ExitCondition Exit, int Iterations, double GradientNorm);

/// <summary>Per ε: the largest and mean ratio over the draws (the largest is the empirical Lipschitz constant).</summary>
public sealed record EpsilonSummary(double Epsilon, double MaxSolutionRatio, double MeanSolutionRatio, double MaxOutputRatio, double MeanOutputRatio);

/// <param name="WorstCase">‖dx*/dθ‖₂ over ‖Δθ‖_F = 1, its direction and the re-solves along it.</param>
/// <param name="FixedX">The fixed-x Lipschitz constants of f, L and ∇L at x*.</param>
/// <param name="PredictedSolutionRatio">Per draw: ‖H⁻¹ (∂∇L/∂A · Δ)‖ (‖Δ‖_F = 1), the ε → 0 limit of the solution ratio.</param>
/// <param name="PredictedOutputRatio">Per draw: ‖∂f/∂A · Δ + ∂f/∂x · v‖ with v = −H⁻¹(∂∇L/∂A · Δ).</param>
public sealed record SensitivityResult(string Family, long Rows, int Dimension, double[] Solution, double[] Output, SolverResult BaseSolve,
    IReadOnlyList<PerturbationResult> Perturbations, IReadOnlyList<EpsilonSummary> Summary, double[] PredictedSolutionRatio,
    double[] PredictedOutputRatio, double HessianMinEigenvalue, double HessianMaxEigenvalue, int Parallelism, double Seconds,
    WorstCaseSensitivity WorstCase, FixedXLipschitz FixedX, bool HessianPositiveDefinite);

/// <summary>
/// In-context-learning sensitivity (docs/MATH.md, "Sensitivity: derivatives in the data"): the solution moves by at most
/// a constant times ‖θ − θ'‖. Solves x*(θ); from the optimality condition ∇L(x*(θ); θ) = 0, J = dx*/dθ =
/// −H⁻¹ (∂∇L/∂θ) with H the exact Hessian at x* (Gram pass plus the low-rank part, <see cref="HessianSolve"/>) and the
/// analytic mixed derivative (<see cref="DataLinearization"/>). Reports the worst case ‖J‖₂ and its direction Δ*
/// (<see cref="LipschitzAnalysis.WorstCase"/>), re-solves along Δ* at every ε of <see cref="SensitivityOptions.WorstCaseEpsilons"/>,
/// the fixed-x constants of f, L and ∇L (<see cref="LipschitzAnalysis.FixedX"/>), and the random-direction experiment:
/// unit directions Δ_k, re-solved at θ + εΔ_k warm-started from x*, with ‖x*(θ') − x*(θ)‖/ε, ‖f(θ') − f(θ)‖/ε and
/// the linearised predictions ‖J Δ_k‖ and ‖(df/dθ) Δ_k‖ (the latter a central difference of f along (θ + tΔ_k, x* + t J Δ_k)).
///
/// The re-solves are independent whole jobs: by default they run at once in a bounded Parallel.ForEach, each on its
/// own in-process driver with sequential shard kernels, so the results do not depend on the degree of parallelism;
/// <see cref="SensitivityOptions.RunJobs"/> hands them to another runner (the CLI's: worker actors, one job each).
/// </summary>
public static class SensitivityAnalysis
{
    public static SensitivityResult Run(ISensitivityProblem problem, SensitivityOptions options, double[]? x0 = null,
        Action<string>? log = null, CancellationToken cancellation = default)
    {
        options.Validate();
        var clock = Stopwatch.StartNew();
        int d = problem.Dimension;
        var compute = ShardComputeOptions.Sequential;
        var baseSolve = problem.Driver(options.Shards, ShardComputeOptions.Default)
            .Solve(SolverCatalog.Create(options.Solver, options.SolverOptions), problem.Objective, x0 ?? new double[d], options.SolverOptions, cancellation: cancellation);
        var xStar = baseSolve.X;
        var output = problem.Output(xStar);
        log?.Invoke(FormattableString.Invariant($"x*(θ): {ExitReasons.Name(baseSolve.Exit)} after {baseSolve.Iterations} iterations, ‖∇L‖ = {baseSolve.GradientNorm:0.0000e+00}"));

        // The worst case (Lanczos on J Jᵀ with Hessian solves) and the fixed-x constants.
        var hessian = new HessianSolve(Hessian(problem, xStar, options.Shards), d);
        var (lo, hi) = (hessian.Min, hessian.Max);
        var linearization = problem.Linearize(xStar);
        var (worstConstant, worstFlat, worstSteps) = LipschitzAnalysis.WorstCase(linearization, hessian, options.Seed);
        var worst = problem.FromFlat(worstFlat);
        var fixedX = LipschitzAnalysis.FixedX(linearization, options.Seed);
        log?.Invoke(FormattableString.Invariant($"Hessian at x*: eigenvalues in [{lo:0.000e+00}, {hi:0.000e+00}]; worst case ‖dx*/dθ‖₂ = {worstConstant:G6} ({worstSteps} Lanczos steps)"));
        log?.Invoke(FormattableString.Invariant($"fixed x*: ‖∂f/∂θ‖₂ = {fixedX.Output.Value:G6}, ‖∂L/∂θ‖ = {fixedX.Loss.Value:G6}, ‖∂∇L/∂θ‖₂ = {fixedX.Gradient.Value:G6}"));

        // Random directions and their linearised effect dx = −H⁻¹ (∂∇L/∂θ)Δ.
        var directions = Enumerable.Range(0, options.Draws).Select(k => problem.Direction(options.Seed, k)).ToArray();
        double h = options.DifferenceStep * Math.Max(problem.DataNorm, NumericLimits.Tiny);
        var predictedX = new double[options.Draws];
        var predictedF = new double[options.Draws];
        for (int k = 0; k < options.Draws; k++)
        {
            var v = hessian.Solve(linearization.Mixed(problem.Flatten(directions[k])));
            TensorPrimitives.Negate(v, v);
            predictedX[k] = TensorPrimitives.Norm<double>(v);
            // df = central difference of f along (A + tΔ, x* + t v).
            var xp = new double[d]; var xm = new double[d];
            TensorPrimitives.MultiplyAdd(v, h, xStar, xp);
            TensorPrimitives.MultiplyAdd(v, -h, xStar, xm);
            var fp = problem.Perturbed(directions[k], h).Output(xp);
            var fm = problem.Perturbed(directions[k], -h).Output(xm);
            var df = new double[fp.Length];
            TensorPrimitives.Subtract(fp, fm, df);
            predictedF[k] = TensorPrimitives.Norm<double>(df) / (2 * h);
        }
        log?.Invoke(FormattableString.Invariant($"random directions: linearised ‖dx‖/‖Δθ‖ up to {predictedX.Max():G6}"));

        // Re-solves: every ε × random direction, then every worst-case ε along Δ*.
        var jobs = options.Epsilons.SelectMany(e => Enumerable.Range(0, options.Draws).Select(k => (Epsilon: e, Draw: k))).ToArray();
        var resolves = jobs.Select(job => new ResolveJob(problem.Perturbed(directions[job.Draw], job.Epsilon), options.Solver, xStar, options.SolverOptions))
            .Concat(options.WorstCaseEpsilons.Select(e => new ResolveJob(problem.Perturbed(worst, e), options.Solver, xStar, options.SolverOptions)))
            .ToArray();
        int parallelism = options.Parallelism > 0 ? options.Parallelism : Environment.ProcessorCount;
        SolverResult[] solves;
        if (options.RunJobs is { } runJobs) solves = runJobs(resolves, cancellation);
        else
        {
            solves = new SolverResult[resolves.Length];
            Parallel.ForEach(Enumerable.Range(0, resolves.Length),
                new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = cancellation },
                j => solves[j] = resolves[j].Problem.Driver(options.Shards, compute).Solve(SolverCatalog.Create(options.Solver, options.SolverOptions),
                    resolves[j].Problem.Objective, xStar, options.SolverOptions, cancellation: cancellation));
        }
        var results = new PerturbationResult[jobs.Length];
        for (int j = 0; j < jobs.Length; j++)
        {
            var (eps, k) = jobs[j];
            var perturbed = resolves[j].Problem;
            var solve = solves[j];
            var dx = new double[d];
            TensorPrimitives.Subtract(solve.X, xStar, dx);
            var f = perturbed.Output(solve.X);
            var dfv = new double[f.Length];
            TensorPrimitives.Subtract(f, output, dfv);
            double nx = TensorPrimitives.Norm<double>(dx), nf = TensorPrimitives.Norm<double>(dfv);
            results[j] = new PerturbationResult(eps, k, nx, nf, nx / eps, nf / eps, solve.Exit, solve.Iterations, solve.GradientNorm);
        }
        var checks = new FiniteDifferenceCheck[options.WorstCaseEpsilons.Count];
        for (int i = 0; i < checks.Length; i++)
        {
            var solve = solves[jobs.Length + i];
            double eps = options.WorstCaseEpsilons[i];
            var dx = new double[d];
            TensorPrimitives.Subtract(solve.X, xStar, dx);
            double ratio = TensorPrimitives.Norm<double>(dx) / eps;
            checks[i] = new FiniteDifferenceCheck(eps, ratio, Math.Abs(ratio - worstConstant) / Math.Max(worstConstant, NumericLimits.Tiny),
                ExitReasons.Name(solve.Exit), solve.Iterations, solve.GradientNorm);
            log?.Invoke(FormattableString.Invariant($"along Δ*: ε = {eps:0.0e+00}: ‖Δx‖/ε = {ratio:G6} (relative difference to the worst case {checks[i].RelativeDifference:0.00e+00})"));
        }

        var summary = options.Epsilons.Select(e =>
        {
            var rs = results.Where(r => r.Epsilon == e).ToArray();
            return new EpsilonSummary(e, rs.Max(r => r.SolutionRatio), rs.Average(r => r.SolutionRatio),
                rs.Max(r => r.OutputRatio), rs.Average(r => r.OutputRatio));
        }).ToArray();
        foreach (var s in summary)
            log?.Invoke(FormattableString.Invariant($"random: ε = {s.Epsilon:0.0e+00}: ‖Δx‖/ε max {s.MaxSolutionRatio:G6} mean {s.MeanSolutionRatio:G6}; ‖Δf‖/ε max {s.MaxOutputRatio:G6}"));
        return new SensitivityResult(problem.Name, problem.Rows, d, xStar, output, baseSolve, results, summary, predictedX, predictedF,
            lo, hi, parallelism, clock.Elapsed.TotalSeconds, new WorstCaseSensitivity(worstConstant, worstFlat, worstSteps, checks), fixedX,
            hessian.PositiveDefinite);
    }

    /// <summary>v ← exp(v − max v) / Σ exp(v − max v).</summary>
    public static void SoftmaxInPlace(Span<double> v)
    {
        double m = TensorPrimitives.Max<double>(v);
        TensorPrimitives.Subtract(v, m, v);
        TensorPrimitives.Exp<double>(v, v);
        TensorPrimitives.Multiply(v, 1.0 / TensorPrimitives.Sum<double>(v), v);
    }

    /// <summary>∇L(x) through the shard protocol (phase 1 then phase 2).</summary>
    public static double[] Gradient(ISensitivityProblem problem, double[] x, int shards)
    {
        var driver = problem.Driver(shards, ShardComputeOptions.Sequential);
        var point = problem.Objective.Evaluate(x, (ScalarsReply)driver.Evaluate(new ScalarsRequest(x)));
        return ((GradientReply)driver.Evaluate(new GradientRequest(x, point.Globals, HessianKind.Exact, false))).Gradient;
    }

    /// <summary>The exact Hessian Aᵀ diag(D + w²) A + Σ C_jk (Aᵀq_j)(Aᵀq_k)ᵀ at x, d×d row-major.</summary>
    public static double[] Hessian(ISensitivityProblem problem, double[] x, int shards)
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
            case (CsrMatrix ca, DenseMatrix dd) when ca.Rows == dd.Rows && ca.Cols == dd.Cols:
                return Add(ca.ToDense(), dd, t); // a dense direction (the worst case) leaves the sparsity pattern
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

    /// <summary>The matrix as a dense one (itself when dense).</summary>
    public static DenseMatrix Dense(IRowMatrix a) => a switch
    {
        DenseMatrix d => d,
        CsrMatrix c => c.ToDense(),
        _ => throw new ArgumentException($"unsupported matrix type {a.GetType().Name}"),
    };

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
