namespace DistSoftmax.Core.Problems;

/// <summary>
/// The elementwise map u of rescaled and hyperbolic regression. Each value's name, u, u′ and u″ (scalar and
/// vectorised) live in <see cref="UnitCatalog"/>, which every part of the program (families, generators, data sources,
/// the command line) asks; a new unit is a member here and its entry there.
/// </summary>
public enum Unit { Exp, Cosh, Sinh, Tanh }
