using System.Diagnostics;
using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;

namespace DistSoftmax.Benchmarks;

/// <summary>
/// End-to-end scale run: every solver on the benchmark instance to ‖∇L‖ ≤ 1e-8·‖∇L(0)‖ through the in-process
/// driver, with the streaming read of A measured in the same run as the yardstick.
/// Usage: scale [n] [d] [comma-separated solvers]. Environment: DISTSOFTMAX_HESSIAN=Auto|Exact|GaussNewton picks the
/// curvature model; DISTSOFTMAX_TRACE=1 prints every iteration, DISTSOFTMAX_TRACE=2 every request (its shard time and
/// the solver's own time before the next request).
/// </summary>
public static class ScaleRun
{
    public static int Run(string[] args)
    {
        int n = args.Length > 0 ? int.Parse(args[0]) : 200_000;
        int d = args.Length > 1 ? int.Parse(args[1]) : 100;
        string[] solvers = args.Length > 2 ? args[2].Split(',') : SolverCatalog.Names;
        var sw = Stopwatch.StartNew();
        var inst = new BenchmarkInstance(n, d);
        Console.WriteLine($"instance n={n} d={d} generated in {sw.Elapsed.TotalSeconds:F2} s; {Environment.ProcessorCount} cores");
        double read = Timing.Median(() => inst.StreamingRead(), 15, 1);
        Console.WriteLine($"streaming read of A ({n * (long)d * 8 / 1e6:F0} MB): {read * 1e3:F2} ms (median of 15)");
        var shards = inst.Shards(1);
        var driver = new InProcessDriver(shards);
        var x0 = new double[d];
        var scalars = new Core.Statistics.ScalarsRequest(x0);
        Console.WriteLine($"pass costs (ratio to the streaming read):");
        var point = inst.Objective.Evaluate(x0, (Core.Statistics.ScalarsReply)driver.Evaluate(scalars));
        var xs = new double[d]; xs[0] = 1e-3;
        double tz = Timing.Median(() => { xs[0] += 1e-9; driver.Evaluate(new Core.Statistics.ScalarsRequest((double[])xs.Clone())); }, 9, 1);
        double tg = Timing.Median(() => { xs[0] += 1e-9; var x = (double[])xs.Clone(); driver.Evaluate(new Core.Statistics.ScalarsRequest(x)); driver.Evaluate(new Core.Statistics.GradientRequest(x, point.Globals, Core.Statistics.HessianKind.Exact, false)); }, 9, 1);
        Console.WriteLine($"  loss (z = Ax + sums)      {tz * 1e3,8:F2} ms  {tz / read,6:F2}×");
        Console.WriteLine($"  loss + gradient           {tg * 1e3,8:F2} ms  {tg / read,6:F2}×");
        foreach (var name in solvers)
        {
            var options = new SolverOptions { RelativeTolerance = 1e-8, MaxIterations = name == "gd" ? 300 : 200, Seed = 1,
                Hessian = Enum.Parse<HessianMode>(Environment.GetEnvironmentVariable("DISTSOFTMAX_HESSIAN") ?? "Auto") };
            var solveDriver = new InProcessDriver(inst.Shards(1));
            var run = SolverCatalog.Create(name).Start(inst.Objective, x0, options);
            var perType = new Dictionary<string, (int Count, double Seconds)>();
            var request = run.Start();
            while (request is not null)
            {
                var sw1 = Stopwatch.StartNew();
                var reply = solveDriver.Evaluate(request);
                double el = sw1.Elapsed.TotalSeconds;
                var key = request.GetType().Name;
                perType[key] = perType.TryGetValue(key, out var v) ? (v.Count + 1, v.Seconds + el) : (1, el);
                var sw2 = Stopwatch.StartNew();
                var before = request;
                request = run.Submit(reply);
                if (Environment.GetEnvironmentVariable("DISTSOFTMAX_TRACE") == "2")
                    Console.WriteLine($"    {before.GetType().Name,-20} shard {el * 1e3,6:F2} ms, solver {sw2.Elapsed.TotalMilliseconds,6:F2} ms");
            }
            var result = run.Result!;
            double perIter = result.Seconds / Math.Max(result.Iterations, 1);
            Console.WriteLine($"{name,-14} {result.Exit,-13} iterations {result.Iterations,4}  solve {result.Seconds,7:F2} s  " +
                              $"per iteration {perIter * 1e3,7:F1} ms ({perIter / read,5:F1}× read)  requests {result.Requests,5}  " +
                              $"‖∇L‖/‖∇L0‖ {result.GradientNorm / result.InitialGradientNorm:E2}  loss {result.Loss:E6}");
            Console.WriteLine("    shard time by request: " + string.Join(", ", perType.Select(kv => $"{kv.Key} {kv.Value.Count}× {kv.Value.Seconds / kv.Value.Count * 1e3:F1} ms")));
            if (Environment.GetEnvironmentVariable("DISTSOFTMAX_TRACE") == "1")
                foreach (var t in result.Trace)
                    Console.WriteLine($"    {t.Iteration,3} loss {t.Loss:E6} grad {t.GradientNorm:E3} step {t.StepLength:G4} rows {t.RowsSampled} negcurv {t.NegativeCurvature:E2} t={t.Seconds:F3}s req {t.Requests}");
        }
        return 0;
    }
}
