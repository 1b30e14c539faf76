using DistSoftmax.Core.Problems;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// Every unit of the catalog: names round-trip, u′ and u″ match central differences of u and u′, the vectorised map
/// matches the scalar one, and an unknown value throws instead of computing another unit's function.
/// </summary>
public class UnitCatalogTests
{
    /// <summary>Points of z where the units are checked (u of order 1 to e³).</summary>
    private static readonly double[] Points = [-3.0, -1.2, -0.3, 0.0, 0.4, 1.1, 2.5];

    /// <summary>Step of the central differences (error O(h²) ≈ 1e-10 relative).</summary>
    private const double Step = 1e-5;

    public static TheoryData<Unit> Units() => new(UnitCatalog.All);

    [Theory]
    [MemberData(nameof(Units))]
    public void Names_round_trip_and_are_listed(Unit unit)
    {
        Assert.Equal(unit, UnitCatalog.Parse(unit.Name()));
        Assert.Equal(unit, UnitCatalog.Parse(" " + unit.Name().ToUpperInvariant() + " "));
        Assert.Contains(unit.Name(), UnitCatalog.Names);
    }

    [Theory]
    [MemberData(nameof(Units))]
    public void Derivatives_match_central_differences(Unit unit)
    {
        foreach (double z in Points)
        {
            var (u, d1, d2) = UnitCatalog.Evaluate(unit, z);
            var plus = UnitCatalog.Evaluate(unit, z + Step);
            var minus = UnitCatalog.Evaluate(unit, z - Step);
            double fd1 = (plus.U - minus.U) / (2 * Step), fd2 = (plus.D1 - minus.D1) / (2 * Step);
            Assert.True(Math.Abs(fd1 - d1) <= 1e-8 * Math.Max(1, Math.Abs(d1)), $"{unit.Name()}′({z}) = {d1}, difference {fd1}");
            Assert.True(Math.Abs(fd2 - d2) <= 1e-8 * Math.Max(1, Math.Abs(d2)), $"{unit.Name()}″({z}) = {d2}, difference {fd2}");
            Assert.True(double.IsFinite(u));
        }
    }

    [Theory]
    [MemberData(nameof(Units))]
    public void Vectorised_map_matches_the_scalar_one(Unit unit)
    {
        var u = new double[Points.Length];
        UnitCatalog.Apply(unit, Points, u);
        for (int i = 0; i < Points.Length; i++)
        {
            double expected = UnitCatalog.Evaluate(unit, Points[i]).U;
            Assert.True(Math.Abs(u[i] - expected) <= 4e-16 * Math.Max(1, Math.Abs(expected)), $"{unit.Name()}({Points[i]}): {u[i]} vs {expected}");
        }
    }

    [Fact]
    public void Tanh_has_the_stated_derivatives_and_properties()
    {
        foreach (double z in Points)
        {
            var (u, d1, d2) = UnitCatalog.Evaluate(Unit.Tanh, z);
            double t = Math.Tanh(z);
            Assert.Equal(t, u);
            Assert.Equal(1 - t * t, d1, 1e-15);
            Assert.Equal(-2 * t * (1 - t * t), d2, 1e-15);
        }
        // Saturated: the derivatives tend to 0, never NaN.
        Assert.Equal((1.0, 0.0, -0.0), UnitCatalog.Evaluate(Unit.Tanh, 800));
        Assert.True(UnitCatalog.VanishesAtZero(Unit.Tanh));
        Assert.False(UnitCatalog.IsStationaryAtZero(Unit.Tanh));
        Assert.True(UnitCatalog.IsStationaryAtZero(Unit.Cosh));
        Assert.True(UnitCatalog.VanishesAtZero(Unit.Sinh));
        Assert.False(UnitCatalog.VanishesAtZero(Unit.Exp));
    }

    [Fact]
    public void Unknown_units_throw()
    {
        var unknown = (Unit)UnitCatalog.All.Count;
        Assert.Throws<ArgumentOutOfRangeException>(() => UnitCatalog.Evaluate(unknown, 0.5));
        Assert.Throws<ArgumentOutOfRangeException>(() => UnitCatalog.Apply(unknown, Points, new double[Points.Length]));
        Assert.Throws<ArgumentOutOfRangeException>(() => unknown.Name());
        var e = Assert.Throws<ParameterException>(() => UnitCatalog.Parse("tan"));
        Assert.Equal((UnitCatalog.UnitParameter, "tan"), (e.Parameter, (string)e.Value!));
        Assert.Equal(UnitCatalog.Names, e.Allowed);
        Assert.Equal("unknown unit 'tan' (allowed: exp, cosh, sinh, tanh)", e.Format(p => p));
    }

    [Fact]
    public void Families_are_exhaustive_over_their_names()
    {
        foreach (string name in Families.Names)
        {
            bool matrix = Families.IsMatrix(name);
            Assert.Equal(matrix, Families.MatrixNames.Contains(name));
            if (matrix) Assert.NotNull(Families.RowFamilyOf(name));
            else Assert.StartsWith(name, Families.Create(name, Unit.Tanh).Name);
            _ = Families.HasUnit(name);
        }
        Assert.Equal(Families.ProblemParameter, Assert.Throws<ParameterException>(() => Families.HasUnit("softmax")).Parameter);
        Assert.Throws<ParameterException>(() => Families.IsMatrix("multiple-hyperbolic"));
        Assert.Throws<ParameterException>(() => Families.Create("multiple-normalized"));
        Assert.Equal("rescaled-tanh", Families.Create(Families.Rescaled, Unit.Tanh).Name);
        Assert.Equal("hyperbolic-tanh", Families.Create(Families.Hyperbolic, Unit.Tanh).Name);
    }
}
