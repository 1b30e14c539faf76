namespace DistSoftmax.Core;

/// <summary>Named floating-point limits shared by the solvers and kernels.</summary>
public static class NumericLimits
{
    /// <summary>Floor of a norm, curvature or scale that is divided by: keeps a zero denominator finite.</summary>
    public const double Tiny = 1e-300;

    /// <summary>Unit roundoff of double precision, 2⁻⁵².</summary>
    public const double MachineEpsilon = 2.220446049250313e-16;
}
