using System.Reflection;
using DistSoftmax.Cluster.Hosting;
using DistSoftmax.Core;
using DistSoftmax.Core.Diffusion;
using DistSoftmax.Core.Networks;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Sensitivity;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Data.Sources;

namespace DistSoftmax.Cli.Tests;

/// <summary>
/// Every parameter error below the command line is a <see cref="ParameterException"/> whose parameter the command
/// line's one table (<see cref="ParameterFlags"/>) spells as an option.
/// </summary>
public class ParameterFlagsTests
{
    /// <summary>A bad value of every validated parameter of Core, Data and Cluster.</summary>
    public static TheoryData<string, string> BadParameters() => new()
    {
        { "tol", "--tol" }, { "abs-tol", "--abs-tol" }, { "max-iter", "--max-iter" }, { "stall-iter", "--stall-iter" },
        { "trust-radius", "--trust-radius" }, { "epsilon", "--epsilon" }, { "delta", "--delta" }, { "oversampling", "--oversampling" },
        { "sketch-factor", "--sketch-factor" }, { "kronecker-rows", "--kronecker-rows" }, { "projection-columns", "--projection-columns" }, { "lbfgs-memory", "--lbfgs-memory" },
        { "max-cg", "--max-cg" }, { "globalization", "--globalization" }, { "hessian", "--hessian" }, { "matrix solver", "--solver" },
        { "unit", "--unit" }, { "problem", "--problem" }, { "n", "--n" }, { "d", "--d" }, { "density", "--density" },
        { "noise", "--noise" }, { "x-scale", "--x-scale" }, { "sparse", "--sparse" }, { "shards", "--workers" },
        { "sensitivity shards", "--shards" }, { "draws", "--draws" }, { "epsilons", "--epsilons" }, { "parallel", "--parallel" },
        { "worst-epsilons", "--worst-epsilons" },
        { "activation", "--activation" }, { "lr", "--lr" }, { "epochs", "--epochs" }, { "batch-fraction", "--batch-fraction" },
        { "lambda", "--lambda" }, { "diffusion lr", "--lr" }, { "diffusion workers", "--workers" }, { "width", "--width" },
        { "eval-times", "--eval-times" }, { "t-min", "--t-min" }, { "patience", "--patience" }, { "held-out", "--held-out" }, { "seeds", "--seeds" },
    };

    private static Action Bad(string name) => name switch
    {
        "tol" => () => new SolverOptions { RelativeTolerance = -1 }.Validate(),
        "abs-tol" => () => new SolverOptions { AbsoluteTolerance = double.NaN }.Validate(),
        "max-iter" => () => new SolverOptions { MaxIterations = -1 }.Validate(),
        "stall-iter" => () => new SolverOptions { StallIterations = 0 }.Validate(),
        "trust-radius" => () => new SolverOptions { TrustRadius = 0 }.Validate(),
        "epsilon" => () => new SolverOptions { SamplingEpsilon = 1.5 }.Validate(),
        "delta" => () => new SolverOptions { SamplingDelta = 0 }.Validate(),
        "oversampling" => () => new SolverOptions { Oversampling = 0 }.Validate(),
        "sketch-factor" => () => new SolverOptions { SketchRowsPerColumn = -1 }.Validate(),
        "kronecker-rows" => () => new SolverOptions { KroneckerRowsPerColumn = -1 }.Validate(),
        "projection-columns" => () => new SolverOptions { ProjectionColumns = -1 }.Validate(),
        "lbfgs-memory" => () => new SolverOptions { LbfgsMemory = 0 }.Validate(),
        "max-cg" => () => new SolverOptions { MaxCgIterations = -1 }.Validate(),
        "globalization" => () => SolverCatalog.ParseGlobalization("dogleg"),
        "hessian" => () => SolverCatalog.ParseHessian("bfgs"),
        "matrix solver" => () => MatrixSolverChoice.Choose(65, "newton"),   // d² = 4225 beyond the exact Hessian
        "unit" => () => UnitCatalog.Parse("tan"),
        "problem" => () => Families.Create("softmax"),
        "n" => () => new GeneratedSpec(Families.Normalized, Unit.Exp, 0, 2, 1).Validate(),
        "d" => () => new GeneratedSpec(Families.Normalized, Unit.Exp, 2, 0, 1).Validate(),
        "density" => () => new GeneratedSpec(Families.Normalized, Unit.Exp, 2, 2, 1, Sparse: true, Density: 0).Validate(),
        "noise" => () => new GeneratedSpec(Families.Normalized, Unit.Exp, 2, 2, 1, Noise: 2).Validate(),
        "x-scale" => () => new GeneratedSpec(Families.Hyperbolic, Unit.Exp, 10, 2, 1, XScale: 1e6).Generate(),
        "sparse" => () => new GeneratedSpec(Families.MultipleNormalized, Unit.Exp, 2, 2, 1, Sparse: true).Validate(),
        "shards" => () => ShardLayout.Split(10, 0),
        "sensitivity shards" => () => new SensitivityOptions { Shards = 0 }.Validate(),
        "draws" => () => new SensitivityOptions { Draws = 0 }.Validate(),
        "epsilons" => () => new SensitivityOptions { Epsilons = [-1.0] }.Validate(),
        "worst-epsilons" => () => new SensitivityOptions { WorstCaseEpsilons = [0.0] }.Validate(),
        "parallel" => () => new SensitivityOptions { Parallelism = -1 }.Validate(),
        "activation" => () => Activations.Parse("tanh"),
        "lr" => () => new TrainingOptions { LearningRate = 0 }.Validate(),
        "epochs" => () => new TrainingOptions { Epochs = -1 }.Validate(),
        "batch-fraction" => () => new TrainingOptions { BatchFraction = 0 }.Validate(),
        "lambda" => () => new TrainingOptions { Lambda = -1 }.Validate(),
        "diffusion lr" => () => new DiffusionOptions { NormalizedLearningRate = 0 }.Validate(),
        "diffusion workers" => () => new DiffusionOptions { Shards = 0 }.Validate(),
        "width" => () => new DiffusionOptions { Width = 3 }.Validate(),
        "eval-times" => () => DiffusionTimes.Geometric(3, 0.1, 1),
        "t-min" => () => DiffusionTimes.Geometric(0.1, 3, 4),
        "patience" => () => new DiffusionOptions { Patience = -1 }.Validate(),
        "held-out" => () => new DiffusionOptions { HeldOutFraction = 1 }.Validate(),
        "seeds" => () => DistSoftmaxConfig.SeedAddresses(["nohost"]),
        _ => throw new ArgumentException(name),
    };

    [Theory]
    [MemberData(nameof(BadParameters))]
    public void Every_bad_parameter_is_typed_and_named_by_its_option(string name, string flag)
    {
        var e = Assert.ThrowsAny<ParameterException>(Bad(name));
        Assert.Equal(flag, ParameterFlags.Of(e.Parameter, e.Scope));
        string line = ParameterFlags.Describe(e);
        Assert.StartsWith(flag + ": ", line);
        // Below the command line nothing spells an option.
        Assert.DoesNotContain("--", e.Message);
    }

    [Fact]
    public void Every_named_parameter_constant_has_an_option()
    {
        var assemblies = new[] { typeof(ParameterException).Assembly, typeof(DataSources).Assembly, typeof(DistSoftmaxConfig).Assembly };
        var constants = assemblies.SelectMany(a => a.GetTypes())
            .SelectMany(t => t.GetFields(BindingFlags.Public | BindingFlags.Static))
            .Where(f => f.IsLiteral && f.FieldType == typeof(string) && f.Name.EndsWith("Parameter", StringComparison.Ordinal))
            .Select(f => (string)f.GetRawConstantValue()!)
            .ToArray();
        Assert.NotEmpty(constants);
        foreach (string parameter in constants)
            Assert.True(ParameterFlags.Parameters.Contains(parameter), $"no option for parameter {parameter}");
    }

    [Fact]
    public void Related_parameters_are_spelled_as_options_too()
    {
        var e = Assert.Throws<ParameterException>(() => new GeneratedSpec(Families.Normalized, Unit.Exp, 2, 2, 1, Planted: true, Noise: 0.5).Validate());
        Assert.Equal("Noise: must be 0 (or absent) for a Planted instance", e.Message);
        Assert.Equal("--noise: must be 0 (or absent) for a --planted instance", ParameterFlags.Describe(e));
    }
}
