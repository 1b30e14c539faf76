using Akka.Actor;

namespace DistSoftmax.Cluster.Coordinator;

/// <summary>Local notice (from the cluster discovery actor) that a node hosting workers is unreachable.</summary>
public sealed record WorkerUnreachable(Address Address) : INoSerializationVerificationNeeded;
