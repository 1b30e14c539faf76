using System.Diagnostics;
using System.Numerics.Tensors;
using DistSoftmax.Cluster.Hosting;
using DistSoftmax.Core.Diffusion;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Networks;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Sources;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Benchmarks;

/// <summary>
/// `networks [n] [d] [m] [epochs] [--no-diffusion]`: training throughput (samples·width per second of full-batch GD epochs) of the
/// softmax network over 1, 2 and 4 in-process shards and 1, 2 and 4 workers of the local actor simulation, against a single-threaded row-by-row reference loop measured in
/// the same run, then the diffusion demo's full run (DiffusionExperiment with the command's defaults).
/// </summary>
public static class NetworkBenchmarks
{
    public static int Run(string[] args)
    {
        bool skipDiffusion = args.Contains("--no-diffusion");
        args = args.Where(a => !a.StartsWith("--", StringComparison.Ordinal)).ToArray();
        int n = args.Length > 0 ? int.Parse(args[0]) : 100_000;
        int d = args.Length > 1 ? int.Parse(args[1]) : 16;
        int m = args.Length > 2 ? int.Parse(args[2]) : 1024;
        int epochs = args.Length > 3 ? int.Parse(args[3]) : 3;
        Console.WriteLine($"networks: n = {n}, d = {d}, m = {m}, k = 1, softmax; {Environment.ProcessorCount} cores; {epochs} GD epochs per layout");

        var x = new DenseMatrix(n, d);
        new Rng(1).FillNormal(x.Data, 1 / Math.Sqrt(d));
        var y = new DenseMatrix(n, 1);
        new Rng(2).FillNormal(y.Data);
        var model = NetworkModel.Create(Activation.Softmax, d, m, 1, 3);
        var w0 = NetworkModel.InitialWeights(d, m, 4);
        var problem = new NetworkProblem(model, x, y);

        // Single-threaded reference: one loss + gradient pass, row by row, scalar loops.
        var clock = Stopwatch.StartNew();
        var (refLoss, refGrad) = ReferencePass(model, w0, x, y);
        double refSeconds = clock.Elapsed.TotalSeconds;
        double refRate = (double)n * m / refSeconds;
        Console.WriteLine($"  reference loop (1 thread)        {refSeconds,8:F2} s/epoch  {refRate,10:G4} samples·width/s");

        // JIT warm-up of the tiled kernels (tiered compilation) before any timing.
        problem.Driver(2).Solve(new NetworkTrainer(new TrainingOptions { LearningRate = 1e-9, Epochs = 2 }), problem.Objective, w0, new SolverOptions());
        // (1 shard, 1 thread) separates the kernels' gain from the threads'.
        foreach (var (shards, threads) in new[] { (1, 1), (1, Environment.ProcessorCount), (2, 0), (4, 0) })
        {
            var compute = new ShardComputeOptions(threads > 0 ? threads : Math.Max(1, Environment.ProcessorCount / shards));
            var driver = problem.Driver(shards, compute, parallelShards: shards > 1);
            // Warm-up and check: the sharded gradient equals the reference.
            var g = ((GradientReply)driver.Evaluate(new GradientRequest(w0, Array.Empty<double>(), HessianKind.Exact, false))).Gradient;
            double loss0 = problem.Objective.Evaluate(w0, (ScalarsReply)driver.Evaluate(new ScalarsRequest(w0))).Loss;
            var diff = new double[g.Length];
            TensorPrimitives.Subtract(g, refGrad, diff);
            double err = TensorPrimitives.Norm<double>(diff) / TensorPrimitives.Norm<double>(refGrad);
            var trainer = new NetworkTrainer(new TrainingOptions { LearningRate = 1e-9, Epochs = epochs });
            clock.Restart();
            driver.Solve(trainer, problem.Objective, w0, new SolverOptions());
            double perEpoch = clock.Elapsed.TotalSeconds / (epochs + 1); // epochs + 1 gradient passes (the last records the final gradient)
            double rate = (double)n * m / perEpoch;
            Console.WriteLine($"  in-process, {shards} shard(s), {compute.MaxDegreeOfParallelism} thread(s)/shard {perEpoch,6:F2} s/epoch  {rate,10:G4} samples·width/s  " +
                              $"×{rate / refRate:F1} vs reference  (at W0: gradient rel. diff {err:E1}, loss rel. diff {Math.Abs(loss0 - refLoss) / refLoss:E1})");
        }
        // The cluster's code in one process: coordinator and worker actors, messages through mailboxes.
        var loader = new InMemoryShardLoader();
        var source = problem.RegisterWith(loader, "bench");
        foreach (int workers in new[] { 1, 2, 4 })
        {
            var trainer = new NetworkTrainer(new TrainingOptions { LearningRate = 1e-9, Epochs = epochs });
            clock.Restart();
            LocalSimulation.SolveAsync(loader, source, trainer, w0, new SolverOptions(),
                new LocalSimulationOptions { Workers = workers, ExtraHocon = "akka.loglevel = WARNING" }).GetAwaiter().GetResult();
            double perEpoch = clock.Elapsed.TotalSeconds / (epochs + 1);
            double rate = (double)n * m / perEpoch;
            Console.WriteLine($"  local actor simulation, {workers} worker(s)     {perEpoch,6:F2} s/epoch  {rate,10:G4} samples·width/s  ×{rate / refRate:F1} vs reference (incl. actor system start)");
        }

        if (!skipDiffusion)
        {
            clock.Restart();
            var demo = DiffusionExperiment.Run(new DiffusionOptions(), log: s => Console.WriteLine("  " + s));
            Console.WriteLine($"  diffusion demo (defaults: 2000 points, width {demo.Options.Width}, ≤ {demo.Options.Epochs} epochs × 3 networks, " +
                              $"{demo.Options.Samples} reverse-SDE samples): {clock.Elapsed.TotalSeconds:F1} s");
        }
        return 0;
    }

    /// <summary>½Σ‖F − y‖² and its W-gradient with plain loops, one row at a time.</summary>
    private static (double Loss, double[] Gradient) ReferencePass(NetworkModel model, double[] w, DenseMatrix x, DenseMatrix y)
    {
        int d = model.InputDim, m = model.Width;
        var a = model.OutputWeights;
        var h = new double[m];
        var grad = new double[d * m];
        double loss = 0;
        for (int i = 0; i < x.Rows; i++)
        {
            for (int j = 0; j < m; j++)
            {
                double s = 0;
                for (int p = 0; p < d; p++) s += x[i, p] * w[p * m + j];
                h[j] = s;
            }
            double max = double.NegativeInfinity;
            for (int j = 0; j < m; j++) max = Math.Max(max, h[j]);
            double sum = 0;
            for (int j = 0; j < m; j++) { h[j] = Math.Exp(h[j] - max); sum += h[j]; }
            double f = 0;
            for (int j = 0; j < m; j++) { h[j] /= sum; f += a[j] * h[j]; }
            f *= m;
            double r = f - y[i, 0];
            loss += 0.5 * r * r;
            for (int j = 0; j < m; j++)
            {
                double delta = h[j] * (m * a[j] * r - f * r);
                for (int p = 0; p < d; p++) grad[p * m + j] += x[i, p] * delta;
            }
        }
        return (loss, grad);
    }
}
