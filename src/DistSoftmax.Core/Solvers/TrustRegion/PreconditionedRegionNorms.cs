namespace DistSoftmax.Core.Solvers.TrustRegion;

/// <summary>
/// The M-norm products of a preconditioned CG's iterate z_j and direction d_j (z_jᵀMz_j, z_jᵀMd_j, d_jᵀMd_j) without a
/// product with M, for the Steihaug–Toint path in the M-norm (Conn, Gould &amp; Toint, §7.5.1). With y = M⁻¹r,
/// z_0 = 0, d_0 = −y_0, z_{j+1} = z_j + α_j d_j and d_{j+1} = −y_{j+1} + β_j d_j, CG's orthogonality r_{j+1} ⟂ d_0 … d_j
/// gives
///   z_{j+1}ᵀMz_{j+1} = z_jᵀMz_j + 2α_j z_jᵀMd_j + α_j² d_jᵀMd_j,
///   z_{j+1}ᵀMd_{j+1} = β_j (z_jᵀMd_j + α_j d_jᵀMd_j)          (z_{j+1}ᵀM y_{j+1} = z_{j+1}ᵀr_{j+1} = 0),
///   d_{j+1}ᵀMd_{j+1} = r_{j+1}ᵀy_{j+1} + β_j² d_jᵀMd_j          (d_jᵀM y_{j+1} = d_jᵀr_{j+1} = 0).
/// </summary>
internal sealed class PreconditionedRegionNorms
{
    private double _zz, _zd, _dd;

    /// <param name="firstResidualProduct">r_0ᵀy_0 = gᵀM⁻¹g, which is d_0ᵀMd_0.</param>
    public PreconditionedRegionNorms(double firstResidualProduct) => _dd = firstResidualProduct;

    /// <summary>The products of the current z_j and d_j.</summary>
    public SteihaugPath.RegionProducts Current => new(_zz, _zd, _dd);

    /// <summary>After CG step j: z_{j+1} = z_j + αd_j, d_{j+1} = −y_{j+1} + βd_j, r_{j+1}ᵀy_{j+1} = <paramref name="residualProduct"/>.</summary>
    public void Advance(double alpha, double beta, double residualProduct)
    {
        _zz = Math.Max(_zz + 2 * alpha * _zd + alpha * alpha * _dd, 0);
        _zd = beta * (_zd + alpha * _dd);
        _dd = residualProduct + beta * beta * _dd;
    }
}
