using DistSoftmax.Core.Linear;
using DistSoftmax.Core.Networks;

namespace DistSoftmax.Core.Diffusion;

/// <summary>
/// A learned score s_θ(x, t) = F(W, φ(x, t)) / σ_t: the network predicts σ_t·∇log p_t, the quantity the
/// σ_t²-weighted denoising score-matching loss fits with targets −z (see <see cref="DenoisingScoreMatching"/>).
/// </summary>
public sealed class ScoreNetwork(NetworkModel model, double[] weights, ScoreFeatures features)
{
    public NetworkModel Model { get; } = model;
    public double[] Weights { get; } = weights;
    public ScoreFeatures Features { get; } = features;

    /// <summary>s_θ at the n rows of <paramref name="points"/> (n×2) at one time t.</summary>
    public DenseMatrix Scores(DenseMatrix points, double t)
    {
        int n = points.Rows;
        var f = new double[n * ScoreFeatures.Dimension];
        for (int i = 0; i < n; i++) Features.Write(points[i, 0], points[i, 1], t, f.AsSpan(i * ScoreFeatures.Dimension, ScoreFeatures.Dimension));
        var output = new DenseMatrix(n, 2);
        Model.Predict(Weights, f, n, output.Data);
        double sigma = OrnsteinUhlenbeck.Sigma(t);
        for (int i = 0; i < output.Data.Length; i++) output.Data[i] /= sigma;
        return output;
    }
}
