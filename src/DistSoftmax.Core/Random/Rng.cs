namespace DistSoftmax.Core.Random;

/// <summary>
/// Deterministic pseudo-random numbers for everything DistSoftmax draws (xoshiro256** seeded through SplitMix64).
/// One instance per use, never shared between threads or actors: the same seed gives the same stream on every
/// machine and .NET version, which is what makes solves reproducible bit for bit.
/// </summary>
public sealed class Rng
{
    private ulong _s0, _s1, _s2, _s3;
    private double? _spareNormal;

    public Rng(ulong seed)
    {
        ulong sm = seed;
        _s0 = SplitMix64(ref sm); _s1 = SplitMix64(ref sm); _s2 = SplitMix64(ref sm); _s3 = SplitMix64(ref sm);
    }

    /// <summary>A stream derived from a seed and a list of stream identifiers (e.g. iteration, phase).</summary>
    public static Rng ForStream(ulong seed, params ulong[] stream)
    {
        ulong h = seed;
        foreach (var s in stream) h = Hash(h ^ Hash(s + 0x632BE59BD9B4E019UL));
        return new Rng(h);
    }

    public static ulong SplitMix64(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A stateless 64-bit mix (SplitMix64 finaliser): counter-based randomness keyed by global row index.</summary>
    public static ulong Hash(ulong x)
    {
        ulong s = x;
        return SplitMix64(ref s);
    }

    /// <summary>Uniform in [0, 1) from a key, without state: used so row-level draws do not depend on the shard layout.</summary>
    public static double UniformFromKey(ulong seed, ulong key) => (Hash(seed ^ Hash(key)) >> 11) * (1.0 / (1UL << 53));

    /// <summary>
    /// The seed of one solver iteration's random stream for one purpose (a sketch, a projection, a row sample): a hash,
    /// so the per-row draws (<see cref="UniformForRow"/>) of different iterations and purposes are independent.
    /// </summary>
    public static ulong StreamSeed(ulong seed, int iteration, int purpose) =>
        Hash(seed ^ Hash(((ulong)(uint)iteration << 8) | (uint)purpose));

    /// <summary>
    /// Uniform in [0, 1) for row <paramref name="row"/> under a seed that is already a hash (a stream seed): one
    /// SplitMix64 of the seed and the row spread by the golden-ratio constant, half the cost of
    /// <see cref="UniformFromKey"/> for the per-row draws of a pass over every row.
    /// </summary>
    public static double UniformForRow(ulong hashedSeed, ulong row) =>
        (Hash(hashedSeed ^ (row * 0x9E3779B97F4A7C15UL)) >> 11) * (1.0 / (1UL << 53));

    public ulong NextUInt64()
    {
        ulong result = RotateLeft(_s1 * 5, 7) * 9;
        ulong t = _s1 << 17;
        _s2 ^= _s0; _s3 ^= _s1; _s1 ^= _s2; _s0 ^= _s3; _s2 ^= t;
        _s3 = RotateLeft(_s3, 45);
        return result;
    }

    private static ulong RotateLeft(ulong x, int k) => (x << k) | (x >> (64 - k));

    /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextUInt64() >> 11) * (1.0 / (1UL << 53));

    /// <summary>Uniform integer in [0, n).</summary>
    public int NextInt(int n)
    {
        if (n <= 0) throw new ArgumentOutOfRangeException(nameof(n));
        return (int)((NextUInt64() >> 33) % (ulong)n);
    }

    /// <summary>Standard normal by the polar Box–Muller method.</summary>
    public double NextNormal()
    {
        if (_spareNormal is double spare) { _spareNormal = null; return spare; }
        double u, v, s;
        do
        {
            u = 2 * NextDouble() - 1;
            v = 2 * NextDouble() - 1;
            s = u * u + v * v;
        } while (s >= 1 || s == 0);
        double m = Math.Sqrt(-2 * Math.Log(s) / s);
        _spareNormal = v * m;
        return u * m;
    }

    /// <summary>Gamma(shape, 1) by Marsaglia–Tsang (shape ≥ 1; boosted for shape &lt; 1).</summary>
    public double NextGamma(double shape)
    {
        if (shape <= 0) throw new ArgumentOutOfRangeException(nameof(shape));
        if (shape < 1) return NextGamma(shape + 1) * Math.Pow(NextDouble() is var u && u > 0 ? u : double.Epsilon, 1 / shape);
        double d = shape - 1.0 / 3, c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double x = NextNormal(), v = 1 + c * x;
            if (v <= 0) continue;
            v = v * v * v;
            double u = NextDouble();
            if (u < 1 - 0.0331 * x * x * x * x) return d * v;
            if (Math.Log(u) < 0.5 * x * x + d * (1 - v + Math.Log(v))) return d * v;
        }
    }

    /// <summary>One draw from Dirichlet(α,…,α) of dimension n.</summary>
    public double[] NextDirichlet(int n, double alpha = 1.0)
    {
        var g = new double[n];
        double sum = 0;
        for (int i = 0; i < n; i++) { g[i] = NextGamma(alpha); sum += g[i]; }
        for (int i = 0; i < n; i++) g[i] /= sum;
        return g;
    }

    public void FillNormal(Span<double> target, double stdDev = 1.0)
    {
        for (int i = 0; i < target.Length; i++) target[i] = stdDev * NextNormal();
    }
}
