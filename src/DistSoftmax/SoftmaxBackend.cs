namespace DistSoftmax;

/// <summary>Where <see cref="SoftmaxRegression"/> evaluates the row shards; the iterates are the same on each.</summary>
public enum SoftmaxBackend
{
    /// <summary>A plain loop over the shards in this process (no actors; the fastest start).</summary>
    InProcess,
    /// <summary>Worker actors and a coordinator in one Akka.NET ActorSystem in this process (the command line's default).</summary>
    LocalSimulation,
    /// <summary>
    /// A job on a running Akka.NET cluster of <c>dist-softmax worker</c> nodes (<see cref="SoftmaxSolveOptions.Seeds"/>).
    /// Rows never travel through the coordinator: the problem is written as .npy files into
    /// <see cref="SoftmaxSolveOptions.SharedDirectory"/>, which every worker must see at the same path.
    /// </summary>
    Cluster,
}
