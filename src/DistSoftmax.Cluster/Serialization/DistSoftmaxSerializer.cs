using Akka.Actor;
using Akka.Serialization;

namespace DistSoftmax.Cluster.Serialization;

/// <summary>
/// The project's own Akka serializer. HOCON (hocon/base.conf) binds it to
/// <c>DistSoftmax.Cluster.Protocol.IDistSoftmaxMessage</c> and to the Core base types
/// <c>DistSoftmax.Core.Statistics.ShardRequest</c> / <c>ShardReply</c>; the format is <see cref="WireFormat"/>
/// (numeric arrays block-copied, lengths validated on read). It exists because the Hyperion binding package is not
/// available to this project and because Hyperion and JSON write <c>double[]</c> element by element.
/// </summary>
public sealed class DistSoftmaxSerializer : SerializerWithStringManifest
{
    /// <summary>Akka serializer identifier (0–100 are reserved by Akka).</summary>
    public const int SerializerId = 7311;

    public DistSoftmaxSerializer(ExtendedActorSystem system) : base(system) { }

    public override int Identifier => SerializerId;

    public override string Manifest(object o) => WireFormat.ManifestOf(o);

    /// <summary>The message's bytes, counted as sent (<see cref="WireTraffic"/>).</summary>
    public override byte[] ToBinary(object obj) => WireTraffic.Sent(WireFormat.Encode(obj));

    /// <summary>The message, its bytes counted as received (<see cref="WireTraffic"/>) before they are decoded.</summary>
    public override object FromBinary(byte[] bytes, string manifest)
    {
        WireTraffic.Received(bytes);
        return WireFormat.Decode(bytes, manifest);
    }
}
