namespace DistSoftmax.Cluster.Hosting;

/// <summary>
/// A cluster node that would listen on a non-loopback address without cluster credentials: anyone who reaches the port
/// could join and command it. Give credentials (<see cref="NodeOptions.CredentialsDirectory"/>) or accept the risk
/// explicitly (<see cref="NodeOptions.Insecure"/>). A node bound to a loopback address only may run without them.
/// </summary>
public sealed class InsecureNodeException(string host)
    : Exception($"refusing to listen on {host} without cluster credentials (anyone reaching the port could command this node): " +
                "give --credentials DIR or DISTSOFTMAX_CREDENTIALS (create them with 'dist-softmax credentials create --out DIR'), or --insecure")
{
    public string Host { get; } = host;
}
