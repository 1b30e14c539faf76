namespace DistSoftmax.Cluster.Serialization;

/// <summary>
/// Bytes of the project's messages this process has put on the wire and taken off it: every payload
/// <see cref="DistSoftmaxSerializer"/> encodes (sent) or decodes (received) — requests, replies, chunks, shard
/// assignments; Akka.NET's own cluster gossip and heartbeats are not counted. Messages between actors of one
/// ActorSystem are passed by reference and never serialized, so a local simulation counts nothing. Process-wide
/// counters, read by the service's <c>/metrics</c>.
/// </summary>
public static class WireTraffic
{
    private static long _sentBytes, _receivedBytes;

    /// <summary>Bytes encoded by this process's serializer since it started.</summary>
    public static long SentBytes => Interlocked.Read(ref _sentBytes);

    /// <summary>Bytes decoded by this process's serializer since it started.</summary>
    public static long ReceivedBytes => Interlocked.Read(ref _receivedBytes);

    internal static byte[] Sent(byte[] payload)
    {
        Interlocked.Add(ref _sentBytes, payload.LongLength);
        return payload;
    }

    internal static void Received(byte[] payload) => Interlocked.Add(ref _receivedBytes, payload.LongLength);
}
