namespace DistSoftmax.Cli.Solving;

/// <summary>
/// One solve of a sweep: an instance, the tolerance, the sampling parameters (null for a solver that does not sample)
/// and the solver. It runs as exactly the solve command that <see cref="SolveArguments"/> spells.
/// </summary>
/// <param name="Tol">solve --tol: converged when ‖∇L(x)‖ ≤ tol·‖∇L(x0)‖.</param>
/// <param name="Epsilon">solve --epsilon: the sampled Hessian's spectral accuracy, (1−ε)H ⪯ H̃ ⪯ (1+ε)H.</param>
/// <param name="Delta">solve --delta: the probability that the sampling guarantee fails.</param>
internal sealed record SweepPoint(SweepInstance Instance, double Tol, double? Epsilon, double? Delta, string Solver)
{
    /// <summary>The folder name under points/: the instance's key, then tol, ε, δ (when sampled) and the solver.</summary>
    public string Key =>
        $"{Instance.Key}-tol{SweepInstance.Number(Tol)}" +
        (Epsilon is double e ? $"-eps{SweepInstance.Number(e)}" : "") +
        (Delta is double d ? $"-delta{SweepInstance.Number(d)}" : "") +
        $"-{Solver}";

    /// <summary>
    /// The whole solve command of this point: the instance's data options, this point's solver, tolerance, sampling
    /// parameters and seed, the sweep's shared solve options (<paramref name="shared"/>: backend, workers, …) and the
    /// point's own output folder.
    /// </summary>
    public IReadOnlyList<string> SolveArguments(string problem, string? unit, string instanceDirectory, IEnumerable<string> shared,
        string outDirectory)
    {
        var args = Instance.SolveArguments(problem, unit, instanceDirectory).ToList();
        args.AddRange(["--solver", Solver, "--tol", SweepInstance.Number(Tol)]);
        if (Epsilon is double e) args.AddRange(["--epsilon", SweepInstance.Number(e)]);
        if (Delta is double d) args.AddRange(["--delta", SweepInstance.Number(d)]);
        args.AddRange(["--seed", Instance.Seed.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        args.AddRange(shared);
        args.AddRange(["--out-dir", outDirectory]);
        return args;
    }
}
