using Akka.Configuration;

namespace DistSoftmax.Cluster.Serialization;

/// <summary>
/// Bounds on what a peer may make this node reassemble (HOCON distsoftmax.wire). A chunk header is checked against them
/// before anything is allocated, and a partial assembly older than <see cref="AssemblyTimeout"/> is dropped.
/// </summary>
/// <param name="MaxMessageBytes">Largest reassembled request or reply (default 1 GiB: a packed d×d Gram block at
/// d = 16000).</param>
/// <param name="MaxChunks">Most pieces one message may claim (default 65536).</param>
/// <param name="AssemblyTimeout">Age after which an incomplete assembly is dropped (default 120 s).</param>
public sealed record ChunkLimits(long MaxMessageBytes, int MaxChunks, TimeSpan AssemblyTimeout)
{
    public static readonly ChunkLimits Default = new(1L << 30, 65536, TimeSpan.FromSeconds(120));

    public static ChunkLimits FromConfig(Config config) => new ChunkLimits(
        config.GetByteSize("distsoftmax.wire.max-message-bytes") ?? Default.MaxMessageBytes,
        config.GetInt("distsoftmax.wire.max-chunks", Default.MaxChunks),
        config.GetTimeSpan("distsoftmax.wire.assembly-timeout", Default.AssemblyTimeout)).Validate();

    public ChunkLimits Validate()
    {
        if (MaxMessageBytes < 1 || MaxMessageBytes > int.MaxValue)
            throw new ArgumentException("distsoftmax.wire.max-message-bytes must be between 1 byte and 2 GiB − 1");
        if (MaxChunks < 1) throw new ArgumentException("distsoftmax.wire.max-chunks must be ≥ 1");
        if (AssemblyTimeout <= TimeSpan.Zero) throw new ArgumentException("distsoftmax.wire.assembly-timeout must be a positive duration");
        return this;
    }
}
