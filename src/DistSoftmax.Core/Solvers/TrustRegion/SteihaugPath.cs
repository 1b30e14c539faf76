using DistSoftmax.Core;
using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Solvers.TrustRegion;

/// <summary>
/// The Steihaug–Toint truncated-CG path of one iterate (Nocedal &amp; Wright, Algorithm 7.2; with a preconditioner M,
/// Conn, Gould &amp; Toint, Algorithm 7.5.1): CG on H p = −g from p₀ = 0, whose iterates grow in the region's norm
/// (‖p‖, or ‖p‖_M = √(pᵀMp) when CG is preconditioned by M⁻¹), stopped at the first of
///   • ‖r‖ ≤ tolerance (an interior inexact Newton step),
///   • a direction of non-positive curvature dᵀHd ≤ 0 (follow it to the boundary),
///   • an iterate that leaves the ball of the radius the path was built for (stop on the boundary).
/// The path is recorded segment by segment (start z_j, direction d_j, CG step α_j, model value m(z_j), rᵀd, dᵀHd,
/// and z_jᵀz_j, z_jᵀd_j, d_jᵀd_j in the region's inner product), so that for any smaller radius the step is found by
/// walking the same path with no more Hessian-vector products: m(z_j + τ d_j) = m(z_j) + τ r_jᵀd_j + ½τ² d_jᵀHd_j
/// and ‖z_j + τ d_j‖² = z_jᵀz_j + 2τ z_jᵀd_j + τ² d_jᵀd_j.
/// </summary>
public sealed class SteihaugPath : ITrustRegionModel
{
    private readonly List<Segment> _segments = new();
    private double[]? _interiorEnd;
    private double _interiorModel;
    private double _interiorNorm;

    /// <param name="Start">z_j (d values).</param>
    /// <param name="Direction">d_j.</param>
    /// <param name="Step">α_j, or +∞ along a direction of non-positive curvature.</param>
    /// <param name="Model">m(z_j).</param>
    /// <param name="Slope">r_jᵀd_j, the model's derivative along d_j at z_j.</param>
    /// <param name="Curvature">d_jᵀHd_j.</param>
    /// <param name="Norms">z_jᵀz_j, z_jᵀd_j and d_jᵀd_j in the region's inner product.</param>
    private sealed record Segment(double[] Start, double[] Direction, double Step, double Model, double Slope, double Curvature,
        RegionProducts Norms);

    /// <summary>The region's inner products of a segment's start z and direction d: zᵀz, zᵀd, dᵀd (Euclidean, or with M).</summary>
    public readonly record struct RegionProducts(double StartStart, double StartDirection, double DirectionDirection)
    {
        /// <summary>The Euclidean products of z and d.</summary>
        public static RegionProducts Euclidean(double[] z, double[] d) =>
            new(SpanMath.Dot(z, z), SpanMath.Dot(z, d), SpanMath.Dot(d, d));

        /// <summary>‖z + τd‖ in the region's norm.</summary>
        public double NormAt(double tau) => Math.Sqrt(Math.Max(StartStart + 2 * tau * StartDirection + tau * tau * DirectionDirection, 0));
    }

    /// <param name="builtRadius">The radius the path is built for (in the region's norm).</param>
    /// <param name="rowsSampled">Rows the preconditioner's sample kept (0 without one).</param>
    public SteihaugPath(double builtRadius, long rowsSampled = 0) => (BuiltRadius, RowsSampled) = (builtRadius, rowsSampled);

    /// <summary>The radius the path was built for; <see cref="Solve"/> takes radii up to it.</summary>
    public double BuiltRadius { get; }

    public long RowsSampled { get; }

    /// <summary>One Hessian-vector product per recorded segment.</summary>
    public int CgIterations => _segments.Count;

    /// <summary>Most negative curvature quotient dᵀHd/dᵀd met on the path (0 when none).</summary>
    public double NegativeCurvature { get; private set; }

    /// <summary>
    /// Records CG step j; <paramref name="step"/> = +∞ for a direction of non-positive curvature (the path ends).
    /// <paramref name="norms"/>: the region's products of start and direction (null: Euclidean, computed here).
    /// </summary>
    public void Add(double[] start, double[] direction, double step, double model, double slope, double curvature,
        RegionProducts? norms = null)
    {
        _segments.Add(new Segment((double[])start.Clone(), (double[])direction.Clone(), step, model, slope, curvature,
            norms ?? RegionProducts.Euclidean(start, direction)));
        if (curvature <= 0)
            NegativeCurvature = Math.Min(NegativeCurvature, curvature / Math.Max(SpanMath.Dot(direction, direction), NumericLimits.Tiny));
    }

    /// <summary>
    /// Ends the path inside the ball at <paramref name="end"/>, where the model is <paramref name="model"/> and the
    /// region's norm is <paramref name="norm"/> (null: Euclidean).
    /// </summary>
    public void EndInside(double[] end, double model, double? norm = null)
    {
        _interiorEnd = (double[])end.Clone();
        _interiorModel = model;
        _interiorNorm = norm ?? SpanMath.Norm(end);
    }

    public double Radius => BuiltRadius;

    public TrustRegionStep Solve(double radius)
    {
        if (radius > BuiltRadius * (1 + 1e-12))
            throw new ArgumentOutOfRangeException(nameof(radius), $"the path was built for radius {BuiltRadius}, not {radius}");
        foreach (var s in _segments)
        {
            var end = new double[s.Start.Length];
            if (double.IsFinite(s.Step) && s.Norms.NormAt(s.Step) < radius) continue;
            double tau = ToBoundary(s.Norms, radius);
            SpanMath.MultiplyAdd(s.Direction, tau, s.Start, end);
            double model = s.Model + tau * s.Slope + 0.5 * tau * tau * s.Curvature;
            return new TrustRegionStep(end, -model, true, NegativeCurvature) { RegionNorm = radius };
        }
        if (_interiorEnd is null)
        {
            // The path stopped before leaving the ball (CG iteration limit): its last point.
            if (_segments.Count == 0) return new TrustRegionStep(new double[0], 0, false, NegativeCurvature);
            var last = _segments[^1];
            var end = new double[last.Start.Length];
            SpanMath.MultiplyAdd(last.Direction, last.Step, last.Start, end);
            double model = last.Model + last.Step * last.Slope + 0.5 * last.Step * last.Step * last.Curvature;
            return new TrustRegionStep(end, -model, false, NegativeCurvature) { RegionNorm = last.Norms.NormAt(last.Step) };
        }
        return new TrustRegionStep((double[])_interiorEnd, -_interiorModel, false, NegativeCurvature) { RegionNorm = _interiorNorm };
    }

    /// <summary>The τ ≥ 0 with ‖z + τ d‖ = Δ (z inside the ball): the positive root of ‖d‖²τ² + 2zᵀd τ + ‖z‖² − Δ² = 0.</summary>
    public static double ToBoundary(double[] z, double[] d, double radius) => ToBoundary(RegionProducts.Euclidean(z, d), radius);

    /// <summary>The same root from the region's products of z and d.</summary>
    public static double ToBoundary(RegionProducts norms, double radius)
    {
        double dd = norms.DirectionDirection, zd = norms.StartDirection;
        double c = norms.StartStart - radius * radius;         // ≤ 0 inside the ball
        double disc = Math.Sqrt(Math.Max(zd * zd - dd * c, 0));
        // Stable form of (−zd + disc)/dd.
        return zd >= 0 ? -c / (zd + disc) : (disc - zd) / dd;
    }
}
