using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Linear;

namespace DistSoftmax.Data;

/// <summary>
/// A vector regression instance: data matrix <paramref name="A"/> (n×d, dense or CSR), target <paramref name="B"/> (length n)
/// and, when known, the x (length d) that generated it.
/// </summary>
public sealed record VectorInstance(IRowMatrix A, double[] B, double[]? XTrue);

/// <summary>
/// A multiple softmax regression instance (MATH.md, "tensor trick"): <paramref name="A1"/>, <paramref name="A2"/> n×d,
/// targets <paramref name="B"/> n×n (row j is the target of row j of A1 X A2ᵀ) and, when known, the generating d×d X.
/// </summary>
public sealed record MatrixInstance(DenseMatrix A1, DenseMatrix A2, DenseMatrix B, DenseMatrix? XTrue);

/// <summary>The scalar function u applied elementwise in the hyperbolic and rescaled families: exp, cosh or sinh.</summary>
