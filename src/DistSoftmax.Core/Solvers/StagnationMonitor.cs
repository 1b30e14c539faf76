namespace DistSoftmax.Core.Solvers;

/// <summary>
/// Detects a solve that no longer makes progress although every step is accepted: an iteration makes progress when
/// the loss falls by more than its rounding (<see cref="SolverOptions.LossRoundingSlack"/>·|L|), or the gradient norm
/// falls below <see cref="GradientProgressFactor"/> times its value when the last progress was made. Stalled after
/// <see cref="SolverOptions.StallIterations"/> iterations in a row without progress — which catches a gradient that
/// oscillates while the loss creeps down at the level of its rounding. One instance per solve.
/// </summary>
internal sealed class StagnationMonitor
{
    /// <summary>A gradient norm this much below the reference counts as progress.</summary>
    public const double GradientProgressFactor = 0.5;

    private readonly int _window;
    private double _referenceGradient;
    private int _quiet;

    public StagnationMonitor(int window, double initialGradientNorm)
    {
        _window = window;
        _referenceGradient = initialGradientNorm;
    }

    /// <summary>A monitor in the state a checkpoint recorded (<see cref="Reference"/>, <see cref="Quiet"/>).</summary>
    public StagnationMonitor(int window, double referenceGradient, int quiet) : this(window, referenceGradient) => _quiet = quiet;

    /// <summary>The gradient norm at the last progress, and the iterations since (a checkpoint's state).</summary>
    public double Reference => _referenceGradient;
    public int Quiet => _quiet;

    /// <summary>Records an accepted step from loss <paramref name="before"/> to <paramref name="after"/>; true when stalled.</summary>
    public bool Observe(double before, double after, double gradientNorm)
    {
        bool progress = before - after > SolverOptions.LossRoundingSlack * Math.Abs(before)
                        || gradientNorm <= GradientProgressFactor * _referenceGradient;
        if (progress)
        {
            _quiet = 0;
            _referenceGradient = gradientNorm;
        }
        else _quiet++;
        return _quiet >= _window;
    }
}
