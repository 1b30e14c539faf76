namespace DistSoftmax.Core.Problems;

/// <summary>
/// Every problem family by name, as the command line, the problem sources and the generators name them:
///   vector problems (unknown x ∈ ℝᵈ, z = Ax):
///     normalized           ½‖⟨exp z,1⟩⁻¹ exp z − b‖²
///     rescaled             ½‖u(z) − ⟨u(z),1⟩ b‖²     (u from <see cref="UnitCatalog"/>)
///     hyperbolic           ½‖u(z) − b‖²
///   matrix problems (unknown X ∈ ℝᵈˣᵈ, row j of M = A1 X A2ᵀ; <see cref="MatrixProblem"/>):
///     multiple-normalized  Σ_j ½‖softmax(z_j) − B_j‖²
///     multiple-rescaled    Σ_j ½‖exp(z_j) − ⟨exp(z_j),1⟩ B_j‖²
/// Every switch over the names throws for an unknown one.
/// </summary>
public static class Families
{
    public const string Normalized = "normalized";
    public const string Rescaled = "rescaled";
    public const string Hyperbolic = "hyperbolic";
    public const string MultipleNormalized = "multiple-normalized";
    public const string MultipleRescaled = "multiple-rescaled";

    /// <summary>The vector problems, in the order the command line lists them.</summary>
    public static IReadOnlyList<string> VectorNames { get; } = [Normalized, Rescaled, Hyperbolic];

    /// <summary>The matrix (multiple softmax) problems.</summary>
    public static IReadOnlyList<string> MatrixNames { get; } = [MultipleNormalized, MultipleRescaled];

    /// <summary>Every problem name, vector problems first.</summary>
    public static IReadOnlyList<string> Names { get; } = [.. VectorNames, .. MatrixNames];

    /// <summary>Whether the problem is a matrix (multiple softmax) problem; throws for an unknown name.</summary>
    public static bool IsMatrix(string problem) => Key(problem) switch
    {
        Normalized or Rescaled or Hyperbolic => false,
        MultipleNormalized or MultipleRescaled => true,
        _ => throw Unknown(problem, Names),
    };

    /// <summary>Whether the problem's loss depends on a unit u (rescaled and hyperbolic regression); throws for an unknown name.</summary>
    public static bool HasUnit(string problem) => Key(problem) switch
    {
        Rescaled or Hyperbolic => true,
        Normalized or MultipleNormalized or MultipleRescaled => false,
        _ => throw Unknown(problem, Names),
    };

    /// <summary>The vector family of that name and unit (the unit is ignored by normalized).</summary>
    public static IVectorFamily Create(string problem, Unit unit = UnitCatalog.Default) => Key(problem) switch
    {
        Normalized => NormalizedSoftmax.Instance,
        Rescaled => new RescaledRegression(unit),
        Hyperbolic => new HyperbolicRegression(unit),
        _ => throw Unknown(problem, VectorNames, "vector problem"),
    };

    /// <summary>
    /// The per-row vector family of a matrix problem: normalized for multiple-normalized, rescaled with u = exp for
    /// multiple-rescaled.
    /// </summary>
    public static IVectorFamily RowFamilyOf(string problem) => Key(problem) switch
    {
        MultipleNormalized => NormalizedSoftmax.Instance,
        MultipleRescaled => new RescaledRegression(UnitCatalog.Default),
        _ => throw Unknown(problem, MatrixNames, "matrix problem"),
    };

    /// <summary>Throws a <see cref="ParameterException"/> unless <paramref name="problem"/> is a known name (of the kind asked for).</summary>
    public static void Check(string problem, bool? matrix = null)
    {
        if (!Names.Contains(problem)) throw Unknown(problem, Names);
        if (matrix is bool m && m != IsMatrix(problem))
            throw new ParameterException(ProblemParameter, problem,
                m ? $"'{problem}' is a vector problem, not a matrix problem" : $"'{problem}' is a matrix problem, not a vector problem");
    }

    /// <summary>The neutral name of the problem parameter in <see cref="ParameterException"/>s.</summary>
    public const string ProblemParameter = "Problem";

    private static string Key(string problem) => problem.ToLowerInvariant();

    private static ParameterException Unknown(string problem, IReadOnlyList<string> allowed, string what = "problem") =>
        new(ProblemParameter, problem, $"unknown {what} '{problem}'", allowed);
}
