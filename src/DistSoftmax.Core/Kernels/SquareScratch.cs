namespace DistSoftmax.Core.Kernels;

/// <summary>
/// One d×d working array kept from one factorisation to the next (taken and given back atomically, so concurrent
/// callers each get their own). A new 8 MB array at d = 1000 cost 18 ms of page faults on the first write of its
/// pages, more than the 11–13 ms of the factorisation itself; the coordinator factors one or two d×d matrices every
/// iteration (<see cref="Solvers.Curvature.PackedCholesky"/>, <see cref="DenseAlgebra.SolveModified"/>).
/// </summary>
internal static class SquareScratch
{
    private static double[]? _kept;

    /// <summary>An array of d·d doubles (contents not meaningful); give it back with <see cref="Return"/>.</summary>
    public static double[] Rent(int d)
    {
        long square = (long)d * d;
        var work = Interlocked.Exchange(ref _kept, null);
        return work is not null && work.LongLength == square ? work : GC.AllocateUninitializedArray<double>(checked((int)square));
    }

    /// <summary>Keeps the array for the next <see cref="Rent"/>.</summary>
    public static void Return(double[] work) => Interlocked.Exchange(ref _kept, work);
}
