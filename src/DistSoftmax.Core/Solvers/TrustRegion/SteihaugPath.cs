using DistSoftmax.Core;
using System.Numerics.Tensors;

namespace DistSoftmax.Core.Solvers.TrustRegion;

/// <summary>
/// The Steihaug–Toint truncated-CG path of one iterate (Nocedal &amp; Wright, Algorithm 7.2): CG on H p = −g from
/// p₀ = 0, whose iterates grow in norm, stopped at the first of
///   • ‖r‖ ≤ tolerance (an interior inexact Newton step),
///   • a direction of non-positive curvature dᵀHd ≤ 0 (follow it to the boundary),
///   • an iterate that leaves the ball of the radius the path was built for (stop on the boundary).
/// The path is recorded segment by segment (start z_j, direction d_j, CG step α_j, model value m(z_j), rᵀd and
/// dᵀHd), so that for any smaller radius the step is found by walking the same path with no more Hessian-vector
/// products: m(z_j + τ d_j) = m(z_j) + τ r_jᵀd_j + ½τ² d_jᵀHd_j.
/// </summary>
public sealed class SteihaugPath : ITrustRegionModel
{
    private readonly List<Segment> _segments = new();
    private double[]? _interiorEnd;
    private double _interiorModel;

    /// <param name="Start">z_j (d values).</param>
    /// <param name="Direction">d_j.</param>
    /// <param name="Step">α_j, or +∞ along a direction of non-positive curvature.</param>
    /// <param name="Model">m(z_j).</param>
    /// <param name="Slope">r_jᵀd_j, the model's derivative along d_j at z_j.</param>
    /// <param name="Curvature">d_jᵀHd_j.</param>
    private sealed record Segment(double[] Start, double[] Direction, double Step, double Model, double Slope, double Curvature);

    public SteihaugPath(double builtRadius) => BuiltRadius = builtRadius;

    /// <summary>The radius the path was built for; <see cref="Solve"/> takes radii up to it.</summary>
    public double BuiltRadius { get; }

    public long RowsSampled => 0;

    /// <summary>One Hessian-vector product per recorded segment.</summary>
    public int CgIterations => _segments.Count;

    /// <summary>Most negative curvature quotient dᵀHd/dᵀd met on the path (0 when none).</summary>
    public double NegativeCurvature { get; private set; }

    /// <summary>Records CG step j; <paramref name="step"/> = +∞ for a direction of non-positive curvature (the path ends).</summary>
    public void Add(double[] start, double[] direction, double step, double model, double slope, double curvature)
    {
        _segments.Add(new Segment((double[])start.Clone(), (double[])direction.Clone(), step, model, slope, curvature));
        if (curvature <= 0)
            NegativeCurvature = Math.Min(NegativeCurvature, curvature / Math.Max(TensorPrimitives.Dot<double>(direction, direction), NumericLimits.Tiny));
    }

    /// <summary>Ends the path inside the ball at <paramref name="end"/>, where the model is <paramref name="model"/>.</summary>
    public void EndInside(double[] end, double model)
    {
        _interiorEnd = (double[])end.Clone();
        _interiorModel = model;
    }

    public TrustRegionStep Solve(double radius)
    {
        if (radius > BuiltRadius * (1 + 1e-12))
            throw new ArgumentOutOfRangeException(nameof(radius), $"the path was built for radius {BuiltRadius}, not {radius}");
        foreach (var s in _segments)
        {
            var end = new double[s.Start.Length];
            if (double.IsFinite(s.Step))
            {
                TensorPrimitives.MultiplyAdd(s.Direction, s.Step, s.Start, end);
                if (TensorPrimitives.Norm<double>(end) < radius) continue;
            }
            double tau = ToBoundary(s.Start, s.Direction, radius);
            TensorPrimitives.MultiplyAdd(s.Direction, tau, s.Start, end);
            double model = s.Model + tau * s.Slope + 0.5 * tau * tau * s.Curvature;
            return new TrustRegionStep(end, -model, true, NegativeCurvature);
        }
        if (_interiorEnd is null)
        {
            // The path stopped before leaving the ball (CG iteration limit): its last point.
            if (_segments.Count == 0) return new TrustRegionStep(new double[0], 0, false, NegativeCurvature);
            var last = _segments[^1];
            var end = new double[last.Start.Length];
            TensorPrimitives.MultiplyAdd(last.Direction, last.Step, last.Start, end);
            double model = last.Model + last.Step * last.Slope + 0.5 * last.Step * last.Step * last.Curvature;
            return new TrustRegionStep(end, -model, false, NegativeCurvature);
        }
        return new TrustRegionStep((double[])_interiorEnd, -_interiorModel, false, NegativeCurvature);
    }

    /// <summary>The τ ≥ 0 with ‖z + τ d‖ = Δ (z inside the ball): the positive root of ‖d‖²τ² + 2zᵀd τ + ‖z‖² − Δ² = 0.</summary>
    public static double ToBoundary(double[] z, double[] d, double radius)
    {
        double dd = TensorPrimitives.Dot<double>(d, d);
        double zd = TensorPrimitives.Dot<double>(z, d);
        double zz = TensorPrimitives.Dot<double>(z, z);
        double c = zz - radius * radius;                       // ≤ 0 inside the ball
        double disc = Math.Sqrt(Math.Max(zd * zd - dd * c, 0));
        // Stable form of (−zd + disc)/dd.
        return zd >= 0 ? -c / (zd + disc) : (disc - zd) / dd;
    }
}
