using System.Diagnostics;
using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;

namespace DistSoftmax.Benchmarks;

/// <summary>
/// Multiple softmax regression at d² scale (issue 6): n×d A1, A2 with N(0, 1/d) entries, X* with N(0, 1) entries,
/// B = row-softmax(A1 X* A2ᵀ), x0 = 0, solved to relative gradient 1e-8 through the in-process driver.
/// Usage: matrix [n] [d] [shards] [hessian: Auto|Exact|GaussNewton] [solver].
/// </summary>
public static class MatrixScaleRun
{
    public static int Run(string[] args)
    {
        int n = args.Length > 0 ? int.Parse(args[0]) : 1000;
        int d = args.Length > 1 ? int.Parse(args[1]) : 64;
        int shards = args.Length > 2 ? int.Parse(args[2]) : 4;
        var mode = args.Length > 3 ? Enum.Parse<HessianMode>(args[3]) : HessianMode.GaussNewton;
        var rng = new Rng(64);
        var a1 = new DenseMatrix(n, d); rng.FillNormal(a1.Data, 1 / Math.Sqrt(d));
        var a2 = new DenseMatrix(n, d); rng.FillNormal(a2.Data, 1 / Math.Sqrt(d));
        var xTrue = new double[d * d]; rng.FillNormal(xTrue);
        var b = new DenseMatrix(n, n);
        var m = new double[n];
        var xa2 = new double[d];
        for (int j = 0; j < n; j++)
        {
            // row j of A1 X A2ᵀ = A2 (Xᵀ a1_j)
            Array.Clear(xa2);
            for (int r = 0; r < d; r++) for (int c = 0; c < d; c++) xa2[c] += a1[j, r] * xTrue[r * d + c];
            for (int i = 0; i < n; i++) m[i] = System.Numerics.Tensors.TensorPrimitives.Dot(a2.Row(i), xa2);
            double mx = m.Max(), s = 0;
            for (int i = 0; i < n; i++) { m[i] = Math.Exp(m[i] - mx); s += m[i]; }
            for (int i = 0; i < n; i++) b[j, i] = m[i] / s;
        }
        var problem = MatrixProblem.Create("multiple-normalized", a1, a2, b);
        var choice = MatrixSolverChoice.Choose(d, args.Length > 4 ? args[4] : null);
        var options = new SolverOptions { RelativeTolerance = 1e-8, MaxIterations = 200, Hessian = mode };
        var driver = new InProcessDriver(problem.Shards(shards));
        var sw = Stopwatch.StartNew();
        var result = driver.Solve(SolverCatalog.Create(choice.Solver), problem.Objective, new double[d * d], options);
        sw.Stop();
        long peak = Process.GetCurrentProcess().PeakWorkingSet64;
        Console.WriteLine($"multiple-normalized n={n} d={d} ({d * d} unknowns) shards={shards} solver={choice.Solver} hessian={mode}: " +
                          $"{result.Exit} in {result.Iterations} iterations, {result.Requests} shard requests, {sw.Elapsed.TotalSeconds:F2} s, " +
                          $"peak working set {peak / (1024.0 * 1024):F0} MiB, ‖∇L‖/‖∇L0‖ {result.GradientNorm / result.InitialGradientNorm:E2}, " +
                          $"explicit Kronecker matrix would be {(double)n * n * d * d * 8 / 1e9:F0} GB");
        return result.Converged ? 0 : 3;
    }
}
