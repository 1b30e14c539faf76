using DistSoftmax.Core.Problems;

namespace DistSoftmax.Core.Sources;

/// <summary>What a coordinator needs to know of a source before any worker loads rows.</summary>
public sealed record ProblemShape(IObjective Objective, long Rows);
