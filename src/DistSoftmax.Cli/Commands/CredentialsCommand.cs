using System.CommandLine;
using DistSoftmax.Cluster.Hosting;

namespace DistSoftmax.Cli.Commands;

/// <summary>
/// <c>credentials create --out DIR</c>: a new cluster certificate and key (<see cref="ClusterCredentials"/>) for every
/// node of one cluster, used through <c>--credentials DIR</c> or DISTSOFTMAX_CREDENTIALS.
/// </summary>
internal static class CredentialsCommand
{
    public static Command Build(CliContext ctx)
    {
        var outDir = new Option<string>("--out")
        {
            Description = "Directory to write cluster.pfx and cluster.password into (created; existing credentials are never overwritten).",
            HelpName = "DIR",
            Required = true,
        };
        var create = new Command("create",
            "Create a cluster's credentials: a self-signed certificate with its private key (cluster.pfx) and the password that " +
            "protects it (cluster.password), readable by the owner only. Give the directory to every node (--credentials DIR or " +
            "DISTSOFTMAX_CREDENTIALS); nodes then talk TLS with mutual authentication and accept only peers holding this key.");
        create.Add(outDir);
        create.SetAction(parse =>
        {
            string dir = ctx.Resolve(parse.GetValue(outDir)!);
            if (File.Exists(dir))
                return ErrorReport.Write(ctx, new CliInputException("--out", $"{dir} is a file, not a directory (it is left as it is)"), validating: true);
            try
            {
                var credentials = ClusterCredentials.Create(dir);
                ctx.Out.WriteLine($"dist-softmax credentials: wrote {Path.Combine(dir, ClusterCredentials.CertificateFile)} and " +
                                  $"{Path.Combine(dir, ClusterCredentials.PasswordFile)} (certificate {credentials.Certificate.Thumbprint}, " +
                                  $"valid until {credentials.Certificate.NotAfter:yyyy-MM-dd})");
                ctx.Out.WriteLine($"use them on every node: --credentials {dir}   (or DISTSOFTMAX_CREDENTIALS={dir})");
                return ExitCodes.Ok;
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                return ErrorReport.Write(ctx, new CliInputException("--out", e.Message), validating: true);
            }
        });
        var command = new Command("credentials", "Cluster credentials (TLS with mutual authentication between nodes).");
        command.Add(create);
        return command;
    }

    /// <summary>--credentials DIR (worker, solve).</summary>
    public static Option<string?> CredentialsOption() => OptionFactory.File("--credentials",
        "Cluster credentials directory (from 'credentials create'; default: DISTSOFTMAX_CREDENTIALS): TLS with mutual authentication.", "DIR");

    /// <summary>--insecure (worker, solve).</summary>
    public static Option<bool> InsecureOption() => OptionFactory.Flag("--insecure",
        "Allow listening on a non-loopback address without credentials (anyone reaching the port can command the node).");

    /// <summary>Checks a --credentials value: the directory must hold a usable pair (one-line bad input otherwise).</summary>
    public static string? Check(CliContext ctx, string? credentials)
    {
        if (credentials is null) return null;
        string dir = ctx.Resolve(credentials);
        try { ClusterCredentials.Load(dir); }
        catch (ArgumentException e) { throw new CliInputException("--credentials", e.Message); }
        return dir;
    }
}
