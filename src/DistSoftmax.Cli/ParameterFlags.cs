using DistSoftmax.Cluster.Hosting;
using DistSoftmax.Core;
using DistSoftmax.Core.Diffusion;
using DistSoftmax.Core.Networks;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Sensitivity;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Data.Sources;

namespace DistSoftmax.Cli;

/// <summary>
/// The one table from the neutral parameter names of <see cref="ParameterException"/> (thrown by Core, Data and
/// Cluster) to this command line's options. A key is a parameter name, or "Scope.Parameter" where one name means
/// different options (SensitivityOptions.Shards is --shards; every other Shards is --workers).
/// </summary>
internal static class ParameterFlags
{
    private static readonly Dictionary<string, string> Flags = new(StringComparer.Ordinal)
    {
        // problems and generated instances (Families, UnitCatalog, GeneratedSpec, DataShardLoader)
        [Families.ProblemParameter] = "--problem",
        [UnitCatalog.UnitParameter] = "--unit",
        [nameof(GeneratedSpec.N)] = "--n",
        [nameof(GeneratedSpec.D)] = "--d",
        [nameof(GeneratedSpec.Sparse)] = "--sparse",
        [nameof(GeneratedSpec.Density)] = "--density",
        [nameof(GeneratedSpec.Planted)] = "--planted",
        [nameof(GeneratedSpec.Noise)] = "--noise",
        [nameof(GeneratedSpec.XScale)] = "--x-scale",
        [GeneratedSpec.GeneratorParameter] = "generator",
        [DataShardLoader.WScalarParameter] = "--w-scalar",

        // solvers (SolverOptions, MatrixSolverChoice)
        [MatrixSolverChoice.SolverParameter] = "--solver",
        [SolverCatalog.GlobalizationParameter] = "--globalization",
        [SolverCatalog.HessianParameter] = "--hessian",
        [nameof(SolverOptions.RelativeTolerance)] = "--tol",
        [nameof(SolverOptions.AbsoluteTolerance)] = "--abs-tol",
        [nameof(SolverOptions.MaxIterations)] = "--max-iter",
        [nameof(SolverOptions.StallIterations)] = "--stall-iter",
        [nameof(SolverOptions.TrustRadius)] = "--trust-radius",
        [nameof(SolverOptions.SamplingEpsilon)] = "--epsilon",
        [nameof(SolverOptions.SamplingDelta)] = "--delta",
        [nameof(SolverOptions.Oversampling)] = "--oversampling",
        [nameof(SolverOptions.SketchRowsPerColumn)] = "--sketch-factor",
        [nameof(SolverOptions.KroneckerRowsPerColumn)] = "--kronecker-rows",
        [nameof(SolverOptions.ProjectionColumns)] = "--projection-columns",
        [nameof(SolverOptions.LbfgsMemory)] = "--lbfgs-memory",
        [nameof(SolverOptions.MaxCgIterations)] = "--max-cg",
        [nameof(SolverOptions.SingleCgProducts)] = "--cg-precision",
        [nameof(SolverOptions.LogLinearStart)] = "--start",

        // shards and workers (ShardLayout, DiffusionOptions, LocalSimulation, SolveSpec)
        [ShardLayout.ShardsParameter] = "--workers",
        [nameof(LocalSimulationOptions.Workers)] = "--workers",
        ["MinWorkers"] = "--min-workers",
        [DistSoftmaxConfig.SeedsParameter] = "--seeds",

        // sensitivity (SensitivityOptions, MatrixSensitivityProblem)
        [nameof(SensitivityOptions) + "." + nameof(SensitivityOptions.Shards)] = "--shards",
        [nameof(SensitivityOptions.Epsilons)] = "--epsilons",
        [nameof(SensitivityOptions.WorstCaseEpsilons)] = "--worst-epsilons",
        [nameof(SensitivityOptions.Draws)] = "--draws",
        [nameof(SensitivityOptions.Parallelism)] = "--parallel",
        [nameof(SensitivityOptions.WorstCaseMaxSteps)] = "--worst-steps",
        [nameof(MatrixSensitivityProblem.Parts)] = "--perturb",

        // networks (Activations, NetworkModel, NetworkShardLoader, TrainingOptions)
        [Activations.ActivationParameter] = "--activation",
        [NetworkModel.WidthParameter] = "--width",
        [NetworkShardLoader.InitParameter] = "--init",
        [nameof(TrainingOptions.LearningRate)] = "--lr",
        [nameof(TrainingOptions.Epochs)] = "--epochs",
        [nameof(TrainingOptions.BatchFraction)] = "--batch-fraction",
        [nameof(TrainingOptions.Lambda)] = "--lambda",

        // diffusion (DiffusionOptions, DiffusionTimes, DenoisingScoreMatching)
        [nameof(DiffusionOptions.DataPoints)] = "--data-points",
        [nameof(DiffusionOptions.HeldOutFraction)] = "--held-out",
        [nameof(DiffusionOptions.TimeMin)] = "--t-min",
        [nameof(DiffusionOptions.TimeMax)] = "--t-max",
        [nameof(DiffusionOptions.EvaluationTimes)] = "--eval-times",
        [nameof(DiffusionOptions.Patience)] = "--patience",
        [nameof(DiffusionOptions.Copies)] = "--copies",
        [nameof(DiffusionOptions.Activations)] = "--activations",
        [nameof(DiffusionOptions.NormalizedLearningRate)] = "--lr",
        [nameof(DiffusionOptions.InitScale)] = "--init-scale",
        [nameof(DiffusionOptions.EvaluationPoints)] = "--eval-points",
        [nameof(DiffusionOptions.Samples)] = "--samples",
        [nameof(DiffusionOptions.SamplerSteps)] = "--sampler-steps",
    };

    /// <summary>Every parameter name the table knows (for tests).</summary>
    public static IReadOnlyCollection<string> Parameters => Flags.Keys;

    /// <summary>The option spelling <paramref name="parameter"/> (in <paramref name="scope"/>, if given); the name itself when unknown.</summary>
    public static string Of(string parameter, string? scope = null) =>
        scope is not null && Flags.TryGetValue(scope + "." + parameter, out var scoped) ? scoped
        : Flags.TryGetValue(parameter, out var flag) ? flag : parameter;

    /// <summary>The one-line message "--option: what is wrong" of a parameter error.</summary>
    public static string Describe(ParameterException e) => $"{Of(e.Parameter, e.Scope)}: {e.Format(p => Of(p))}";
}
