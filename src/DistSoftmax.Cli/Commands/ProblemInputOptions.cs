using System.CommandLine;
using DistSoftmax.Cli.Solving;

namespace DistSoftmax.Cli.Commands;

/// <summary>
/// The options that name a problem and its data, as <c>solve</c> spells them (--problem, --unit, --A, --b, --w,
/// --A1, --A2, --B, --W, --w-scalar, --x0), for commands that read the same input; <see cref="Bind"/> fills those
/// fields of a <see cref="SolveSettings"/>, so <see cref="SolvePlanner"/> checks them as it checks a solve's.
/// </summary>
internal sealed class ProblemInputOptions
{
    public Option<string> Problem { get; }
    public Option<string> Unit { get; } = CatalogOptions.Unit();
    public Option<string?> A { get; } = OptionFactory.InputFile("--A", "Vector problems: the n×d data matrix (.npy, .mtx, .csv or .txt).");
    public Option<string?> BVector { get; } = OptionFactory.InputFile("--b", "Vector problems: the target vector of length n.");
    public Option<string?> WVector { get; } = OptionFactory.InputFile("--w", "Vector problems: per-row regulariser weights w (length n); the loss adds ½‖diag(w)Ax‖².");
    public Option<string?> A1 { get; } = OptionFactory.InputFile("--A1", "Matrix problems: the n×d matrix A1 (M = A1 X A2ᵀ).");
    public Option<string?> A2 { get; } = OptionFactory.InputFile("--A2", "Matrix problems: the n×d matrix A2.");
    public Option<string?> BMatrix { get; } = OptionFactory.InputFile("--B", "Matrix problems: the n×n target matrix B.");
    public Option<string?> WMatrix { get; } = OptionFactory.InputFile("--W", "Matrix problems: per-entry regulariser weights W (n×n); the loss adds ½‖W∘M‖².");
    public Option<double?> WScalar { get; } = OptionFactory.OptionalDouble("--w-scalar", "One regulariser weight for every row (instead of --w / --W). Default: no regulariser.");
    public Option<string?> X0 { get; } = OptionFactory.InputFile("--x0", "Starting point: d values (vector problems) or a d×d matrix (matrix problems). Default: zeros.");

    public ProblemInputOptions(string problemDescription) => Problem = CatalogOptions.Problem(problemDescription);

    public IEnumerable<Option> All => [Problem, Unit, A, BVector, WVector, A1, A2, BMatrix, WMatrix, WScalar, X0];

    /// <summary>The settings with this command line's problem and data options.</summary>
    public SolveSettings Bind(ParseResult p, SolveSettings settings) => settings with
    {
        Problem = p.GetValue(Problem)!,
        ProblemGiven = OptionFactory.Given(p, Problem),
        Unit = p.GetValue(Unit)!,
        UnitGiven = OptionFactory.Given(p, Unit),
        A = p.GetValue(A),
        BVector = p.GetValue(BVector),
        WVector = p.GetValue(WVector),
        A1 = p.GetValue(A1),
        A2 = p.GetValue(A2),
        BMatrix = p.GetValue(BMatrix),
        WMatrix = p.GetValue(WMatrix),
        WScalar = p.GetValue(WScalar),
        X0 = p.GetValue(X0),
    };
}
