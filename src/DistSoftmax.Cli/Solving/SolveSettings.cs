using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Solvers;
using DistSoftmax.Data.Sources;
using DistSoftmax.Core.Solvers.Checkpoints;

namespace DistSoftmax.Cli.Solving;

/// <summary>The solve command's options as the user gave them (paths unresolved, nothing checked yet).</summary>
internal sealed record SolveSettings
{
    public string Problem { get; init; } = Families.Normalized;
    public bool ProblemGiven { get; init; }
    public string Unit { get; init; } = UnitCatalog.Default.Name();
    public bool UnitGiven { get; init; }

    public string? A { get; init; }
    public string? BVector { get; init; }
    public string? WVector { get; init; }
    public string? A1 { get; init; }
    public string? A2 { get; init; }
    public string? BMatrix { get; init; }
    public string? WMatrix { get; init; }
    public double? WScalar { get; init; }
    public string? X0 { get; init; }
    /// <summary>--start: "auto" (log-linear for multiple-normalized, else the problem's default), "zeros" or "log-linear".</summary>
    public string Start { get; init; } = StartChoices.Auto;
    public bool StartGiven { get; init; }
    /// <summary>The instance to generate when no data files are given (sensitivity); null: solve's built-in demo (normalized only).</summary>
    public GeneratedSpec? Generated { get; init; }

    /// <summary>Solver name, or "auto" (approx-newton for vector problems, MatrixSolverChoice for matrix problems).</summary>
    public string Solver { get; init; } = "auto";
    public SolverOptions Options { get; init; } = new();
    /// <summary>Whether --hessian was given (matrix problems otherwise use the Hessian MatrixSolverChoice recommends).</summary>
    public bool HessianGiven { get; init; }
    /// <summary>Row shards (--workers); null: <see cref="DistSoftmax.Core.Shards.ShardLayout.DefaultShards"/> for the backend (one per core, at most 4, here; 4 on a cluster).</summary>
    public int? Workers { get; init; }
    public string OutDir { get; init; } = "out";
    /// <summary>--save: a comma list of fitted, residual, gradient, hessian (arrays at x* written as .npy); null: none.</summary>
    public string? Save { get; init; }
    /// <summary>"text" (the human view: live table or plain lines) or "json" (one JSON object per line, Output/JsonProgress).</summary>
    public string Progress { get; init; } = "text";

    public string Backend { get; init; } = "local";
    public bool BackendGiven { get; init; }
    public string? Seeds { get; init; }
    public int? MinWorkers { get; init; }
    public string? Host { get; init; }
    public int? Port { get; init; }
    /// <summary>--seed-timeout in seconds (cluster jobs only); null: the configured default.</summary>
    public double? SeedTimeout { get; init; }
    /// <summary>--credentials: the cluster credentials directory (cluster jobs).</summary>
    public string? Credentials { get; init; }
    /// <summary>--insecure: allow a non-loopback job node without credentials.</summary>
    public bool Insecure { get; init; }

    /// <summary>The command line as given, for the report.</summary>
    public IReadOnlyList<string> Arguments { get; init; } = [];

    /// <summary>The solve command's own arguments (no command name), recorded in checkpoint.json for --resume.</summary>
    public IReadOnlyList<string> SolveArguments { get; init; } = [];
    /// <summary>Whether the solve writes checkpoint.bin every iteration (not with --no-checkpoint).</summary>
    public bool Checkpoints { get; init; } = true;
    /// <summary>Whether the post-solve analysis at x* runs (not with --no-analysis).</summary>
    public bool Analysis { get; init; } = true;
    /// <summary>--resume: the checkpoint to continue from (null: from x0, also when DIR has no checkpoint.bin yet).</summary>
    public SolverCheckpoint? ResumeFrom { get; init; }
    /// <summary>Whether this is a --resume (with or without a checkpoint to continue from).</summary>
    public bool Resuming { get; init; }
    /// <summary>--resume: the inputs' identity recorded with the checkpoint (null: none recorded).</summary>
    public string? RecordedSource { get; init; }
}
