using DistSoftmax.Core.Solvers.Curvature;

namespace DistSoftmax.Core.Solvers;

/// <summary>
/// Every solver by name. Newton-type solvers come in both globalisations; <see cref="GlobalizationMode.Auto"/> takes
/// <see cref="DefaultGlobalization"/>, chosen by measurement (README, "Globalisation").
/// </summary>
public static class SolverCatalog
{
    public static readonly string[] Names = { "approx-newton", "newton", "newton-cg", "lbfgs", "gd" };

    public static readonly string[] GlobalizationNames = { "auto", "line-search", "trust-region" };

    /// <summary>The curvature models of Newton-type solvers by name, in the order of <see cref="HessianMode"/>.</summary>
    public static readonly string[] HessianNames = { "auto", "exact", "gauss-newton" };

    /// <summary>The neutral names of the globalisation and curvature parameters in <see cref="ParameterException"/>s.</summary>
    public const string GlobalizationParameter = nameof(SolverOptions.Globalization), HessianParameter = nameof(SolverOptions.Hessian);

    /// <summary>The globalisation of that name (<see cref="GlobalizationNames"/>); a <see cref="ParameterException"/> otherwise.</summary>
    public static GlobalizationMode ParseGlobalization(string name) => name.ToLowerInvariant() switch
    {
        "auto" => GlobalizationMode.Auto,
        "line-search" => GlobalizationMode.LineSearch,
        "trust-region" => GlobalizationMode.TrustRegion,
        _ => throw new ParameterException(GlobalizationParameter, name, $"unknown globalization '{name}'", GlobalizationNames),
    };

    /// <summary>The curvature model of that name (<see cref="HessianNames"/>); a <see cref="ParameterException"/> otherwise.</summary>
    public static HessianMode ParseHessian(string name) => name.ToLowerInvariant() switch
    {
        "auto" => HessianMode.Auto,
        "exact" => HessianMode.Exact,
        "gauss-newton" => HessianMode.GaussNewton,
        _ => throw new ParameterException(HessianParameter, name, $"unknown Hessian '{name}'", HessianNames),
    };

    /// <summary>Whether the solver of that name is Newton-type (has a curvature and both globalisations).</summary>
    public static bool IsNewtonType(string name) => name.ToLowerInvariant() is "approx-newton" or "newton" or "newton-cg";

    /// <summary>
    /// The globalisation a solver uses when none is asked for: the line search for every solver. Measured over ten
    /// instance/family/unit combinations (n = 20000, d = 50; README, "Globalisation"), both globalisations converge on
    /// every one, and the line search needs fewer passes over A in total: approx-newton 259 against 269, newton 164
    /// against 198, newton-cg 1413 against 1542 (the trust region wins on some instances, loses more on sparse ones).
    /// </summary>
    public static GlobalizationMode DefaultGlobalization(string name) => GlobalizationMode.LineSearch;

    /// <summary>The solver of that name. Solvers keep no per-solve state (the run does), so an instance can be shared.</summary>
    public static Solver Create(string name, GlobalizationMode globalization = GlobalizationMode.Auto)
    {
        string key = name.ToLowerInvariant();
        if (!Names.Contains(key)) throw new ArgumentException($"unknown solver '{name}' (allowed: {string.Join(", ", Names)})");
        var mode = globalization == GlobalizationMode.Auto ? DefaultGlobalization(key) : globalization;
        if (mode == GlobalizationMode.TrustRegion && !IsNewtonType(key))
            throw new ArgumentException($"the trust region is for Newton-type solvers (approx-newton, newton, newton-cg), not '{name}'");
        return (key, mode) switch
        {
            ("approx-newton", GlobalizationMode.LineSearch) => new ApproximateNewton(),
            ("approx-newton", GlobalizationMode.TrustRegion) => new ApproximateNewton(GlobalizationMode.TrustRegion),
            ("newton", GlobalizationMode.LineSearch) => new Newton(),
            ("newton", GlobalizationMode.TrustRegion) => new TrustRegionNewton(ExactGramCurvature.Instance),
            ("newton-cg", GlobalizationMode.LineSearch) => new NewtonCg(),
            ("newton-cg", GlobalizationMode.TrustRegion) => new TrustRegionNewtonCg(),
            ("lbfgs", _) => new Lbfgs(),
            ("gd", _) => new GradientDescent(),
            _ => throw new ArgumentException($"unknown solver '{name}' (allowed: {string.Join(", ", Names)})"),
        };
    }

    /// <summary>The solver for a name and the options' <see cref="SolverOptions.Globalization"/>.</summary>
    public static Solver Create(string name, SolverOptions options) => Create(name, options.Globalization);
}
