using DistSoftmax.Cli.Commands;
using DistSoftmax.Cli.Solving;
using DistSoftmax.Cluster.Hosting;
using DistSoftmax.Cluster.Protocol;
using DistSoftmax.Core.Solvers;

namespace DistSoftmax.Cli.Service;

/// <summary>
/// "The service's cluster": a job's solve as a coordinator actor in the service's own, already joined node
/// (<see cref="CoordinatorNode.SolveAsync"/>), so a job starts without joining or leaving the cluster. Coordinator
/// events become the job's progress and notes (as a joining cluster job's do) and its shard owners.
/// </summary>
internal sealed class ServiceClusterBackend(CoordinatorNode node, ServiceJob job, int minWorkers, Action<SolveEvent>? observe = null) : ISolveBackend
{
    public string Name => JobOptions.Cluster;

    public Task<SolverResult> SolveAsync(SolveJob solve, Action<TraceEntry> progress, Action<string> note, CancellationToken cancellation) =>
        node.SolveAsync(solve.Loader, solve.Source, solve.Solver, solve.X0, solve.Options, solve.Workers, minWorkers,
            e =>
            {
                job.OnClusterEvent(e);
                observe?.Invoke(e);
                Events.Forward(e, progress, note, joins: true);
            }, cancellation, solve.AfterSolve);
}
