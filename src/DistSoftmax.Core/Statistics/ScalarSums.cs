using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Statistics;

/// <summary>
/// Partial sums over rows that may be scaled by a shift: Sums[j] is stored as Σ_i t_ij · exp(−Powers[j]·Shift),
/// so that sums of exponentials exp(z_i) are kept as Σ exp(z_i − m) with m = Shift (a log-sum-exp partial).
/// Merging is associative and commutative up to rounding: m = max(m_a, m_b) and each side's sum j is rescaled
/// by exp(Powers[j]·(m_side − m)). Sums with power 0 do not depend on the shift.
/// A shard with no rows reports Shift = −∞ and zero sums.
/// </summary>
public sealed record ScalarSums(double Shift, double[] Sums, int[] Powers)
{
    public static ScalarSums Empty(int[] powers) => new(double.NegativeInfinity, new double[powers.Length], powers);

    public ScalarSums Merge(ScalarSums other)
    {
        if (Sums.Length != other.Sums.Length) throw new ArgumentException("scalar sums of different families cannot be merged");
        double m = Extremes.Max(Shift, other.Shift);
        var sums = new double[Sums.Length];
        for (int j = 0; j < sums.Length; j++)
            sums[j] = Rescale(Sums[j], Powers[j], Shift, m) + Rescale(other.Sums[j], Powers[j], other.Shift, m);
        return new ScalarSums(m, sums, Powers);
    }

    /// <summary>value·exp(power·(from − to)); a side with −∞ shift (no rows) contributes its raw (zero) sums.</summary>
    private static double Rescale(double value, int power, double from, double to)
    {
        if (power == 0 || from == to) return value;
        if (double.IsNegativeInfinity(from)) return 0.0;
        return value * Math.Exp(power * (from - to));
    }
}
