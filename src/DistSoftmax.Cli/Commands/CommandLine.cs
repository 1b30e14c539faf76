using System.CommandLine;
using System.CommandLine.Parsing;

namespace DistSoftmax.Cli.Commands;

/// <summary>The dist-softmax command tree and the one-line rendering of System.CommandLine's parse errors.</summary>
internal static class CommandLine
{
    public static RootCommand Build(CliContext ctx)
    {
        var root = new RootCommand(
            "dist-softmax: distributed solvers for softmax-regression problems (normalized softmax, rescaled and hyperbolic " +
            "regression, multiple softmax regression) on row shards held by Akka.NET workers; two-layer softmax networks, " +
            "diffusion score estimation and in-context-learning sensitivity on the same protocol.");
        root.Add(new SolveCommand().Build(ctx));
        root.Add(GenerateCommand.Build(ctx));
        root.Add(WorkerCommand.Build(ctx));
        root.Add(TrainCommand.Build(ctx));
        root.Add(DiffusionCommand.Build(ctx));
        root.Add(SensitivityCommand.Build(ctx));
        root.Add(PlotCommand.Build(ctx));
        root.Add(CredentialsCommand.Build(ctx));
        root.Add(ServeCommand.Build(ctx));
        root.Add(StatusCommand.Build(ctx));
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
            return $"{command}: a command is required (solve, generate, worker, train, diffusion, sensitivity); see '{command} --help'";
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
