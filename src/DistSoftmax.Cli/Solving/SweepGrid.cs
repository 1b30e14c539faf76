using System.Globalization;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Data.Sources;

namespace DistSoftmax.Cli.Solving;

/// <summary>
/// The grid of a sweep, checked: the instances (generated for every n × d × density × repeat, or a user's instance
/// once per repeat) and, on each, one solve per tol × solver, and per ε × δ for the solvers that sample
/// (<see cref="Samples"/>: approx-newton on a vector problem; the others ignore ε and δ, so they run once).
/// Repeat r uses the seed <c>Seed + r</c> for the generator and the solver alike.
/// </summary>
/// <param name="Problem">The family (<see cref="Families.Names"/>).</param>
/// <param name="Unit">The unit of rescaled / hyperbolic problems; null for the families without one.</param>
/// <param name="N">Rows of the generated instances (empty for a user's instance).</param>
/// <param name="D">Columns of the generated instances (empty for a user's instance).</param>
/// <param name="Density">Entry densities of sparse generated instances; one null entry: dense.</param>
/// <param name="Tol">Relative tolerances (solve --tol).</param>
/// <param name="Epsilon">Spectral accuracies ε of the sampled Hessian (solve --epsilon, <see cref="SolverOptions.SamplingEpsilon"/>).</param>
/// <param name="Delta">Failure probabilities δ of the sampling guarantee (solve --delta, <see cref="SolverOptions.SamplingDelta"/>).</param>
/// <param name="Solvers">Solver names (<see cref="SolverCatalog.Names"/> or auto).</param>
/// <param name="Repeats">Runs of every grid point, with seeds Seed, Seed + 1, ….</param>
/// <param name="Seed">The first repeat's seed.</param>
/// <param name="User">A user's vector instance (solve arguments --A, --b and --w, absolute paths), or null: generated instances.</param>
/// <param name="SmallestRows">n of the grid's smallest instance (the smallest --n, or the user's n): the warm-up is never larger.</param>
/// <param name="SmallestColumns">d of the grid's smallest instance (the smallest --d, or the user's d).</param>
internal sealed record SweepGrid(
    string Problem, string? Unit, IReadOnlyList<int> N, IReadOnlyList<int> D, IReadOnlyList<double?> Density,
    IReadOnlyList<double> Tol, IReadOnlyList<double> Epsilon, IReadOnlyList<double> Delta,
    IReadOnlyList<string> Solvers, int Repeats, ulong Seed, IReadOnlyList<string>? User, long SmallestRows, int SmallestColumns)
{
    /// <summary>Most grid points one sweep runs (a typo like --n 1,2,…,1000 should not start a week of solves).</summary>
    public const int MaxPoints = 10_000;

    /// <summary>Fewest rows of the warm-up instance.</summary>
    public const int WarmupMinRows = 500;

    /// <summary>Most columns of the warm-up instance: past every size threshold of the kernels (blocked SYRK from d = 64, blocked Cholesky from 192).</summary>
    public const int WarmupMaxColumns = 256;

    /// <summary>Warm-up rows per row approx-newton samples: enough that it samples rather than forming the exact Gram.</summary>
    public const int WarmupRowsPerSample = 4;

    /// <summary>d of the warm-up instance: the grid's smallest d (or the user's d), at most <see cref="WarmupMaxColumns"/>.</summary>
    public int WarmupD => Math.Min(SmallestColumns, WarmupMaxColumns);

    /// <summary>Most entries n·d of the warm-up instance's A (32 MB): a small ε asks for millions of sampled rows.</summary>
    public const long WarmupMaxEntries = 4_000_000;

    /// <summary>
    /// n of the warm-up instance: <see cref="WarmupRowsPerSample"/> × approx-newton's sample size s = c·ε⁻²·d·ln(d/δ) at the
    /// grid's first ε and δ when a solver samples (else <see cref="WarmupMinRows"/>), at least <see cref="WarmupMinRows"/>,
    /// but at most <see cref="WarmupMaxEntries"/>/d and never more than the grid's smallest instance has. Matrix problems
    /// (B is n×n, d² unknowns): the grid's smallest n.
    /// </summary>
    public int WarmupN
    {
        get
        {
            if (Families.IsMatrix(Problem)) return (int)SmallestRows;
            double wanted = WarmupMinRows;
            if (Solvers.Any(Samples))
                wanted = Math.Max(wanted, WarmupRowsPerSample * new SolverOptions { SamplingEpsilon = Epsilon[0], SamplingDelta = Delta[0] }.SampleSize(WarmupD));
            return (int)Math.Min(Math.Min(wanted, WarmupMaxEntries / WarmupD), SmallestRows);
        }
    }

    /// <summary>
    /// One untimed solve per solver on a generated instance of the grid's family (<see cref="WarmupN"/> × <see cref="WarmupD"/>,
    /// dense), run before the grid so that no grid point's time includes compiling the code it runs (methods with loops are
    /// compiled fully optimised at their first call: the first solve of a sweep took 0.5 s, of which the solve itself was
    /// a few milliseconds once compiled).
    /// </summary>
    public IEnumerable<SweepPoint> WarmupPoints()
    {
        var instance = SweepInstance.Generated(this, WarmupN, WarmupD, null, 0, Seed) with { Key = "warmup" };
        foreach (string solver in Solvers)
            yield return Samples(solver)
                ? new SweepPoint(instance, Tol[0], Epsilon[0], Delta[0], solver)
                : new SweepPoint(instance, Tol[0], null, null, solver);
    }

    /// <summary>Whether <paramref name="solver"/> reads ε and δ: only approx-newton's sampled Hessian of a vector problem (and auto, which may choose it).</summary>
    public bool Samples(string solver) => !Families.IsMatrix(Problem) && solver is "approx-newton" or "auto";

    /// <summary>Every instance, in order: n outermost, then d, density and repeat (a user's instance: one per repeat).</summary>
    public IEnumerable<SweepInstance> Instances()
    {
        if (User is not null)
        {
            for (int r = 0; r < Repeats; r++) yield return SweepInstance.FromUser(this, r, SeedOf(r));
            yield break;
        }
        foreach (int n in N)
            foreach (int d in D)
                foreach (double? density in Density)
                    for (int r = 0; r < Repeats; r++)
                        yield return SweepInstance.Generated(this, n, d, density, r, SeedOf(r));
    }

    /// <summary>The solves on one instance: tol, then solver, then (for a sampling solver) ε and δ.</summary>
    public IEnumerable<SweepPoint> Points(SweepInstance instance)
    {
        foreach (double tol in Tol)
            foreach (string solver in Solvers)
            {
                if (!Samples(solver))
                {
                    yield return new SweepPoint(instance, tol, null, null, solver);
                    continue;
                }
                foreach (double epsilon in Epsilon)
                    foreach (double delta in Delta)
                        yield return new SweepPoint(instance, tol, epsilon, delta, solver);
            }
    }

    /// <summary>Solves per instance.</summary>
    public int PointsPerInstance => Tol.Count * Solvers.Sum(s => Samples(s) ? Epsilon.Count * Delta.Count : 1);

    /// <summary>Instances in the sweep.</summary>
    public long InstanceCount => User is not null ? Repeats : (long)N.Count * D.Count * Density.Count * Repeats;

    /// <summary>Solves in the sweep.</summary>
    public long PointCount => InstanceCount * PointsPerInstance;

    private ulong SeedOf(int repeat) => unchecked(Seed + (ulong)repeat);

    /// <summary>"8 solves: n {200, 400} × d {3, 5} × dense × tol {1e-08} × solvers {…} (ε {0.5} × δ {0.01} for approx-newton) × 1 repeat".</summary>
    public string Describe()
    {
        var parts = new List<string>();
        if (User is null)
        {
            parts.Add($"n {{{Join(N)}}}");
            parts.Add($"d {{{Join(D)}}}");
            parts.Add(Density is [null] ? "dense" : $"density {{{Join(Density.Select(p => p!.Value))}}}");
        }
        else parts.Add("the instance " + string.Join(' ', User));
        parts.Add($"tol {{{Join(Tol)}}}");
        var sampling = Solvers.Where(Samples).ToArray();
        string solvers = $"solvers {{{string.Join(", ", Solvers)}}}";
        if (sampling.Length > 0) solvers += $" (ε {{{Join(Epsilon)}}} × δ {{{Join(Delta)}}} for {string.Join(", ", sampling)})";
        parts.Add(solvers);
        parts.Add($"{Repeats} repeat{(Repeats == 1 ? "" : "s")}");
        return $"{PointCount} solve{(PointCount == 1 ? "" : "s")} on {InstanceCount} instance{(InstanceCount == 1 ? "" : "s")}: {string.Join(" × ", parts)}";
    }

    private static string Join<T>(IEnumerable<T> values) where T : IFormattable =>
        string.Join(", ", values.Select(v => v.ToString(null, CultureInfo.InvariantCulture)));
}
