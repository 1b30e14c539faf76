using DistSoftmax.Core;
using System.Diagnostics;
using System.Runtime.CompilerServices;
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
/// In-context-learning sensitivity (docs/MATH.md, "Sensitivity: derivatives in the data"): the solution moves by at most
/// a constant times ‖θ − θ'‖. Solves x*(θ); from the optimality condition ∇L(x*(θ); θ) = 0, J = dx*/dθ =
/// −H⁻¹ (∂∇L/∂θ) with H the exact Hessian at x* (<see cref="HessianSolve"/>: dense below a size threshold, else conjugate gradients on
/// Hessian-vector products) and the
/// analytic mixed derivative (<see cref="DataLinearization"/>). Reports the worst case ‖J‖₂ and its direction Δ*
/// (<see cref="LipschitzAnalysis.WorstCase"/>), re-solves along Δ* at every ε of <see cref="SensitivityOptions.WorstCaseEpsilons"/>,
/// the fixed-x constants of f, L and ∇L (<see cref="LipschitzAnalysis.FixedX"/>), and the random-direction experiment:
/// unit directions Δ_k, re-solved at θ + εΔ_k warm-started from x*, with ‖x*(θ') − x*(θ)‖/ε, ‖f(θ') − f(θ)‖/ε and
/// the linearised predictions ‖J Δ_k‖ and ‖(df/dθ) Δ_k‖ (the latter a central difference of f along (θ + tΔ_k, x* + t J Δ_k)).
///
/// The re-solves are independent whole jobs: by default they run at once in a bounded Parallel.ForEach, each on its
/// own in-process driver with sequential shard kernels, so the results do not depend on the degree of parallelism;
/// <see cref="SensitivityOptions.RunJobs"/> hands them to another runner (the CLI's: worker actors, one job each). Each
/// perturbed problem is a copy of the data made when its re-solve starts, and <see cref="SensitivityOptions.ResolveMemoryBudget"/>
/// bounds how many exist at once (one at a time for an n = 8192 attention head, whose B alone is 512 MiB). Memory:
/// beside the problem, at most one array as large as the perturbed data exists at a time — a random direction, a
/// perturbed copy (made in the arrays of the direction that moves it), or Δ* (kept as H⁻¹y, <see cref="WorstDirection"/>,
/// and formed when used); the Lanczos steps stream (∂∇L/∂θ)(∂∇L/∂θ)ᵀv (<see cref="DataLinearization.MixedGram"/>), and the
/// output is never held whole (<see cref="ISensitivityProblem.OutputDistance"/>).
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
        log?.Invoke(FormattableString.Invariant($"x*(θ): {ExitReasons.Name(baseSolve.Exit)} after {baseSolve.Iterations} iterations, ‖∇L‖ = {baseSolve.GradientNorm:0.0000e+00}"));

        // The worst case (the top eigenpair of J Jᵀ: Lanczos with Hessian solves, or Davidson on its pencil) and the fixed-x constants.
        var hessian = HessianSolve.Create(problem, xStar, options.Shards, options.DenseHessianMaxDimension, options.Seed);
        var (lo, hi) = (hessian.Min, hessian.Max);
        log?.Invoke("Hessian at x*: " + hessian.Method);
        var linearization = problem.Linearize(xStar);
        string SolveCount() => hessian is ConjugateGradientHessianSolve cg
            ? FormattableString.Invariant($"; {cg.Solves} Hessian solves so far, {cg.Iterations} CG steps in all, {cg.Products} other Hessian-vector products")
            : "";
        // With data of LargeDataBytes or more, the copies each step drops (the worst direction's Jᵀy, random directions,
        // perturbed problems: as large as the data) are collected at once, so that they do not pile up to many times the
        // data before a GC.
        bool large = 8L * linearization.ParameterCount >= LargeDataBytes;
        void Release()
        {
            if (large) GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        }
        // Δ* is kept small (WorstDirection: H⁻¹y and a norm) and formed only when used: for each re-solve along it and
        // once for the result, so no p-entry vector is held through the phases in between.
        string method = LipschitzAnalysis.WorstCaseMethod(linearization, hessian);
        var (worstConstant, worstDirection, worstSteps, worstConverged) = LipschitzAnalysis.WorstCaseDirection(linearization, hessian, options.Seed, (step, value) =>
        {
            Release();
            if (step % WorstCaseProgressInterval == 0)
                log?.Invoke(FormattableString.Invariant($"worst case: {method} step {step}, ‖dx*/dθ‖₂ ≈ {Math.Sqrt(Math.Max(value, 0)):G6}{SolveCount()}"));
        }, options.WorstCaseMaxSteps);
        if (!worstConverged)
            log?.Invoke(FormattableString.Invariant($"worst case: stopped at {worstSteps} {method} steps before convergence: {worstConstant:G6} is a lower bound"));
        log?.Invoke(FormattableString.Invariant($"worst case: ‖dx*/dθ‖₂ = {worstConstant:G6} after {worstSteps} {method} steps{SolveCount()}"));
        var fixedX = LipschitzAnalysis.FixedX(linearization, options.Seed, (_, _) => Release());
        log?.Invoke(FormattableString.Invariant($"Hessian at x*: eigenvalues in [{lo:0.000e+00}, {hi:0.000e+00}]; worst case ‖dx*/dθ‖₂ = {worstConstant:G6} ({worstSteps} {method} steps)"));
        log?.Invoke(FormattableString.Invariant($"fixed x*: ‖∂f/∂θ‖₂ = {fixedX.Output.Value:G6}, ‖∂L/∂θ‖ = {fixedX.Loss.Value:G6}, ‖∂∇L/∂θ‖₂ = {fixedX.Gradient.Value:G6}"));

        // Random directions and their linearised effect dx = −H⁻¹ (∂∇L/∂θ)Δ. A direction is as large as the perturbed
        // data (m×n for B), so it is drawn again from its stream (seed, 6, k) whenever needed instead of being held, and
        // one draw holds only it: the mixed derivative reads its matrices in place (no flattened copy), and the central
        // difference of f moves only what f depends on and is streamed by the problem (no perturbed copy, no output).
        // So beside the problem at most one data-sized array exists at a time, here and in the re-solves below.
        double h = options.DifferenceStep * Math.Max(problem.DataNorm, NumericLimits.Tiny);
        var predictedX = new double[options.Draws];
        var predictedF = new double[options.Draws];
        for (int k = 0; k < options.Draws; k++)
        {
            cancellation.ThrowIfCancellationRequested();   // each draw is a Hessian solve: SIGTERM stops at the next one
            var direction = problem.Direction(options.Seed, k);
            var v = hessian.Solve(linearization.Mixed(direction));
            SpanMath.Negate(v, v);
            predictedX[k] = SpanMath.Norm(v);
            // df = central difference of f along (A + tΔ, x* + t v).
            var xp = new double[d]; var xm = new double[d];
            SpanMath.MultiplyAdd(v, h, xStar, xp);
            SpanMath.MultiplyAdd(v, -h, xStar, xm);
            predictedF[k] = problem.OutputCentralDifference(direction, h, xp, xm) / (2 * h);
            direction = null;
            Release();
        }
        log?.Invoke(FormattableString.Invariant($"random directions: linearised ‖dx‖/‖Δθ‖ up to {predictedX.Max():G6}"));
        log?.Invoke("random directions done" + SolveCount());

        // Re-solves: every ε × random direction, then every worst-case ε along Δ*. Each perturbed problem is a copy of
        // the perturbed data, made only when its re-solve starts — in the arrays of the direction that moves it (drawn
        // again, or Δ* formed again), so the direction does not exist beside it — and dropped when its ratios are taken;
        // at most ResolveMemoryBudget / (16 bytes × entries) of them exist at once (the copy, and as much again for a
        // runner whose shards copy their rows: the CLI's worker actors). ‖Δf‖ is streamed by the problem against f(x*)
        // recomputed (no m×n output is held).
        var jobs = options.Epsilons.SelectMany(e => Enumerable.Range(0, options.Draws).Select(k => (Epsilon: e, Draw: k))).ToArray();
        int total = jobs.Length + options.WorstCaseEpsilons.Count;
        ResolveJob MakeJob(int j) => j < jobs.Length
            ? new ResolveJob(problem.PerturbedInPlace(problem.Direction(options.Seed, jobs[j].Draw), jobs[j].Epsilon), options.Solver, xStar, options.SolverOptions)
            : new ResolveJob(problem.PerturbedInPlace(worstDirection.Parts(), options.WorstCaseEpsilons[j - jobs.Length]), options.Solver, xStar, options.SolverOptions);
        long bytesPerJob = Math.Max(16L * linearization.ParameterCount, 1);
        int byMemory = (int)Math.Clamp(options.ResolveMemoryBudget / bytesPerJob, 1, Math.Max(total, 1));
        int parallelism = Math.Min(options.Parallelism > 0 ? options.Parallelism : Environment.ProcessorCount, byMemory);
        var solves = new SolverResult[total];
        var changes = new (double X, double F)[total];
        void Finish(int j, ISensitivityProblem perturbed, SolverResult solve)
        {
            solves[j] = solve;
            var dx = new double[d];
            SpanMath.Subtract(solve.X, xStar, dx);
            double nf = j < jobs.Length ? problem.OutputDistance(xStar, perturbed, solve.X) : 0;
            changes[j] = (SpanMath.Norm(dx), nf);
        }
        if (options.RunJobs is { } runJobs)
        {
            // The runner takes its jobs together: hand them over in batches that fit the memory budget.
            for (int start = 0; start < total; start += byMemory)
            {
                var batch = Enumerable.Range(start, Math.Min(byMemory, total - start)).Select(MakeJob).ToArray();
                var batchSolves = runJobs(batch, cancellation);
                for (int i = 0; i < batch.Length; i++) Finish(start + i, batch[i].Problem, batchSolves[i]);
                batch = null;
                Release();
            }
        }
        else
        {
            // One re-solve in a method of its own: when it returns, nothing of its frame keeps the perturbed copy alive
            // (a lambda without loops starts as unoptimised code, whose stack slots all count as live to its end, so a
            // copy dropped inside it would survive the collection and meet the next job's copy).
            [MethodImpl(MethodImplOptions.NoInlining)]
            void Resolve(int j)
            {
                var job = MakeJob(j);
                var solve = job.Problem.Driver(options.Shards, compute).Solve(SolverCatalog.Create(options.Solver, options.SolverOptions),
                    job.Problem.Objective, xStar, options.SolverOptions, cancellation: cancellation);
                Finish(j, job.Problem, solve);
            }
            Parallel.ForEach(Enumerable.Range(0, total),
                new ParallelOptions { MaxDegreeOfParallelism = parallelism, CancellationToken = cancellation },
                j =>
                {
                    Resolve(j);
                    Release();
                });
        }
        var results = new PerturbationResult[jobs.Length];
        for (int j = 0; j < jobs.Length; j++)
        {
            var (eps, k) = jobs[j];
            var solve = solves[j];
            var (nx, nf) = changes[j];
            results[j] = new PerturbationResult(eps, k, nx, nf, nx / eps, nf / eps, solve.Exit, solve.Iterations, solve.GradientNorm);
        }
        var checks = new FiniteDifferenceCheck[options.WorstCaseEpsilons.Count];
        for (int i = 0; i < checks.Length; i++)
        {
            var solve = solves[jobs.Length + i];
            double eps = options.WorstCaseEpsilons[i];
            double ratio = changes[jobs.Length + i].X / eps;
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
        return new SensitivityResult(problem.Name, problem.Rows, d, xStar, baseSolve, results, summary, predictedX, predictedF,
            lo, hi, parallelism, clock.Elapsed.TotalSeconds, new WorstCaseSensitivity(worstConstant, worstDirection.Flat(), worstSteps, checks) { Converged = worstConverged, Eigensolver = method }, fixedX,
            hessian.PositiveDefinite) { HessianMethod = hessian.Method };
    }

    /// <summary>Lanczos steps of the worst case between progress lines.</summary>
    public const int WorstCaseProgressInterval = 10;

    /// <summary>Perturbed data (8 bytes × entries) from which dropped copies are collected after every step (64 MiB).</summary>
    public const long LargeDataBytes = 64L << 20;

    /// <summary>v ← exp(v − max v) / Σ exp(v − max v).</summary>
    public static void SoftmaxInPlace(Span<double> v)
    {
        double m = SpanMath.Max(v);
        SpanMath.Subtract(v, m, v);
        VectorExp.Exp(v, v);
        SpanMath.Multiply(v, 1.0 / SpanMath.Sum(v), v);
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
                SpanMath.Multiply(data, 1.0 / SpanMath.Norm(data), data);
                return new DenseMatrix(dense.Rows, dense.Cols, data);
            }
            case CsrMatrix csr:
            {
                var values = new double[csr.Values.Length];
                rng.FillNormal(values);
                SpanMath.Multiply(values, 1.0 / SpanMath.Norm(values), values);
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
                SpanMath.MultiplyAdd(dd.Data, t, da.Data, data);
                return new DenseMatrix(da.Rows, da.Cols, data);
            }
            case (CsrMatrix ca, DenseMatrix dd) when ca.Rows == dd.Rows && ca.Cols == dd.Cols:
                return Add(ca.ToDense(), dd, t); // a dense direction (the worst case) leaves the sparsity pattern
            case (CsrMatrix ca, CsrMatrix cd) when ca.Values.Length == cd.Values.Length:
            {
                var values = new double[ca.Values.Length];
                SpanMath.MultiplyAdd(cd.Values, t, ca.Values, values);
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
        DenseMatrix d => SpanMath.Norm(d.Data),
        CsrMatrix c => SpanMath.Norm(c.Values),
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
