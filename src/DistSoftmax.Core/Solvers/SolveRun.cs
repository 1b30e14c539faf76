using System.Diagnostics;
using DistSoftmax.Core.Kernels;
using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Solvers.Checkpoints;
using DistSoftmax.Core.Statistics;

namespace DistSoftmax.Core.Solvers;

/// <summary>
/// One solve as a state machine: the solver asks for statistics (<see cref="Pending"/>), a driver evaluates them on
/// the shards, merges the replies in shard order and hands the merged reply to <see cref="Submit"/>, which runs
/// the solver until its next request. When <see cref="Pending"/> is null the solve is over and
/// <see cref="Result"/> is set. A driver may be a loop over in-process shards or an actor; the solver never knows.
/// </summary>
public sealed class SolveRun
{
    private readonly IEnumerator<ShardRequest> _steps;
    private readonly Stopwatch _clock = new();
    private bool _clockStarted;
    private readonly List<TraceEntry> _trace = new();
    private ShardReply? _reply;
    private volatile bool _cancelRequested;
    /// <summary>Solver seconds before this run (those of the checkpoint it resumed from).</summary>
    private readonly double _secondsBefore;

    public Solver Solver { get; }
    public IObjective Objective { get; }
    public SolverOptions Options { get; }
    /// <summary>The start: the x0 given, or the log-linear start once its request is answered (<see cref="SolverOptions.LogLinearStart"/>).</summary>
    public double[] X0 { get; private set; }

    /// <summary>
    /// ‖∇L(0)‖ where the solve knows it without starting there (the log-linear start's pass computes it): the relative
    /// tolerance is then measured against the larger of it and ‖∇L(x0)‖, so a start close to the minimiser does not
    /// make the target stricter than a solve from zeros would meet (an exact start would make it unreachable).
    /// </summary>
    public double? ZeroGradientNorm { get; private set; }

    /// <summary>‖∇L‖ at <see cref="SolverOptions.ToleranceReference"/> once its pass is answered (null: none, or not finite and positive).</summary>
    public double? ReferenceGradientNorm { get; private set; }

    /// <summary>
    /// The scale of the relative tolerance for a start with gradient norm <paramref name="startGradientNorm"/>:
    /// ‖∇L‖ at the tolerance's reference point when the solve measured one, else it, or ‖∇L(0)‖ if known and larger.
    /// </summary>
    internal double ToleranceScale(double startGradientNorm) =>
        ReferenceGradientNorm ?? Extremes.Max(startGradientNorm, ZeroGradientNorm ?? 0);

    /// <summary>Rows of B that took part in the log-linear start (null: the solve did not compute one).</summary>
    public long? LogLinearStartRows { get; private set; }

    /// <summary>The factor the log-linear start was scaled by (<see cref="LogLinearStart.FitScale"/>); null when the solve
    /// did not start there or no row of B was usable.</summary>
    public double? LogLinearStartScale { get; private set; }
    public CancellationToken Cancellation { get; }

    /// <summary>The request awaiting a merged reply; null once the solve has ended.</summary>
    public ShardRequest? Pending { get; private set; }
    public SolverResult? Result { get; private set; }
    public IReadOnlyList<TraceEntry> Trace => _trace;
    public long Requests { get; private set; }

    /// <summary>
    /// What a solver keeps between iterations of this solve (L-BFGS pairs, the last sketch): held by the run, not
    /// the solver, so one solver instance can drive any number of solves, even at once.
    /// </summary>
    internal object? SolverState { get; set; }

    /// <summary>What a Newton-type solver's curvature source keeps between iterations (the last sketch).</summary>
    internal object? CurvatureState { get; set; }

    private double[]? _modelHessian;

    /// <summary>
    /// The d×d array in which an explicit model Hessian is assembled each iteration (<see cref="Curvature.DenseCurvature"/>),
    /// kept for the run: the model is used only within its iteration, and a fresh 1.3 MB array cost 4–6 ms of page faults at
    /// d = 400 (25 ms at d = 1000) on this project's virtual machines, where a first touch costs ≈ 11 µs a page, against
    /// 0.1 ms to fill it.
    /// </summary>
    internal double[] ModelHessianBuffer(int d) =>
        _modelHessian is { } kept && kept.Length == d * d ? kept : _modelHessian = GC.AllocateUninitializedArray<double>(d * d);

    public double Seconds => _secondsBefore + _clock.Elapsed.TotalSeconds;

    /// <summary>The checkpoint this run continues (null for a run from x0).</summary>
    public SolverCheckpoint? ResumedFrom { get; }

    /// <summary>Raised once per iteration (iteration 0 included) on the thread that calls Submit.</summary>
    public event Action<TraceEntry>? Progress;

    internal SolveRun(Solver solver, IObjective objective, double[] x0, SolverOptions options, CancellationToken cancellation)
    {
        if (x0.Length != objective.Dimension)
            throw new ArgumentException($"x0 has {x0.Length} entries but the problem has {objective.Dimension} unknowns");
        Solver = solver;
        Objective = objective;
        Options = options.Validate();
        X0 = (double[])x0.Clone();
        Cancellation = cancellation;
        if (Options.ResumeFrom is { } checkpoint)
        {
            checkpoint.CheckFits(solver, objective);
            ResumedFrom = checkpoint;
            _trace.AddRange(checkpoint.Trace);
            Requests = checkpoint.Requests;
            _secondsBefore = checkpoint.Seconds;
            SolverState = SolverStates.Restore(checkpoint.SolverState, objective.Dimension);
        }
        bool logLinear = Options.LogLinearStart && ResumedFrom is null;
        if (logLinear && objective is not MatrixObjective)
            throw new ArgumentException("the log-linear start is for matrix problems (multiple softmax regression)");
        bool reference = !logLinear && ResumedFrom is null && Options.ToleranceReference is { } xr && !xr.AsSpan().SequenceEqual(X0);
        if (reference && Options.ToleranceReference!.Length != objective.Dimension)
            throw new ArgumentException($"the tolerance's reference point has {Options.ToleranceReference.Length} entries but the problem has {objective.Dimension} unknowns");
        _steps = (logLinear ? LogLinearStartThen(solver) : reference ? ToleranceReferenceThen(solver) : solver.Steps(this)).GetEnumerator();
    }

    /// <summary>
    /// ‖∇L‖ at the tolerance's reference point (<see cref="SolverOptions.ToleranceReference"/>): its loss pass (with the
    /// gradient where the objective's one pass needs no reference), else a gradient pass against its own globals; then
    /// the solver's own requests from x0.
    /// </summary>
    private IEnumerable<ShardRequest> ToleranceReferenceThen(Solver solver)
    {
        var xr = Options.ToleranceReference!;
        bool onePass = Objective.OnePassWithoutReference;
        yield return new ScalarsRequest(xr, WithGradient: onePass);
        var reply = Reply<ScalarsReply>();
        var point = Objective.Evaluate(xr, reply);
        var gradient = onePass ? Objective.FusedGradient(point, reply, point.Globals) : null;
        if (gradient is null)
        {
            yield return new GradientRequest(xr, point.Globals, HessianKind.GaussNewton, false);
            gradient = Reply<GradientReply>().Gradient;
        }
        double norm = SpanMath.Norm(gradient);
        if (double.IsFinite(norm) && norm > 0) ReferenceGradientNorm = norm;
        foreach (var request in solver.Steps(this)) yield return request;
    }

    /// <summary>
    /// The log-linear start's request, X0 from its sums scaled to the least loss along t·X0 (<see cref="LogLinearStart.FitScale"/>),
    /// then the solver's own requests from there.
    /// </summary>
    private IEnumerable<ShardRequest> LogLinearStartThen(Solver solver)
    {
        yield return new LogLinearStartRequest();
        var sums = Reply<LogLinearStartReply>();
        X0 = LogLinearStart.FromSums(sums, ((MatrixObjective)Objective).Side);
        LogLinearStartRows = sums.UsableRows;
        ZeroGradientNorm = SpanMath.Norm(sums.GradientAtZero);
        if (sums.UsableRows > 0)
        {
            var scale = new Out<double>();
            foreach (var request in LogLinearStart.FitScale(this, X0, scale)) yield return request;
            LogLinearStartScale = scale.Value;
            if (scale.Value != 1) X0 = LogLinearStart.Scaled(X0, scale.Value);
        }
        foreach (var request in solver.Steps(this)) yield return request;
    }

    /// <summary>
    /// Runs the solver to its first request. With <paramref name="clockRunning"/> false the solve's clock
    /// (<see cref="Seconds"/>) waits for <see cref="StartClock"/>: a coordinator whose workers are still loading their
    /// rows sends the first request at once (a worker starts on it as soon as its rows are in) and starts the clock when
    /// every shard is loaded, so that loading the data is not counted as solving it (as SciPy's minimize is timed after
    /// np.load); the load is reported on its own.
    /// </summary>
    public ShardRequest? Start(bool clockRunning = true)
    {
        if (clockRunning) StartClock();
        return Advance();
    }

    /// <summary>Starts the solve's clock if it has never run (later calls do nothing).</summary>
    public void StartClock()
    {
        if (_clockStarted) return;
        _clockStarted = true;
        _clock.Start();
    }

    /// <summary>Hands the merged reply to the pending request to the solver and runs it to its next request.</summary>
    public ShardRequest? Submit(ShardReply merged)
    {
        if (Pending is null) throw new InvalidOperationException("no request is pending");
        StartClock();   // a reply before every shard reported its rows loaded (the coordinator normally started it)
        _reply = merged;
        return Advance();
    }

    /// <summary>Asks the solver to stop at its next iteration boundary with exit condition Cancelled.</summary>
    public void Cancel() => _cancelRequested = true;

    internal bool CancelRequested => _cancelRequested || Cancellation.IsCancellationRequested;

    private ShardRequest? Advance()
    {
        if (_steps.MoveNext())
        {
            Pending = _steps.Current;
            Requests++;
        }
        else
        {
            Pending = null;
            _clock.Stop();
            if (Result is null) throw new InvalidOperationException($"solver {Solver.Name} ended without a result");
        }
        return Pending;
    }

    internal T Reply<T>() where T : ShardReply =>
        _reply as T ?? throw new InvalidOperationException($"expected a {typeof(T).Name}, got {_reply?.GetType().Name ?? "nothing"}");

    internal void Record(TraceEntry entry)
    {
        _trace.Add(entry);
        Progress?.Invoke(entry);
    }

    internal void Finish(double[] x, ExitCondition exit, string message, int iterations, double loss, double gradNorm, double g0)
    {
        Result = new SolverResult(Solver.Name, x, exit, message, iterations, loss, gradNorm, g0, _trace.ToArray(),
            Seconds, Requests, LogLinearStartRows, LogLinearStartScale);
    }

    /// <summary>Whether anyone takes checkpoints of this run (<see cref="SolverOptions.Checkpoint"/>).</summary>
    internal bool Checkpointing => Options.Checkpoint is not null;

    /// <summary>Hands a checkpoint to <see cref="SolverOptions.Checkpoint"/>, built only when one is taken.</summary>
    internal void Checkpoint(Func<SolverCheckpoint> build) => Options.Checkpoint?.Invoke(build());

    /// <summary>The solver's state as a checkpoint's (null when it keeps none).</summary>
    internal CheckpointState? SolverStateCheckpoint() => (SolverState as ISolverStateCheckpoint)?.Save();
}
