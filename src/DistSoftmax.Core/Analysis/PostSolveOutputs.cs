namespace DistSoftmax.Core.Analysis;

/// <summary>Which arrays a post-solve analysis computes besides the regime (the solve command's --save).</summary>
[Flags]
public enum PostSolveOutputs
{
    None = 0,
    /// <summary>The fitted values and nothing else of the row pass.</summary>
    Fitted = 1,
    /// <summary>fitted − b (the loss's residual).</summary>
    Residual = 2,
    /// <summary>∇L(x*).</summary>
    Gradient = 4,
    /// <summary>∇²L(x*) and its eigenvalues.</summary>
    Hessian = 8,
}
