using DistSoftmax.Core.Solvers;

namespace DistSoftmax.Core.Sensitivity;

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
    /// Largest dimension whose Hessian at x* is formed and factorised densely (<see cref="HessianSolve.Create"/>); above
    /// it, conjugate gradients on Hessian-vector products. 0 forces the iterative solve, int.MaxValue the dense one.
    /// </summary>
    public int DenseHessianMaxDimension { get; init; } = HessianSolve.DenseMaxDimension;
    /// <summary>
    /// Most steps of the worst case's eigensolver (Lanczos: two Hessian solves each; Davidson on the pencil, where H is
    /// solved by preconditioned CG: two Hessian-vector products each). Fewer than convergence needs make the reported
    /// constant a lower bound (<see cref="WorstCaseSensitivity.Converged"/> false).
    /// </summary>
    public int WorstCaseMaxSteps { get; init; } = OperatorNorm.MaxSteps;
    /// <summary>
    /// Bytes the perturbed copies of the data may take at once: at most this divided by one re-solve's copy
    /// (16 bytes per entry: the perturbed matrices, made in the arrays of the direction that moved them, and as much
    /// again for a runner whose shards copy their rows, as the CLI's worker actors do) re-solves are materialised and
    /// run together, however large <see cref="Parallelism"/> is (at least one).
    /// </summary>
    public long ResolveMemoryBudget { get; init; } = DefaultResolveMemoryBudget;
    /// <summary>
    /// 256 MiB: one re-solve at a time at n = 8192, d = 128 (a perturbed copy of A1, A2, B is 530 MB), three at
    /// n = 2048, d = 64, every one at the small sizes (at 1 GiB, the fifteen default re-solves of n = 2048 took the
    /// run's peak from about 0.4 to 1.75 GB).
    /// </summary>
    public const long DefaultResolveMemoryBudget = 256L << 20;
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
        if (WorstCaseMaxSteps < 1) throw new ParameterException(nameof(WorstCaseMaxSteps), WorstCaseMaxSteps, "must be at least 1");
        if (DenseHessianMaxDimension < 0) throw new ParameterException(nameof(DenseHessianMaxDimension), DenseHessianMaxDimension, "must be ≥ 0");
        if (ResolveMemoryBudget < 0) throw new ParameterException(nameof(ResolveMemoryBudget), ResolveMemoryBudget, "must be ≥ 0");
        if (!(DifferenceStep > 0)) throw new ArgumentException("the difference step must be > 0");
        SolverCatalog.Create(Solver);
        SolverOptions.Validate();
        return this;
    }
}
