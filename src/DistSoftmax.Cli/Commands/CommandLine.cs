using System.CommandLine;
using System.CommandLine.Parsing;

namespace DistSoftmax.Cli.Commands;

/// <summary>The dist-softmax command tree and the one-line rendering of System.CommandLine's parse errors.</summary>
internal static class CommandLine
{
    /// <summary>Every command, by name, with how to build it (in the order `--help` lists them).</summary>
    private static readonly (string Name, Func<CliContext, Command> Build)[] Commands =
    [
        ("solve", ctx => new SolveCommand().Build(ctx)),
        ("generate", GenerateCommand.Build),
        ("worker", WorkerCommand.Build),
        ("train", TrainCommand.Build),
        ("diffusion", DiffusionCommand.Build),
        ("sensitivity", SensitivityCommand.Build),
        ("plot", PlotCommand.Build),
        ("sweep", ctx => new SweepCommand().Build(ctx)),
        ("credentials", CredentialsCommand.Build),
        ("serve", ServeCommand.Build),
        ("status", StatusCommand.Build),
    ];

    /// <summary>
    /// The command tree for <paramref name="args"/>: when the first argument names a command, only that command is
    /// built (building all eleven with their options costs ≈ 15 ms of a 2000×10 solve's start); otherwise — no
    /// command, --help, a mistyped name that needs its "did you mean" — all of them.
    /// </summary>
    public static RootCommand Build(CliContext ctx, IReadOnlyList<string>? args = null)
    {
        var root = new RootCommand(
            "dist-softmax: distributed solvers for softmax-regression problems (normalized softmax, rescaled and hyperbolic " +
            "regression, multiple softmax regression) on row shards held by Akka.NET workers; two-layer softmax networks, " +
            "diffusion score estimation and in-context-learning sensitivity on the same protocol.");
        var named = args is { Count: > 0 } ? Commands.Where(c => c.Name == args[0]).ToArray() : [];
        foreach (var (name, build) in named.Length == 1 ? named : Commands)
        {
            var command = build(ctx);
            if (command.Name != name) throw new InvalidOperationException($"command '{command.Name}' is listed as '{name}'");
            root.Add(command);
        }
        return root;
    }

    /// <summary>The first parse error as "option: problem" (our own option parsers already name the option).</summary>
    public static string DescribeError(ParseResult parse)
    {
        string command = CommandPath(parse.CommandResult);
        if (parse.UnmatchedTokens.Count > 0)
        {
            string t = parse.UnmatchedTokens[0];
            var current = parse.CommandResult.Command;
            if (t.StartsWith('-'))
            {
                // "--sovler=newton" arrives whole: suggest for the name part.
                string name = t.Split('=', 2)[0];
                var names = current.Options.SelectMany(o => o.Aliases.Prepend(o.Name)).Where(n => n.StartsWith("--", StringComparison.Ordinal));
                return $"{t}: unknown option{Suggestions.DidYouMean(name, names)} (see '{command} --help')";
            }
            string commandHint = current.Subcommands.Count > 0
                ? Suggestions.DidYouMean(t, current.Subcommands.Select(c => c.Name))
                : "";
            return $"{t}: unexpected argument{commandHint} (see '{command} --help')";
        }
        var error = parse.Errors[0];
        string message = error.Message;
        if (message.StartsWith("--", StringComparison.Ordinal)) return message;
        var option = error.SymbolResult as OptionResult ?? (error.SymbolResult as ArgumentResult)?.Parent as OptionResult;
        if (option is not null)
            return option.Tokens.Count == 0 && option.Option.Arity.MinimumNumberOfValues > 0
                ? $"{option.Option.Name}: a value is required"
                : $"{option.Option.Name}: {message}";
        if (error.SymbolResult is CommandResult { Command: RootCommand } && parse.Tokens.Count == 0)
            return $"{command}: a command is required ({string.Join(", ", Commands.Select(c => c.Name))}); see '{command} --help'";
        return $"{command}: {message}";
    }

    private static string CommandPath(CommandResult result)
    {
        var names = new List<string>();
        for (SymbolResult? r = result; r is CommandResult c; r = c.Parent)
            names.Insert(0, c.Command is RootCommand ? "dist-softmax" : c.Command.Name);
        return string.Join(' ', names);
    }
}
