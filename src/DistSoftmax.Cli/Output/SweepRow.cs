using System.Globalization;
using System.Text.Json;
using DistSoftmax.Cli.Solving;

namespace DistSoftmax.Cli.Output;

/// <summary>
/// One line of sweep.csv: a grid point and what its solve's report.json says. The derived measures:
/// <list type="bullet">
/// <item>seconds per iteration = solve seconds / iterations (NaN with no iteration);</item>
/// <item>the contraction factor ρ = (‖∇L(x_K)‖ / ‖∇L(x_0)‖)^(1/K) over the K iterations of the trace — the geometric mean of
/// the successive ratios ‖∇L(x_{k+1})‖ / ‖∇L(x_k)‖, k = 0 … K−1 (their product telescopes); NaN with no iteration or a zero
/// or non-finite norm (<see cref="GeometricContraction"/>);</item>
/// <item>the cost nnz + d^ω with ω = <see cref="MatrixMultiplicationExponent"/> (<see cref="Cost"/>).</item>
/// </list>
/// </summary>
/// <param name="Density">The grid's density of a sparse generated A, 1 for a dense generated A, nnz/(n·d) for the user's instance.</param>
/// <param name="Epsilon">solve --epsilon of a sampling solver; null for the others (they ignore it).</param>
/// <param name="Delta">solve --delta of a sampling solver; null for the others.</param>
/// <param name="SolveSeconds">The solver's own clock (report.json wallTime.solveSeconds).</param>
/// <param name="TotalSeconds">The whole solve command: reading and checking input, solving, writing its files (wallTime.totalSeconds).</param>
/// <param name="Solver">The solver that ran (what auto chose, for --solvers auto).</param>
/// <param name="Point">The point's folder name under points/.</param>
internal sealed record SweepRow(
    string Problem, string? Unit, long N, int D, double Density, long Nnz, double Tol, double? Epsilon, double? Delta,
    string Solver, int Repeat, ulong Seed, int Iterations, string Exit, bool Converged, double FinalLoss,
    double FinalGradientNorm, double SolveSeconds, long Requests, double ContractionFactor, double TotalSeconds, string Point)
{
    /// <summary>ω, the exponent of d×d matrix multiplication the papers' running times use (d^ω for a d×d solve).</summary>
    public const double MatrixMultiplicationExponent = 2.373;

    public double SecondsPerIteration => Iterations > 0 ? SolveSeconds / Iterations : double.NaN;

    /// <summary>nnz(A) + d^ω: the input-sparsity cost per iteration the seed paper's running time is stated in.</summary>
    public double Cost => Nnz + Math.Pow(D, MatrixMultiplicationExponent);

    /// <summary>
    /// ρ = (g_K / g_0)^(1/K) for the gradient norms g_0 … g_K of a trace (K = last iteration − first): the geometric mean
    /// of g_{k+1}/g_k. NaN when K = 0 or either norm is zero or not finite.
    /// </summary>
    public static double GeometricContraction(IReadOnlyList<(int Iteration, double GradientNorm)> trace)
    {
        if (trace.Count < 2) return double.NaN;
        var (first, last) = (trace[0], trace[^1]);
        int k = last.Iteration - first.Iteration;
        if (k <= 0 || !(first.GradientNorm > 0) || !(last.GradientNorm > 0) ||
            !double.IsFinite(first.GradientNorm) || !double.IsFinite(last.GradientNorm)) return double.NaN;
        return Math.Exp((Math.Log(last.GradientNorm) - Math.Log(first.GradientNorm)) / k);
    }

    /// <summary>The row of <paramref name="point"/> from its solve's report.json (<see cref="SolveReport"/>'s camelCase fields).</summary>
    public static SweepRow FromReport(SweepPoint point, string problem, string? unit, JsonElement report)
    {
        var sizes = report.GetProperty("sizes");
        long n = sizes.GetProperty("n").GetInt64(), nnz = sizes.GetProperty("nnz").GetInt64();
        int d = sizes.GetProperty("d").GetInt32();
        var wall = report.GetProperty("wallTime");
        var trace = report.GetProperty("trace").EnumerateArray()
            .Select(t => (t.GetProperty("iteration").GetInt32(), Number(t.GetProperty("gradientNorm")))).ToArray();
        double density = point.Instance.Spec is null ? (double)nnz / ((double)n * d) : point.Instance.RequestedDensity ?? 1.0;
        // ε and δ belong to the row only when the solver that ran sampled: auto may have chosen another one.
        string solver = report.GetProperty("solver").GetString()!;
        bool sampled = solver == "approx-newton";
        return new SweepRow(problem, unit, n, d, density, nnz, point.Tol, sampled ? point.Epsilon : null, sampled ? point.Delta : null,
            solver, point.Instance.Repeat, point.Instance.Seed,
            report.GetProperty("iterations").GetInt32(), report.GetProperty("exit").GetString()!,
            report.GetProperty("converged").GetBoolean(), Number(report.GetProperty("finalLoss")),
            Number(report.GetProperty("finalGradientNorm")), Number(wall.GetProperty("solveSeconds")),
            report.GetProperty("requests").GetInt64(), GeometricContraction(trace), Number(wall.GetProperty("totalSeconds")), point.Key);
    }

    /// <summary>A report number: a JSON number, or "NaN" / "Infinity" / "-Infinity" as a string (SolveReport's rule).</summary>
    private static double Number(JsonElement e) =>
        e.ValueKind == JsonValueKind.String ? double.Parse(e.GetString()!, NumberStyles.Float, CultureInfo.InvariantCulture) : e.GetDouble();
}
