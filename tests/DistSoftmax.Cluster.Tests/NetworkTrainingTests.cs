using DistSoftmax.Cluster.Hosting;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Networks;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Sources;

namespace DistSoftmax.Cluster.Tests;

/// <summary>The network trainer is an ordinary solver to the coordinator: the actors give the in-process iterates.</summary>
public sealed class NetworkTrainingTests
{
    private const string Strict = "akka.actor.serialize-messages = on\nakka.loglevel = WARNING";

    [Theory]
    [InlineData(1.0)]
    [InlineData(0.3)]
    public async Task Training_through_the_local_simulation_equals_the_in_process_driver(double batchFraction)
    {
        var model = NetworkModel.Create(Activation.Softmax, 3, 8, 2, 11, paired: true);
        var inputs = new DenseMatrix(300, 3);
        new Rng(12).FillNormal(inputs.Data, 0.5);
        var targets = new DenseMatrix(300, 2);
        model.Predict(NetworkModel.InitialWeights(3, 8, 13), inputs.Data, 300, targets.Data);
        var problem = new NetworkProblem(model, inputs, targets);
        var loader = new InMemoryShardLoader();
        var source = problem.RegisterWith(loader, $"net-{batchFraction}");
        var w0 = NetworkModel.InitialWeights(3, 8, 14, paired: true);
        var options = new TrainingOptions { LearningRate = 1e-3, Epochs = 6, BatchFraction = batchFraction, Seed = 15, Lambda = 0.01 };

        var expected = problem.Driver(3, ShardComputeOptions.Sequential).Solve(new NetworkTrainer(options), problem.Objective, w0, new SolverOptions());
        var trainer = new NetworkTrainer(options);
        var result = await LocalSimulation.SolveAsync(loader, source, trainer, w0, new SolverOptions(),
            new LocalSimulationOptions { Workers = 3, ExtraHocon = Strict });

        ResultAssert.BitIdentical(expected, result);
        Assert.Equal(ExitCondition.MaxIterations, result.Exit);
        Assert.Equal(7, trainer.History.Count);
        Assert.True(trainer.History[^1].Loss < trainer.History[0].Loss);
    }
}
