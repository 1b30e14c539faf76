using DistSoftmax.Core;
using System.Globalization;
using System.Text;
using Akka.Actor;
using Akka.Configuration;

namespace DistSoftmax.Cluster.Hosting;

/// <summary>
/// Where a cluster node listens and whom it joins. Null members fall back to the environment
/// (<see cref="FromEnvironment"/>), then to hocon/cluster.conf.
/// </summary>
public sealed record NodeOptions
{
    /// <summary>Bind address (DISTSOFTMAX_HOST; cluster.conf: 127.0.0.1). Use 0.0.0.0 in containers with a public host.</summary>
    public string? Host { get; init; }
    /// <summary>Bind port (DISTSOFTMAX_PORT; cluster.conf: 4053; 0 = any free port).</summary>
    public int? Port { get; init; }
    /// <summary>Address other nodes use to reach this one (DISTSOFTMAX_PUBLIC_HOST), e.g. the container's service name.</summary>
    public string? PublicHost { get; init; }
    /// <summary>Advertised port when it differs from the bound one (DISTSOFTMAX_PUBLIC_PORT).</summary>
    public int? PublicPort { get; init; }
    /// <summary>Seed nodes as host:port or akka.tcp://distsoftmax@host:port (DISTSOFTMAX_SEEDS, comma-separated).
    /// Empty: the node joins itself (it founds the cluster).</summary>
    public IReadOnlyList<string>? Seeds { get; init; }
    /// <summary>A HOCON file layered above cluster.conf (DISTSOFTMAX_CONFIG): TLS certificates, timeouts, ….</summary>
    public string? ConfigFile { get; init; }
    /// <summary>Worker nodes: directories jobs may name files in (DISTSOFTMAX_DATA_ROOTS, separated by
    /// <see cref="Path.PathSeparator"/>; then distsoftmax.worker.data-roots; then the working directory).</summary>
    public IReadOnlyList<string>? DataRoots { get; init; }
    /// <summary>A directory with the cluster's credentials (<see cref="ClusterCredentials"/>; DISTSOFTMAX_CREDENTIALS):
    /// the node then speaks TLS with mutual authentication and accepts only peers with the same certificate.</summary>
    public string? CredentialsDirectory { get; init; }
    /// <summary>Allows listening on a non-loopback address without credentials (otherwise <see cref="InsecureNodeException"/>).</summary>
    public bool Insecure { get; init; }
    /// <summary>HOCON text above everything else (tests: lower timeouts, chunk size, …).</summary>
    public string? ExtraHocon { get; init; }

    /// <summary>These options with every unset member taken from the DISTSOFTMAX_* environment variables.</summary>
    public NodeOptions FromEnvironment(Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        string? Env(string name) => environment(name) is { Length: > 0 } v ? v.Trim() : null;
        return this with
        {
            Host = Host ?? Env("DISTSOFTMAX_HOST"),
            Port = Port ?? ParsePort(Env("DISTSOFTMAX_PORT"), "DISTSOFTMAX_PORT"),
            PublicHost = PublicHost ?? Env("DISTSOFTMAX_PUBLIC_HOST"),
            PublicPort = PublicPort ?? ParsePort(Env("DISTSOFTMAX_PUBLIC_PORT"), "DISTSOFTMAX_PUBLIC_PORT"),
            Seeds = Seeds ?? Env("DISTSOFTMAX_SEEDS")?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            ConfigFile = ConfigFile ?? Env("DISTSOFTMAX_CONFIG"),
            CredentialsDirectory = CredentialsDirectory ?? Env("DISTSOFTMAX_CREDENTIALS"),
            DataRoots = DataRoots ?? Env("DISTSOFTMAX_DATA_ROOTS")?.Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
        };
    }

    private static int? ParsePort(string? text, string name)
    {
        if (text is null) return null;
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int p) && p is >= 0 and <= 65535) return p;
        throw new ArgumentException($"{name} must be a port number 0–65535, not '{text}'");
    }
}

/// <summary>The part a node plays in the cluster (its Akka role names come from distsoftmax.cluster.*-role).</summary>
public enum ClusterRole { Worker, Coordinator }

/// <summary>
/// Builds the ActorSystem configurations from the HOCON files embedded in this assembly (hocon/base.conf,
/// local.conf, cluster.conf) plus the overrides of <see cref="NodeOptions"/>.
/// </summary>
public static class DistSoftmaxConfig
{
    public const string DefaultSystemName = "distsoftmax";

    /// <summary>The neutral name of the seed-node list in <see cref="ParameterException"/>s.</summary>
    public const string SeedsParameter = "Seeds";

    /// <summary>The text of an embedded HOCON file ("base.conf", "local.conf", "cluster.conf").</summary>
    public static string Embedded(string fileName)
    {
        var name = $"DistSoftmax.Cluster.hocon.{fileName}";
        using var stream = typeof(DistSoftmaxConfig).Assembly.GetManifestResourceStream(name)
            ?? throw new InvalidOperationException($"the HOCON resource {name} is not embedded in DistSoftmax.Cluster");
        using var reader = new StreamReader(stream, Encoding.UTF8);
        return reader.ReadToEnd();
    }

    public static Config Base => ConfigurationFactory.ParseString(Embedded("base.conf"));

    /// <summary>One-process simulation: local.conf over base.conf (plus optional HOCON text on top).</summary>
    public static Config Local(string? extraHocon = null)
    {
        var config = ConfigurationFactory.ParseString(Embedded("local.conf")).WithFallback(Base);
        return string.IsNullOrWhiteSpace(extraHocon) ? config : ConfigurationFactory.ParseString(extraHocon).WithFallback(config);
    }

    /// <summary>
    /// A cluster node with the given role: explicit options &gt; environment &gt; DISTSOFTMAX_CONFIG file &gt;
    /// cluster.conf &gt; base.conf. <paramref name="options"/> must already have had
    /// <see cref="NodeOptions.FromEnvironment"/> applied if the environment should count.
    /// </summary>
    public static Config Cluster(NodeOptions options, ClusterRole role)
    {
        var config = ConfigurationFactory.ParseString(Embedded("cluster.conf")).WithFallback(Base);
        if (!string.IsNullOrWhiteSpace(options.ConfigFile))
        {
            if (!File.Exists(options.ConfigFile))
                throw new FileNotFoundException($"DISTSOFTMAX_CONFIG names {options.ConfigFile}, which does not exist", options.ConfigFile);
            config = ConfigurationFactory.ParseString(File.ReadAllText(options.ConfigFile)).WithFallback(config);
        }
        if (!string.IsNullOrWhiteSpace(options.CredentialsDirectory))
            config = ConfigurationFactory.ParseString("akka.remote.dot-netty.tcp.enable-ssl = true").WithFallback(config);
        string systemName = config.GetString("distsoftmax.cluster.system-name", DefaultSystemName);
        string roleName = role == ClusterRole.Worker
            ? config.GetString("distsoftmax.cluster.worker-role", "worker")
            : config.GetString("distsoftmax.cluster.coordinator-role", "coordinator");
        var sb = new StringBuilder();
        sb.AppendLine($"akka.cluster.roles = [{Quote(roleName)}]");
        if (options.Host is not null) sb.AppendLine($"akka.remote.dot-netty.tcp.hostname = {Quote(options.Host)}");
        if (options.Port is { } port) sb.AppendLine($"akka.remote.dot-netty.tcp.port = {port}");
        if (options.PublicHost is not null) sb.AppendLine($"akka.remote.dot-netty.tcp.public-hostname = {Quote(options.PublicHost)}");
        if (options.PublicPort is { } pp) sb.AppendLine($"akka.remote.dot-netty.tcp.public-port = {pp}");
        // With TLS the transport's scheme is akka.ssl.tcp, and seeds given as host:port must say so.
        string protocol = config.GetBoolean("akka.remote.dot-netty.tcp.enable-ssl", false) ? "akka.ssl.tcp" : "akka.tcp";
        var seeds = SeedAddresses(options.Seeds ?? Array.Empty<string>(), systemName, protocol);
        sb.AppendLine($"akka.cluster.seed-nodes = [{string.Join(", ", seeds.Select(s => Quote(s.ToString())))}]");
        config = ConfigurationFactory.ParseString(sb.ToString()).WithFallback(config);
        if (!string.IsNullOrWhiteSpace(options.ExtraHocon))
            config = ConfigurationFactory.ParseString(options.ExtraHocon).WithFallback(config);
        return config;
    }

    /// <summary>
    /// The ActorSystem of a cluster node with <paramref name="config"/> (from <see cref="Cluster"/>): with credentials,
    /// TLS with mutual authentication pinned to the cluster's certificate; without, only on a loopback address unless
    /// <see cref="NodeOptions.Insecure"/> (else <see cref="InsecureNodeException"/>, before anything listens); a port
    /// another socket listens on is refused first (<see cref="PortProbe"/>, a <see cref="System.Net.Sockets.SocketException"/>).
    /// </summary>
    public static ActorSystem CreateClusterSystem(string name, Config config, NodeOptions options)
    {
        EnsureSecureEnough(config, options);
        PortProbe.EnsureFree(config);
        if (string.IsNullOrWhiteSpace(options.CredentialsDirectory)) return ActorSystem.Create(name, config);
        var credentials = ClusterCredentials.Load(options.CredentialsDirectory);
        var setup = Akka.Actor.Setup.ActorSystemSetup.Create(BootstrapSetup.Create().WithConfig(config), credentials.SslSetup());
        return ActorSystem.Create(name, setup);
    }

    /// <summary>
    /// Throws <see cref="InsecureNodeException"/> for a node without credentials bound to a non-loopback address unless
    /// <see cref="NodeOptions.Insecure"/>: a check of this node's own settings, made before anything touches the network.
    /// </summary>
    public static void EnsureSecureEnough(Config config, NodeOptions options)
    {
        if (!string.IsNullOrWhiteSpace(options.CredentialsDirectory)) return;
        string host = config.GetString("akka.remote.dot-netty.tcp.hostname", "");
        if (!options.Insecure && !IsLoopback(host)) throw new InsecureNodeException(host.Length == 0 ? "all interfaces" : host);
    }

    /// <summary>Whether <paramref name="host"/> is reachable from this machine only ("localhost", 127.0.0.0/8, ::1).</summary>
    public static bool IsLoopback(string host) =>
        string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase)
        || (System.Net.IPAddress.TryParse(host, out var ip) && System.Net.IPAddress.IsLoopback(ip));

    /// <summary>
    /// Seeds as Akka addresses: "host:port" becomes {protocol}://{system}@host:port; full addresses pass unchanged.
    /// An entry may hold several seeds separated by commas (as DISTSOFTMAX_SEEDS and the command line's seed list do).
    /// </summary>
    public static IReadOnlyList<Address> SeedAddresses(IEnumerable<string> seeds, string systemName = DefaultSystemName,
        string protocol = "akka.tcp")
    {
        var result = new List<Address>();
        foreach (var raw in seeds.SelectMany(s => s.Split(',')))
        {
            var s = raw.Trim();
            if (s.Length == 0) continue;
            if (s.Contains("://", StringComparison.Ordinal))
            {
                try { result.Add(Address.Parse(s)); }
                catch (Exception e) { throw new ParameterException(SeedsParameter, s, $"entry '{s}' is not an Akka address: {e.Message}", inner: e); }
                continue;
            }
            int colon = s.LastIndexOf(':');
            if (colon <= 0 || !int.TryParse(s[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out int port)
                || port is < 1 or > 65535)
                throw new ParameterException(SeedsParameter, s, $"entry '{s}' must be host:port or {protocol}://{systemName}@host:port");
            result.Add(new Address(protocol, systemName, s[..colon], port));
        }
        return result;
    }

    private static string Quote(string s) => "\"" + s.Replace("\\", "\\\\").Replace("\"", "\\\"") + "\"";
}
