using DistSoftmax.Core.Problems;
using DistSoftmax.Core.Solvers.Checkpoints;
using DistSoftmax.Core.Solvers.Curvature;
using DistSoftmax.Core.Statistics;
using DistSoftmax.Core.Kernels;

namespace DistSoftmax.Core.Solvers;

public abstract partial class Solver
{
    /// <summary>
    /// What both globalisation templates (<see cref="LineSearchSolver"/>, <see cref="TrustRegionSolver"/>) carry from
    /// iteration to iteration, and the head of their iteration: the accepted point, ‖∇L(x0)‖, the stagnation monitor,
    /// the curvature schedule, the trust radius, the accepted trial's one-pass reply and the reference it was computed
    /// against, the previous loss, and what the last step did (the next trace row's step, rows sampled, negative
    /// curvature and CG products). A resumed solve starts from its checkpoint's values. One instance per solve.
    /// </summary>
    private protected sealed class IterationLoop
    {
        private readonly SolveRun _run;
        private readonly CurvatureSource? _curvature;
        private readonly SolverCheckpoint? _resume;
        private double _lastStep, _lastCurvature;
        private long _lastRows;
        private int _lastCg;
        private double _previousLoss = double.NaN;
        // Passes may run in single precision (SinglePassAt): CG products in single precision on a matrix problem.
        private readonly bool _singlePasses;

        public IterationLoop(SolveRun run, CurvatureSource? curvature)
        {
            var opts = run.Options;
            _run = run;
            _curvature = curvature;
            _singlePasses = curvature is HessianVectorCurvature && opts.SingleCgProducts && run.Objective is MatrixObjective;
            _resume = run.ResumedFrom;
            G0 = _resume?.InitialGradientNorm ?? double.NaN;
            Monitor = _resume is null ? null : new StagnationMonitor(opts.StallIterations, _resume.StagnationReference, _resume.StagnationQuiet);
            Schedule = _resume is null ? new CurvatureSchedule(opts.Hessian) : new CurvatureSchedule(opts.Hessian, _resume.Kind, _resume.ScheduleCutBacks);
            Radius = _resume?.Radius ?? opts.TrustRadius;
            if (_resume is not null) Point = _resume.ToIterate().Point;
        }

        /// <summary>The accepted point (x0 after <see cref="Start"/>).</summary>
        public PointEvaluation Point { get; private set; } = null!;

        /// <summary>‖∇L(x0)‖, the base of the relative tolerance.</summary>
        public double G0 { get; private set; }

        /// <summary>Set at iteration 0 (or from the checkpoint).</summary>
        public StagnationMonitor? Monitor { get; private set; }

        public CurvatureSchedule Schedule { get; }

        /// <summary>The trust radius (the first trial step's cap for a line search).</summary>
        public double Radius { get; set; }

        /// <summary>The accepted trial's one-pass reply and the reference (the previous point's globals) it was computed against.</summary>
        public (ScalarsReply Reply, double[] Reference)? Accepted { get; set; }

        /// <summary>The first iteration this run computes (the checkpoint's, whose head is not repeated, when resuming).</summary>
        public int FirstIteration => _resume?.Iteration ?? 0;

        /// <summary>
        /// Whether the loss-and-gradient pass that gives iteration <paramref name="iteration"/>'s iterate runs (ran) in
        /// single precision: x0's, and a trial's from an iterate k = iteration − 1 above
        /// <see cref="SinglePassTargetMultiple"/> times the stopping target with either ‖∇L_k‖ ≥
        /// <see cref="SinglePassGradientRatio"/>·‖∇L(x0)‖, or ‖∇L_k‖ ≥ <see cref="SinglePassDecreaseGradientRatio"/>·‖∇L(x0)‖
        /// and a predicted decrease of at least <see cref="SinglePassRelativeDecrease"/>·L_k
        /// (<see cref="PredictedDecrease"/>), where the solve may use them at all. A function of the trace, so a resumed
        /// solve knows it of its checkpoint's iterate.
        /// </summary>
        public bool SinglePassAt(int iteration)
        {
            if (!_singlePasses) return false;
            if (iteration == 0) return true;
            int k = iteration - 1;
            double previous = _run.Trace[k].GradientNorm;
            if (!(previous > SinglePassTargetMultiple * _run.Options.StoppingTarget(G0))) return false;
            if (previous >= SinglePassGradientRatio * G0) return true;
            return previous >= SinglePassDecreaseGradientRatio * G0 && k >= 1
                && PredictedDecrease(_run.Trace[k - 1], _run.Trace[k]) >= SinglePassRelativeDecrease * Math.Abs(_run.Trace[k].Loss);
        }

        /// <summary>
        /// Whether the trial that gives iteration <paramref name="iteration"/>'s iterate, a pass in double precision
        /// (<see cref="SinglePassAt"/> false) where the solve uses single-precision passes, may be anchored
        /// (<see cref="ScalarsRequest.Anchored"/>): from an iterate k = iteration − 1 whose ‖∇L_k‖ times
        /// <see cref="AnchoredPassErrorRatio"/> is at most <see cref="AnchoredPassTargetShare"/> of the stopping target.
        /// A function of the trace, as <see cref="SinglePassAt"/> is.
        /// </summary>
        public bool AnchoredPassAt(int iteration)
        {
            if (!_singlePasses || iteration < 1 || SinglePassAt(iteration)) return false;
            double previous = _run.Trace[iteration - 1].GradientNorm;
            return AnchoredPassErrorRatio * previous <= AnchoredPassTargetShare * _run.Options.StoppingTarget(G0);
        }

        /// <summary>
        /// The next step's loss decrease as the last one predicts it: a Newton step from x_k decreases L by about
        /// ½ ∇L_kᵀ H⁻¹ ∇L_k, which scales as ‖∇L_k‖², so L_k − L_{k+1} ≈ (L_{k−1} − L_k)·(‖∇L_k‖/‖∇L_{k−1}‖)². Zero when
        /// the last step did not decrease the loss.
        /// </summary>
        private static double PredictedDecrease(TraceEntry before, TraceEntry at)
        {
            double last = before.Loss - at.Loss, ratio = at.GradientNorm / before.GradientNorm;
            return last > 0 && double.IsFinite(ratio) ? last * ratio * ratio : 0;
        }

        /// <summary>
        /// L(x0) and its globals, unless resuming (the checkpoint has the point). An objective whose one pass needs no
        /// reference (<see cref="IObjective.OnePassWithoutReference"/>) also gets ∇L(x0) from it, as from an accepted trial.
        /// </summary>
        public IEnumerable<ShardRequest> Start()
        {
            if (_resume is not null) yield break;
            bool onePass = _run.Objective.OnePassWithoutReference;
            yield return new ScalarsRequest(_run.X0, WithGradient: onePass, SinglePrecision: SinglePassAt(0));
            var reply = _run.Reply<ScalarsReply>();
            Point = _run.Objective.Evaluate(_run.X0, reply);
            if (onePass) Accepted = (reply, Point.Globals);
        }

        /// <summary>
        /// The head of an iteration at <see cref="Point"/>: its gradient (from the accepted trial's one pass where it has
        /// everything the curvature needs, else a gradient request), ‖∇L(x0)‖ and the monitor at iteration 0,
        /// <paramref name="onIterate"/> (L-BFGS updates its pairs there, before the checkpoint saves them), the trace
        /// row, the stopping rules (<see cref="Stops"/>) and the checkpoint. Resumed at the checkpoint's iteration, the
        /// iterate comes from the checkpoint (its head ran before it was taken). Null when the solve ended here.
        /// </summary>
        public IEnumerable<ShardRequest> Begin(int iteration, Action<Iterate>? onIterate, Out<Iterate?> result)
        {
            var kind = Schedule.Kind;
            if (_resume is not null && iteration == _resume.Iteration)
            {
                result.Value = Resumed(_run, _resume, _curvature) with { SinglePass = SinglePassAt(iteration) };
                yield break;
            }
            var fetched = new Out<GradientReply>();
            foreach (var r in OnePassGradient.Fetch(_run, Point, Accepted, iteration, kind, _curvature, fetched)) yield return r;
            var reply = fetched.Value;
            double norm = SpanMath.Norm(reply.Gradient);
            if (iteration == 0)
            {
                G0 = _run.ToleranceScale(norm);
                Monitor = new StagnationMonitor(_run.Options.StallIterations, G0);
            }
            bool singlePass = SinglePassAt(iteration);
            var current = new Iterate(iteration, Point, reply.Gradient, reply.LowRank, norm, kind, singlePass);
            onIterate?.Invoke(current);
            _run.Record(new TraceEntry(iteration, Point.Loss, norm, _lastStep, _lastRows, _run.Seconds, _run.Requests, _lastCurvature, _lastCg));
            if (Stops(_run, iteration, Point, norm, G0, Monitor!, _previousLoss, singlePass))
            {
                result.Value = null;
                yield break;
            }
            if (_run.Checkpointing)
            {
                var recorded = _curvature?.ForCheckpoint(_run, reply) ?? reply;
                _run.Checkpoint(() => Snapshot(_run, current, recorded, G0, Monitor!, Schedule, Radius));
            }
            result.Value = current;
        }

        /// <summary>After an accepted step to <paramref name="next"/>: what it did, for the next trace row.</summary>
        public void Advance(PointEvaluation next, double step, long rowsSampled, double negativeCurvature, int cgIterations)
        {
            _previousLoss = Point.Loss;
            Point = next;
            (_lastStep, _lastRows, _lastCurvature, _lastCg) = (step, rowsSampled, negativeCurvature, cgIterations);
        }
    }
}
