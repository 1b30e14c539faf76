using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Data;
using ScottPlot;

namespace DistSoftmax.Benchmarks;

/// <summary>
/// `crossover [png] [n·d] [iterations] [nnz per row]`: seconds per iteration of approx-newton and newton against d ∈
/// {100, 200, 400, 1000} at a fixed number of entries n·d (default 2·10⁷), for dense A (N(0, 1/d)) and for sparse A
/// with a fixed number of non-zeros per row (default 10), on the normalized instances `generate` makes (seed 7), each
/// solve capped at a few iterations (default 8: the early iterations, which sample the most rows), in-process with
/// one shard on all cores; each point the least of two solves, the solvers alternated. Prints the table and draws it
/// (log–log) into the PNG (default docs/crossover.png).
/// </summary>
public static class CrossoverPlot
{
    private static readonly int[] Dimensions = { 100, 200, 400, 1000 };
    private static readonly string[] Solvers = { "approx-newton", "newton" };
    /// <summary>Solves of each solver at each point; the point is the least.</summary>
    private const int Repeats = 2;
    /// <summary>Rows of the warm-up instances (large enough for d = 1000's sample to be a sample).</summary>
    private const int WarmUpRows = 4000;

    public static int Run(string[] args)
    {
        string png = args.Length > 0 ? args[0] : Path.Combine("docs", "crossover.png");
        long entries = args.Length > 1 ? long.Parse(args[1]) : 20_000_000;
        int iterations = args.Length > 2 ? int.Parse(args[2]) : 8;
        int nnzPerRow = args.Length > 3 ? int.Parse(args[3]) : 10;
        var plot = new Plot();
        Console.WriteLine($"n·d = {entries:E1}, at most {iterations} iterations, sparse rows with {nnzPerRow} non-zeros; seconds per iteration");
        // Every solver's first calls (JIT, the sparse kernels' first use) are paid on a small instance of each kind
        // before anything is timed; otherwise whichever runs first carries them (approx-newton's sparse figures did).
        foreach (bool sparse in new[] { false, true })
            foreach (var solver in Solvers)
                foreach (int d in Dimensions)
                    SecondsPerIteration(solver, WarmUpRows, d, sparse, nnzPerRow, 2);
        // Each point is the least of Repeats solves, the two solvers alternated (a, b, b, a): a first solve at a new
        // shape pays first calls that the warm-up's 4000 rows do not (at d = 1000, sparse, approx-newton measured 0.11 s
        // an iteration first and 0.04 s in a second run, as newton).
        var seconds = new Dictionary<(bool Sparse, string Solver, int D), double>();
        foreach (bool sparse in new[] { false, true })
            foreach (int d in Dimensions)
            {
                int n = (int)(entries / d);
                for (int repeat = 0; repeat < Repeats; repeat++)
                    foreach (var solver in repeat % 2 == 0 ? Solvers : Solvers.Reverse())
                    {
                        var (perIteration, done) = SecondsPerIteration(solver, n, d, sparse, nnzPerRow, iterations);
                        Console.WriteLine($"  {(sparse ? "sparse" : "dense"),-6} {solver,-14} d = {d,5}  n = {n,8}  {done,3} iterations  {perIteration,8:F3} s");
                        var key = (sparse, solver, d);
                        seconds[key] = seconds.TryGetValue(key, out var best) ? Math.Min(best, perIteration) : perIteration;
                    }
            }
        Console.WriteLine("least of each:");
        foreach (bool sparse in new[] { false, true })
            foreach (var solver in Solvers)
            {
                var xs = new List<double>();
                var ys = new List<double>();
                foreach (int d in Dimensions)
                {
                    double perIteration = seconds[(sparse, solver, d)];
                    Console.WriteLine($"  {(sparse ? "sparse" : "dense"),-6} {solver,-14} d = {d,5}  {perIteration,8:F3} s");
                    xs.Add(Math.Log10(d));
                    ys.Add(Math.Log10(perIteration));
                }
                var line = plot.Add.Scatter(xs.ToArray(), ys.ToArray());
                line.LegendText = $"{solver}, {(sparse ? $"sparse ({nnzPerRow} non-zeros per row)" : "dense")}";
                line.MarkerSize = 7;
                if (sparse) line.LinePattern = LinePattern.Dashed;
            }
        plot.Axes.Bottom.TickGenerator = LogTicks(Dimensions.Select(d => (double)d));
        plot.Axes.Left.TickGenerator = LogTicks(new[] { 0.001, 0.01, 0.1, 1, 10 });
        plot.Title($"seconds per iteration at n·d = {entries:0.#E0} (first {iterations} iterations, 2 cores)");
        plot.XLabel("d (log scale)");
        plot.YLabel("seconds per iteration (log scale)");
        plot.ShowLegend(Alignment.UpperLeft);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(png))!);
        plot.SavePng(png, 900, 600);
        Console.WriteLine($"wrote {png}");
        return 0;
    }

    /// <summary>Seconds per iteration of an in-process solve (one shard, all cores) capped at the given iterations.</summary>
    private static (double Seconds, int Iterations) SecondsPerIteration(string solver, int n, int d, bool sparse, int nnzPerRow, int iterations)
    {
        var inst = Generators.Normalized(n, d, 7, sparse, density: Math.Min(1.0, (double)nnzPerRow / d));
        // The stored entries decide approx-newton's form (a sparse A gets the exact Gram), as the command line's do.
        var objective = new VectorObjective(NormalizedSoftmax.Instance, d, n, inst.A.StoredEntries);
        var driver = new InProcessDriver(ShardLayout.VectorShards(NormalizedSoftmax.Instance, inst.A, inst.B, Regularizer.None, 1));
        var options = new SolverOptions { RelativeTolerance = 1e-8, MaxIterations = iterations, Seed = 1 };
        var result = driver.Solve(SolverCatalog.Create(solver), objective, new double[d], options);
        return (result.Seconds / Math.Max(1, result.Iterations), result.Iterations);
    }

    private static ScottPlot.TickGenerators.NumericManual LogTicks(IEnumerable<double> values)
    {
        var ticks = new ScottPlot.TickGenerators.NumericManual();
        foreach (var v in values) ticks.AddMajor(Math.Log10(v), v.ToString("G4", System.Globalization.CultureInfo.InvariantCulture));
        return ticks;
    }
}
