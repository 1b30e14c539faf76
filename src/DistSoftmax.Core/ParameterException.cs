namespace DistSoftmax.Core;

/// <summary>
/// A parameter of Core, Data or Cluster has a value outside what it allows. Carries the parameter's neutral name
/// (the C# property or argument name, e.g. "RelativeTolerance"), the type that declares it when a name alone is
/// ambiguous (e.g. "SensitivityOptions" for its "Shards"), the offending value, the requirement as text ("must be in
/// (0, 1]") and, for a choice, the allowed values. Nothing here knows how a front end spells the parameter: the
/// command line maps <see cref="Parameter"/> (and <see cref="Scope"/>) to its option names.
///
/// A requirement may refer to other parameters as composite-format holes {0}, {1}, … filled from
/// <see cref="Related"/> (e.g. "must be 0 (or absent) for a {0} instance" with Related = ["Planted"]);
/// <see cref="Requirement"/> is that text with the neutral names filled in, <see cref="Format"/> fills in any other
/// spelling. Only a requirement with related parameters is a format (its literal braces doubled); any other is plain text.
/// </summary>
public class ParameterException : ArgumentException
{
    private readonly string _template;

    public ParameterException(string parameter, object? value, string requirement, IReadOnlyList<string>? allowed = null,
        IReadOnlyList<string>? related = null, string? scope = null, Exception? inner = null)
        : base(null, parameter, inner)
    {
        Parameter = parameter;
        Value = value;
        _template = requirement;
        Allowed = allowed ?? [];
        Related = related ?? [];
        Scope = scope;
    }

    /// <summary>The parameter's neutral name (a C# property or argument name).</summary>
    public string Parameter { get; }

    /// <summary>The declaring type's name when <see cref="Parameter"/> alone is ambiguous, else null.</summary>
    public string? Scope { get; }

    /// <summary>The offending value (null when absent or not representable).</summary>
    public object? Value { get; }

    /// <summary>The allowed values of a choice (empty for a range, which <see cref="Requirement"/> states).</summary>
    public IReadOnlyList<string> Allowed { get; }

    /// <summary>Other parameters the requirement refers to, filling its holes {0}, {1}, ….</summary>
    public IReadOnlyList<string> Related { get; }

    /// <summary>What is wrong, with related parameters by their neutral names: "must be in (0, 1]".</summary>
    public string Requirement => Format(name => name);

    /// <summary>"Parameter: requirement", e.g. "RelativeTolerance: must be a finite number ≥ 0".</summary>
    public override string Message => $"{Parameter}: {Requirement}";

    /// <summary>The requirement (and the allowed values, if any) with related parameters spelled by <paramref name="spell"/>.</summary>
    public string Format(Func<string, string> spell)
    {
        string text = Related.Count == 0 ? _template : string.Format(System.Globalization.CultureInfo.InvariantCulture,
            _template, Related.Select(r => (object)spell(r)).ToArray());
        return Allowed.Count == 0 ? text : $"{text} (allowed: {string.Join(", ", Allowed)})";
    }
}
