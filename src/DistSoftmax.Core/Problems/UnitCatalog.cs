using System.Numerics.Tensors;
using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Problems;

/// <summary>
/// Every unit u (<see cref="Unit"/>) with its name and its functions, for one z or a whole row:
///   exp   u = eᶻ,     u′ = eᶻ,              u″ = eᶻ
///   cosh  u = cosh z, u′ = sinh z,          u″ = cosh z
///   sinh  u = sinh z, u′ = cosh z,          u″ = sinh z
///   tanh  u = tanh z, u′ = 1 − tanh² z,     u″ = −2 tanh z (1 − tanh² z)
/// Each switch below names every unit and throws for any other value, so a unit without an entry fails loudly
/// instead of computing another unit's function. Properties the program needs (u(0) = 0, u′(0) = 0) are computed
/// from the functions, not listed per unit.
/// </summary>
public static class UnitCatalog
{
    /// <summary>Every unit, in declaration order (exp first: the default).</summary>
    public static IReadOnlyList<Unit> All { get; } = Enum.GetValues<Unit>();

    /// <summary>The names of <see cref="All"/>, as the command line and problem sources spell them.</summary>
    public static IReadOnlyList<string> Names { get; } = All.Select(Name).ToArray();

    /// <summary>The neutral name of the unit parameter in <see cref="ParameterException"/>s.</summary>
    public const string UnitParameter = "Unit";

    /// <summary>The unit every problem without one (normalized, the matrix families) behaves as.</summary>
    public const Unit Default = Unit.Exp;

    /// <summary>The lower-case name: "exp", "cosh", "sinh", "tanh".</summary>
    public static string Name(this Unit unit) => unit switch
    {
        Unit.Exp => "exp",
        Unit.Cosh => "cosh",
        Unit.Sinh => "sinh",
        Unit.Tanh => "tanh",
        _ => throw Unknown(unit),
    };

    /// <summary>The unit of that name (case-insensitive, surrounding blanks ignored); a <see cref="ParameterException"/> otherwise.</summary>
    public static Unit Parse(string name)
    {
        string key = name.Trim().ToLowerInvariant();
        foreach (var unit in All)
            if (Name(unit) == key) return unit;
        throw new ParameterException(UnitParameter, name, $"unknown unit '{name}'", Names);
    }

    /// <summary>u(z), u′(z), u″(z) for one z.</summary>
    public static (double U, double D1, double D2) Evaluate(Unit unit, double z)
    {
        switch (unit)
        {
            case Unit.Exp: { double e = Math.Exp(z); return (e, e, e); }
            case Unit.Cosh: { double c = Math.Cosh(z), s = Math.Sinh(z); return (c, s, c); }
            case Unit.Sinh: { double c = Math.Cosh(z), s = Math.Sinh(z); return (s, c, s); }
            case Unit.Tanh:
            {
                // u′ = 1 − tanh² z = sech² z, computed as 1/cosh² z: no cancellation when |tanh z| is near 1
                // (cosh overflowing to ∞ gives u′ = u″ = 0, their limits).
                double t = Math.Tanh(z), sech = 1.0 / Math.Cosh(z), d1 = sech * sech;
                return (t, d1, -2.0 * t * d1);
            }
            default: throw Unknown(unit);
        }
    }

    /// <summary>u = u(z) elementwise over a row (vectorised); <paramref name="u"/> may alias <paramref name="z"/>.</summary>
    public static void Apply(Unit unit, ReadOnlySpan<double> z, Span<double> u)
    {
        switch (unit)
        {
            case Unit.Exp: VectorExp.Exp(z, u); break;
            case Unit.Cosh: TensorPrimitives.Cosh(z, u); break;
            case Unit.Sinh: TensorPrimitives.Sinh(z, u); break;
            case Unit.Tanh: TensorPrimitives.Tanh(z, u); break;
            default: throw Unknown(unit);
        }
    }

    /// <summary>Whether u(0) = 0 (sinh, tanh): then a rescaled loss ‖u − ⟨u,1⟩b‖² is 0 at x = 0, a trivial minimiser.</summary>
    public static bool VanishesAtZero(Unit unit) => Evaluate(unit, 0.0).U == 0.0;

    /// <summary>Whether u′(0) = 0 (cosh, even): then every family's gradient vanishes at x = 0, a stationary point.</summary>
    public static bool IsStationaryAtZero(Unit unit) => Evaluate(unit, 0.0).D1 == 0.0;

    private static ArgumentOutOfRangeException Unknown(Unit unit) =>
        new(nameof(unit), unit, $"unit {(int)unit} has no entry in {nameof(UnitCatalog)}");
}
