namespace DistSoftmax.Core.Solvers.Checkpoints;

/// <summary>The solver states a checkpoint can carry, by <see cref="CheckpointState.Kind"/>, rebuilt for a resumed run.</summary>
internal static class SolverStates
{
    public const string LbfgsPairs = "lbfgs-pairs", Kronecker = "kronecker", SampledGram = "sampled-gram";

    /// <summary>The run's SolverState from a checkpoint's (null for none); an unknown or malformed one is a <see cref="CheckpointFormatException"/>.</summary>
    public static object? Restore(CheckpointState? state, int dimension) => state?.Kind switch
    {
        null => null,
        LbfgsPairs => Lbfgs.RestorePairs(state, dimension),
        Kronecker => CgPreconditioners.RestoreKronecker(state, dimension),
        SampledGram => CgPreconditioners.RestoreSampledGram(state, dimension),
        var kind => throw new CheckpointFormatException($"the checkpoint carries an unknown solver state '{kind}'"),
    };
}
