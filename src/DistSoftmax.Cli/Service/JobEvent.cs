namespace DistSoftmax.Cli.Service;

/// <summary>
/// One entry of a job's event stream (server-sent events): <paramref name="Kind"/> is "iteration" (data: one trace entry
/// as in report.json), "state" (data: {"state": …}) or "note" (data: {"message": …}); <paramref name="Data"/> is JSON.
/// </summary>
internal sealed record JobEvent(string Kind, string Data);
