namespace DistSoftmax.Cluster.Hosting;

/// <summary>
/// A cluster job was given seed nodes none of which accepted a connection within the seed timeout: a bad address or
/// no worker running there, so the job fails at once (before its ActorSystem starts) instead of retrying the join.
/// </summary>
public sealed class SeedsUnreachableException(IReadOnlyList<string> seeds, TimeSpan timeout, string reason)
    : Exception($"no seed answered within {timeout.TotalSeconds:0.#} s ({string.Join(", ", seeds)}: {reason}); is a worker node running there?")
{
    /// <summary>The seeds tried, as host:port.</summary>
    public IReadOnlyList<string> Seeds { get; } = seeds;
    /// <summary>How long the job waited for any of them.</summary>
    public TimeSpan Timeout { get; } = timeout;
}
