namespace DistSoftmax.Core.Solvers.Checkpoints;

/// <summary>
/// A solver's own per-solve state in a checkpoint, as plain numbers: a kind naming which solver state it is
/// ("lbfgs-pairs", "kronecker"), a vector of scalars and a list of arrays whose meaning the kind defines
/// (<see cref="SolverStates"/>). Immutable once made; its arrays are never written to.
/// </summary>
public sealed record CheckpointState(string Kind, double[] Scalars, IReadOnlyList<double[]> Arrays);
