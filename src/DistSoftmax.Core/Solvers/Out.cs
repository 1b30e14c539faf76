namespace DistSoftmax.Core.Solvers;

/// <summary>Holder for a value produced by a nested solver step (iterators cannot return values).</summary>
public sealed class Out<T> { public T Value = default!; }
