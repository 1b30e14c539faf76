namespace DistSoftmax.Core.Solvers.Curvature;

/// <summary>An explicit model Hessian: a full symmetric d×d row-major matrix, and how many rows were sampled to build it.</summary>
public sealed record DenseModel(double[] Hessian, long RowsSampled);
