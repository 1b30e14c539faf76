namespace DistSoftmax.Core.Tests;

/// <summary>The typed parameter error: its parts, its neutral message, and the spelling of related parameters.</summary>
public class ParameterExceptionTests
{
    [Fact]
    public void Carries_name_value_requirement_and_allowed_values()
    {
        var e = new ParameterException("Unit", "tan", "unknown unit 'tan'", ["exp", "tanh"]);
        Assert.IsAssignableFrom<ArgumentException>(e);
        Assert.Equal(("Unit", "Unit", "tan"), (e.Parameter, e.ParamName, (string)e.Value!));
        Assert.Equal("unknown unit 'tan' (allowed: exp, tanh)", e.Requirement);
        Assert.Equal("Unit: unknown unit 'tan' (allowed: exp, tanh)", e.Message);
        Assert.Null(e.Scope);
    }

    [Fact]
    public void Related_parameters_fill_the_holes_in_any_spelling()
    {
        var e = new ParameterException("SigmaMin", 3.0, "must satisfy 0 < {0} < {1}", related: ["SigmaMin", "SigmaMax"], scope: "DiffusionOptions");
        Assert.Equal("must satisfy 0 < SigmaMin < SigmaMax", e.Requirement);
        Assert.Equal("must satisfy 0 < --sigmamin < --sigmamax", e.Format(p => "--" + p.ToLowerInvariant()));
        Assert.Equal("DiffusionOptions", e.Scope);
    }

    [Fact]
    public void A_requirement_without_related_parameters_is_plain_text()
    {
        var e = new ParameterException("Problem", "{x}", "unknown problem '{x}'");
        Assert.Equal("unknown problem '{x}'", e.Format(p => p));
    }
}
