namespace DistSoftmax.Core.Diffusion;

/// <summary>
/// Diffusion times t_1 &gt; t_2 &gt; … &gt; t_L, geometric from <c>max</c> (T) down to <c>min</c> (t_min): the times at
/// which score errors are measured, and the grid of the reverse-SDE sampler.
/// </summary>
public sealed record DiffusionTimes(double[] Times)
{
    public static DiffusionTimes Geometric(double max, double min, int count)
    {
        if (!(min > 0 && max > min && double.IsFinite(max)))
            throw new ParameterException(nameof(DiffusionOptions.TimeMin), min, "and {0} must satisfy 0 < min < max", related: [nameof(DiffusionOptions.TimeMax)]);
        if (count < 2) throw new ParameterException(nameof(DiffusionOptions.EvaluationTimes), count, "must be at least 2");
        var t = new double[count];
        for (int l = 0; l < count; l++) t[l] = max * Math.Pow(min / max, l / (double)(count - 1));
        return new DiffusionTimes(t);
    }

    public int Count => Times.Length;
    public double Max => Times[0];
    public double Min => Times[^1];
    /// <summary>The middle time t_{⌊L/2⌋}.</summary>
    public double Middle => Times[Times.Length / 2];
}
