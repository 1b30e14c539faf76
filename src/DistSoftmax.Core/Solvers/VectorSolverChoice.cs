using System.Globalization;

namespace DistSoftmax.Core.Solvers;

/// <summary>
/// Which solver to run on a vector problem, and why, in one line a report can print. Automatic choice: the solver
/// with the least predicted solve time under <see cref="VectorSolverCostModel"/> among exact Newton, approximate
/// Newton, Newton-CG and L-BFGS (gradient descent is never chosen; it is the seeds' baseline). An explicit request
/// is kept, with its predicted cost in the reason.
/// </summary>
/// <param name="Solver">A <see cref="SolverCatalog"/> name.</param>
/// <param name="Reason">One line for a report: the predicted seconds of each candidate.</param>
public sealed record VectorSolverChoice(string Solver, string Reason)
{
    public static readonly string[] Candidates = { "newton", "approx-newton", "newton-cg", "lbfgs" };

    public static VectorSolverChoice Choose(long n, int d, long nnz, SolverOptions options, string? requested = null)
    {
        string name = string.IsNullOrWhiteSpace(requested) ? "auto" : requested.Trim().ToLowerInvariant();
        var predicted = Candidates.ToDictionary(s => s, s => VectorSolverCostModel.SolveSeconds(s, n, d, nnz, options));
        string Costs() => string.Join(", ", predicted.OrderBy(kv => kv.Value).Select(kv =>
            string.Create(CultureInfo.InvariantCulture, $"{kv.Key} {kv.Value:G3} s ({VectorSolverCostModel.TypicalIterations(kv.Key)} it × {1e3 * kv.Value / VectorSolverCostModel.TypicalIterations(kv.Key):G3} ms)")));
        string shape = string.Create(CultureInfo.InvariantCulture, $"n = {n}, d = {d}, nnz = {nnz}");
        string exactGram = VectorSolverCostModel.FormFor(n, d, nnz, options) switch
        {
            ApproximateNewtonForm.ExactGram => "; approx-newton would use the exact Gram here (sampling costs more than it saves)",
            ApproximateNewtonForm.PreconditionedCg => "; approx-newton would run as Newton-CG preconditioned by a sampled Gram here (the sample of its direct step keeps too many rows)",
            _ => "",
        };
        if (name == "auto")
        {
            string best = predicted.MinBy(kv => kv.Value).Key;
            return new(best, $"auto: {best} has the least predicted time for {shape}: {Costs()}{exactGram}");
        }
        if (!SolverCatalog.Names.Contains(name))
            throw new ArgumentException($"unknown solver '{requested}' (allowed: auto, {string.Join(", ", SolverCatalog.Names)})");
        return new(name, $"requested: {name} for {shape}; predicted {Costs()}{(name == "approx-newton" ? exactGram : "")}");
    }
}
