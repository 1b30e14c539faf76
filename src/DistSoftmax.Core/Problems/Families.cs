namespace DistSoftmax.Core.Problems;

/// <summary>Looks up a vector family by problem name and unit, as the command line names them.</summary>
public static class Families
{
    public static IVectorFamily Create(string problem, Unit unit = Unit.Exp) => problem.ToLowerInvariant() switch
    {
        "normalized" => NormalizedSoftmax.Instance,
        "rescaled" => new RescaledRegression(unit),
        "hyperbolic" => new HyperbolicRegression(unit),
        _ => throw new ArgumentException($"unknown vector problem '{problem}' (allowed: normalized, rescaled, hyperbolic)"),
    };
}
