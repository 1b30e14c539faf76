using System.Globalization;
using DistSoftmax.Cli.Commands;
using DistSoftmax.Cli.Output;
using DistSoftmax.Core.Problems;
using DistSoftmax.Data;
using DistSoftmax.Data.Sources;

namespace DistSoftmax.Cli.Solving;

/// <summary>
/// One instance of a sweep: a generated one (<see cref="Spec"/>, written once into its own folder and shared by every
/// solve of the grid on it), or the user's files for one repeat.
/// </summary>
/// <param name="Key">The folder name of the instance (and the start of its solves' folder names), e.g. "n2000-d20-dense-r0".</param>
/// <param name="Repeat">0, 1, … (<see cref="SweepGrid.Repeats"/>).</param>
/// <param name="Seed">The generator's and the solvers' seed for this repeat.</param>
/// <param name="Spec">The generator call, or null for the user's instance.</param>
/// <param name="UserArguments">The solve arguments naming the user's files (--A, --b, --w), or null.</param>
/// <param name="RequestedDensity">The grid's density of a sparse generated instance; null for a dense or a user's instance.</param>
internal sealed record SweepInstance(string Key, int Repeat, ulong Seed, GeneratedSpec? Spec, IReadOnlyList<string>? UserArguments,
    double? RequestedDensity)
{
    /// <summary>A generated instance of the grid's family; its generator arguments are checked here (exit 2 on a bad one).</summary>
    public static SweepInstance Generated(SweepGrid grid, int n, int d, double? density, int repeat, ulong seed)
    {
        var unit = grid.Unit is null ? UnitCatalog.Default : UnitCatalog.Parse(grid.Unit);
        var spec = new GeneratedSpec(grid.Problem, unit, n, d, seed, Sparse: density is not null, Density: density ?? 0.1).Validate();
        string shape = density is double p ? "p" + Number(p) : "dense";
        return new SweepInstance($"n{n}-d{d}-{shape}-r{repeat}", repeat, seed, spec, null, density);
    }

    public static SweepInstance FromUser(SweepGrid grid, int repeat, ulong seed) =>
        new($"user-r{repeat}", repeat, seed, null, grid.User, null);

    /// <summary>
    /// The solve arguments that name this instance's data: "solve --problem … [--unit …] --A … --b …" (for a generated
    /// instance exactly the command generate prints for it, <see cref="GenerateCommand.SolveArguments"/>, without its --out-dir).
    /// </summary>
    public IEnumerable<string> SolveArguments(string problem, string? unit, string instanceDirectory)
    {
        if (Spec is not null)
            return GenerateCommand.SolveArguments(Spec, instanceDirectory, DataSources.IsMatrixProblem(Spec.Problem), Spec.Sparse)
                .TakeWhile(a => a != "--out-dir");
        var head = new List<string> { "solve", CatalogOptions.ProblemOption, problem };
        if (unit is not null) head.AddRange([CatalogOptions.UnitOption, unit]);
        return head.Concat(UserArguments!);
    }

    /// <summary>
    /// Refuses (exit 2, naming the file) a file of the user's in <paramref name="directory"/> that writing this generated
    /// instance would replace (<see cref="InstanceFiles.RequireReplaceable"/>); nothing for the user's instance.
    /// </summary>
    public void RequireReplaceable(string directory)
    {
        if (Spec is not null) InstanceFiles.RequireReplaceable(directory, DataSources.IsMatrixProblem(Spec.Problem));
    }

    /// <summary>
    /// Writes a generated instance into <paramref name="directory"/> (A.npy or A.mtx, b.npy, x_true.npy; matrix problems
    /// A1, A2, B, X_true) with generate's manifest (<see cref="InstanceFiles"/>), so that a later sweep may replace it.
    /// </summary>
    public void Write(string directory)
    {
        if (Spec is null) return;
        // No generate command line asked for it (the sweep did; the folder's key names the instance): no arguments.
        InstanceFiles.Write(directory, Spec.Generate(), []);
    }

    /// <summary>A number as it appears in folder names and the table: shortest round-trip form, invariant culture.</summary>
    public static string Number(double v) => v.ToString("R", CultureInfo.InvariantCulture);
}
