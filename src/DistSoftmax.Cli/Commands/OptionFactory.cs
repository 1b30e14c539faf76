using System.CommandLine;
using System.CommandLine.Parsing;
using System.Globalization;

namespace DistSoftmax.Cli.Commands;

/// <summary>
/// Options with the command line's own one-line parse errors ("--tol: 'abc' is not a number") and invariant-culture
/// numbers. Defaults are shown by --help.
/// </summary>
internal static class OptionFactory
{
    public static Option<double> Double(string name, string description, double @default, string helpName = "X") =>
        new(name)
        {
            Description = description,
            HelpName = helpName,
            DefaultValueFactory = _ => @default,
            CustomParser = r => ParseDouble(name, r) ?? @default,
        };

    public static Option<double?> OptionalDouble(string name, string description, string helpName = "X") =>
        new(name) { Description = description, HelpName = helpName, CustomParser = r => ParseDouble(name, r) };

    public static Option<int> Int(string name, string description, int @default, string helpName = "N") =>
        new(name)
        {
            Description = description,
            HelpName = helpName,
            DefaultValueFactory = _ => @default,
            CustomParser = r => ParseInt(name, r) ?? @default,
        };

    public static Option<int?> OptionalInt(string name, string description, string helpName = "N") =>
        new(name) { Description = description, HelpName = helpName, CustomParser = r => ParseInt(name, r) };

    public static Option<ulong> ULong(string name, string description, ulong @default, string helpName = "S") =>
        new(name)
        {
            Description = description,
            HelpName = helpName,
            DefaultValueFactory = _ => @default,
            CustomParser = r =>
            {
                if (r.Tokens.Count == 0) return @default;
                string t = r.Tokens[0].Value;
                if (ulong.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out ulong v)) return v;
                r.AddError(System.Numerics.BigInteger.TryParse(t, NumberStyles.None, CultureInfo.InvariantCulture, out _)
                    ? $"{name}: {t} is out of range (at most {ulong.MaxValue})"
                    : $"{name}: '{t}' is not a non-negative integer");
                return @default;
            },
        };

    /// <summary>A string option restricted to <paramref name="allowed"/> (case-insensitive, stored lower-case).</summary>
    public static Option<string> Choice(string name, string description, string @default, params IReadOnlyList<string> allowed) =>
        new(name)
        {
            Description = description,
            HelpName = string.Join('|', allowed),
            DefaultValueFactory = _ => @default,
            CustomParser = r => ParseChoice(name, r, allowed) ?? @default,
        };

    /// <summary>A choice without a default (null when absent).</summary>
    public static Option<string?> OptionalChoice(string name, string description, params IReadOnlyList<string> allowed) =>
        new(name)
        {
            Description = description,
            HelpName = string.Join('|', allowed),
            CustomParser = r => ParseChoice(name, r, allowed),
        };

    public static Option<string?> File(string name, string description, string helpName = "FILE") =>
        new(name) { Description = description, HelpName = helpName };

    public static Option<string> Text(string name, string description, string @default, string helpName) =>
        new(name) { Description = description, HelpName = helpName, DefaultValueFactory = _ => @default };

    public static Option<bool> Flag(string name, string description) => new(name) { Description = description };

    /// <summary>
    /// A path option (--out-dir, an input file) whose value must not be empty or blank: resolved against the working
    /// directory, "" would silently mean the working directory itself. A parse error, "--out-dir: empty path (…)" (exit 2);
    /// <paramref name="hint"/> says what to give instead.
    /// </summary>
    public static Option<T> NonEmptyPath<T>(this Option<T> option, string hint = "give a directory, e.g. '.' for the working directory")
    {
        option.Validators.Add(r =>
        {
            if (r.Tokens.Count > 0 && string.IsNullOrWhiteSpace(r.Tokens[^1].Value))
                r.AddError($"{option.Name}: empty path ({hint})");
        });
        return option;
    }

    /// <summary>An input file option (<see cref="File"/>) whose value must not be empty or blank.</summary>
    public static Option<string?> InputFile(string name, string description) =>
        File(name, description).NonEmptyPath("give a file");

    /// <summary>Whether the user gave the option (as opposed to its default).</summary>
    public static bool Given(ParseResult parse, Option option) => parse.GetResult(option) is { Implicit: false };

    private static double? ParseDouble(string name, ArgumentResult r)
    {
        if (r.Tokens.Count == 0) return null;
        string t = r.Tokens[0].Value;
        if (double.TryParse(t, NumberStyles.Float, CultureInfo.InvariantCulture, out double v)) return v;
        r.AddError($"{name}: '{t}' is not a number");
        return null;
    }

    private static int? ParseInt(string name, ArgumentResult r)
    {
        if (r.Tokens.Count == 0) return null;
        string t = r.Tokens[0].Value;
        if (int.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int v)) return v;
        r.AddError(System.Numerics.BigInteger.TryParse(t, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out _)
            ? $"{name}: {t} is out of range (at most {int.MaxValue})"
            : $"{name}: '{t}' is not an integer");
        return null;
    }

    private static string? ParseChoice(string name, ArgumentResult r, IReadOnlyList<string> allowed)
    {
        if (r.Tokens.Count == 0) return null;
        string t = r.Tokens[0].Value;
        string lower = t.ToLowerInvariant();
        if (allowed.Contains(lower)) return lower;
        r.AddError($"{name}: unknown value '{t}'{Suggestions.DidYouMean(t, allowed, "'")} (allowed: {string.Join(", ", allowed)})");
        return null;
    }
}
