using Akka.Actor;
using Akka.Event;
using DistSoftmax.Cluster.Coordinator;
using DistSoftmax.Cluster.Protocol;
using DistSoftmax.Core.Solvers;

namespace DistSoftmax.Cluster.Hosting;

/// <summary>
/// Runs one coordinator in an existing ActorSystem and turns its event stream into a Task: the common core of the
/// local simulation and the cluster job.
/// </summary>
public static class SolveSession
{
    /// <summary>
    /// Starts a coordinator for <paramref name="spec"/>, lets <paramref name="introduce"/> point workers at it
    /// (local simulation: tell each worker actor a <see cref="CoordinatorHello"/>; cluster: start discovery),
    /// forwards every event to <paramref name="events"/> (on an actor thread, in order), and completes with the
    /// result, or faults with <see cref="DistributedSolveException"/>. Cancelling <paramref name="ct"/> asks the
    /// coordinator to stop at the next iteration boundary (the result's exit condition is then Cancelled).
    /// </summary>
    public static async Task<SolverResult> RunAsync(ActorSystem system, SolveSpec spec, CoordinatorSettings settings,
        Action<SolveEvent>? events, Action<IActorRef> introduce, CancellationToken ct = default)
    {
        var done = new TaskCompletionSource<SolverResult>(TaskCreationOptions.RunContinuationsAsynchronously);
        var listener = system.ActorOf(Props.Create(() => new SolveListener(spec.SolveId, events, done)), $"listener-{spec.SolveId}");
        var coordinator = system.ActorOf(CoordinatorActor.Props(spec, settings, listener), $"coordinator-{spec.SolveId}");
        await using var onCancel = ct.Register(() => coordinator.Tell(CancelSolve.Instance));
        _ = system.WhenTerminated.ContinueWith(_ => done.TrySetException(
            new DistributedSolveException(spec.SolveId, "the actor system terminated before the solve ended")), TaskScheduler.Default);
        introduce(coordinator);
        return await done.Task.ConfigureAwait(false);
    }

    /// <summary>Receives a coordinator's events; completes the session's task at the final one.</summary>
    private sealed class SolveListener : ReceiveActor
    {
        public SolveListener(string solveId, Action<SolveEvent>? events, TaskCompletionSource<SolverResult> done)
        {
            Receive<SolveEvent>(e =>
            {
                if (e.SolveId != solveId) return;
                if (events is not null)
                {
                    try { events(e); }
                    catch (Exception ex) { Context.GetLogger().Warning("an event handler threw: {0}", ex.Message); }
                }
                switch (e)
                {
                    case SolveCompleted c:
                        done.TrySetResult(c.Result);
                        Context.Stop(Self);
                        break;
                    case SolveFailed f:
                        done.TrySetException(new DistributedSolveException(solveId, f.Reason));
                        Context.Stop(Self);
                        break;
                }
            });
        }
    }
}
