using DistSoftmax.Core;
using System.Diagnostics;
using System.Numerics.Tensors;
using DistSoftmax.Core.Drivers;
using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Random;
using DistSoftmax.Core.Shards;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Core.Sources;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Sensitivity;

/// <summary>Per ε: the largest and mean ratio over the draws (the largest is the empirical Lipschitz constant).</summary>
public sealed record EpsilonSummary(double Epsilon, double MaxSolutionRatio, double MeanSolutionRatio, double MaxOutputRatio, double MeanOutputRatio);
