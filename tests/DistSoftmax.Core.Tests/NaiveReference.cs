using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Problems;

namespace DistSoftmax.Core.Tests;

/// <summary>
/// A deliberately naive whole-matrix reference, written straight from docs/MATH.md with n×n matrices and no
/// shards, shifts or low-rank tricks: ℓ, g = ∇_zℓ, B = ∇²_zℓ, then ∇L = Aᵀ(g + w²z), ∇²L = Aᵀ(B + diag(w²))A.
/// </summary>
public static class NaiveReference
{
    public static (double Loss, double[] Gradient, double[] Hessian) Evaluate(IVectorFamily family, DenseMatrix a,
        double[] b, double[] w2, double[] x)
    {
        int n = a.Rows, d = a.Cols;
        var z = new double[n];
        for (int i = 0; i < n; i++) for (int j = 0; j < d; j++) z[i] += a[i, j] * x[j];
        var (loss, g, B) = family switch
        {
            NormalizedSoftmax => Normalized(z, b),
            RescaledRegression r => Rescaled(r.Unit, z, b),
            HyperbolicRegression h => Hyperbolic(h.Unit, z, b),
            _ => throw new ArgumentException(family.Name),
        };
        for (int i = 0; i < n; i++)
        {
            loss += 0.5 * w2[i] * z[i] * z[i];
            g[i] += w2[i] * z[i];
            B[i, i] += w2[i];
        }
        var grad = new double[d];
        for (int j = 0; j < d; j++) for (int i = 0; i < n; i++) grad[j] += a[i, j] * g[i];
        var hess = new double[d * d];
        var ba = new double[n, d];
        for (int i = 0; i < n; i++) for (int k = 0; k < n; k++) if (B[i, k] != 0) for (int j = 0; j < d; j++) ba[i, j] += B[i, k] * a[k, j];
        for (int p = 0; p < d; p++) for (int q = 0; q < d; q++) for (int i = 0; i < n; i++) hess[p * d + q] += a[i, p] * ba[i, q];
        return (loss, grad, hess);
    }

    private static (double, double[], double[,]) Normalized(double[] z, double[] b)
    {
        int n = z.Length;
        double m = z.Max();
        var u = z.Select(v => Math.Exp(v - m)).ToArray();
        double alpha = u.Sum();
        var f = u.Select(v => v / alpha).ToArray();
        var c = f.Zip(b, (p, q) => p - q).ToArray();
        double loss = 0.5 * c.Sum(v => v * v);
        double fc = f.Zip(c, (p, q) => p * q).Sum();
        var g = new double[n];
        for (int i = 0; i < n; i++) g[i] = f[i] * c[i] - fc * f[i];
        var v2 = new double[n];
        for (int i = 0; i < n; i++) v2[i] = (2 * f[i] - b[i]) * f[i];
        double beta = 0, gamma = 0;
        for (int i = 0; i < n; i++) { beta += (3 * f[i] - 2 * b[i]) * f[i]; gamma += (f[i] - b[i]) * f[i]; }
        var B = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int k = 0; k < n; k++)
                B[i, k] = beta * f[i] * f[k] - v2[i] * f[k] - f[i] * v2[k] + (i == k ? v2[i] - gamma * f[i] : 0);
        return (loss, g, B);
    }

    private static (double U, double D1, double D2) Unit3(Unit unit, double z) => UnitCatalog.Evaluate(unit, z);

    private static (double, double[], double[,]) Rescaled(Unit unit, double[] z, double[] b)
    {
        int n = z.Length;
        var u = z.Select(v => Unit3(unit, v)).ToArray();
        double sumU = u.Sum(t => t.U);
        var c = new double[n];
        for (int i = 0; i < n; i++) c[i] = u[i].U - sumU * b[i];
        double loss = 0.5 * c.Sum(v => v * v);
        double bc = b.Zip(c, (p, q) => p * q).Sum();
        double bb = b.Sum(v => v * v);
        var p2 = c.Select(v => v - bc).ToArray();
        var g = new double[n];
        for (int i = 0; i < n; i++) g[i] = u[i].D1 * p2[i];
        var B = new double[n, n];
        for (int i = 0; i < n; i++)
            for (int k = 0; k < n; k++)
                B[i, k] = (i == k ? u[i].D1 * u[i].D1 + u[i].D2 * p2[i] : 0)
                          - u[i].D1 * b[i] * u[k].D1 - u[i].D1 * u[k].D1 * b[k] + bb * u[i].D1 * u[k].D1;
        return (loss, g, B);
    }

    private static (double, double[], double[,]) Hyperbolic(Unit unit, double[] z, double[] b)
    {
        int n = z.Length;
        var g = new double[n];
        var B = new double[n, n];
        double loss = 0;
        for (int i = 0; i < n; i++)
        {
            var (u, d1, d2) = Unit3(unit, z[i]);
            double c = u - b[i];
            loss += 0.5 * c * c;
            g[i] = d1 * c;
            B[i, i] = d1 * d1 + d2 * c;
        }
        return (loss, g, B);
    }
}
