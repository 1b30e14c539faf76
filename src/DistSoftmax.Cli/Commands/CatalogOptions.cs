using System.CommandLine;
using DistSoftmax.Core.Problems;

namespace DistSoftmax.Cli.Commands;

/// <summary>
/// The options whose choices come from Core's catalogs (<see cref="Families"/>, <see cref="UnitCatalog"/>), declared
/// once for every command that takes them, and the check that a unit is only given to a family that has one.
/// </summary>
internal static class CatalogOptions
{
    public const string ProblemOption = "--problem";
    public const string UnitOption = "--unit";

    /// <summary>--problem: every family of <see cref="Families.Names"/>, default normalized.</summary>
    public static Option<string> Problem(string description = "The problem family.") =>
        OptionFactory.Choice(ProblemOption, description, Families.Normalized, Families.Names);

    /// <summary>--unit: every unit of <see cref="UnitCatalog.Names"/>, default exp.</summary>
    public static Option<string> Unit() =>
        OptionFactory.Choice(UnitOption, $"The function u of the {Listed(UnitFamilies, "and")} families.",
            UnitCatalog.Default.Name(), UnitCatalog.Names);

    /// <summary>
    /// The unit of <paramref name="problem"/>: <paramref name="unit"/> parsed; a <see cref="CliInputException"/> when a unit
    /// other than the default was given to a family without one.
    /// </summary>
    public static Unit UnitFor(string problem, string unit, bool given)
    {
        if (given && !Families.HasUnit(problem) && unit != UnitCatalog.Default.Name())
            throw new CliInputException(UnitOption,
                $"{ProblemOption} {problem} has no unit (only {Listed(UnitFamilies, "and")} use {Listed(UnitCatalog.Names, "or")})");
        return UnitCatalog.Parse(unit);
    }

    private static IReadOnlyList<string> UnitFamilies { get; } = Families.Names.Where(Families.HasUnit).ToArray();

    /// <summary>"a, b or c" (<paramref name="conjunction"/> before the last).</summary>
    private static string Listed(IReadOnlyList<string> items, string conjunction) =>
        items.Count <= 1 ? string.Join("", items) : $"{string.Join(", ", items.Take(items.Count - 1))} {conjunction} {items[^1]}";
}
