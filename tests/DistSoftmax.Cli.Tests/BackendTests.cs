using System.Net;
using System.Net.Sockets;
using System.Text.Json;

namespace DistSoftmax.Cli.Tests;

/// <summary>The built-in demo, and the same solve on each backend: in-process loop, local actor simulation, cluster.</summary>
public class BackendTests
{
    [Fact]
    public void Solve_with_no_arguments_solves_the_built_in_demo_on_the_local_simulation()
    {
        using var dir = new TempDir();
        var run = Cli.Run(dir.Path);
        Assert.Equal(2, run.Code); // no command at all is a usage error …
        run = Cli.Run(dir.Path, "solve"); // … solve alone runs the demo
        Assert.True(run.Code == 0, run.ToString());
        Assert.Equal("", run.Err);
        Assert.StartsWith("dist-softmax solve: normalized (built-in demo instance), n = 20000, d = 50", run.Out);
        var r = Report.Read(dir.File("out"));
        Assert.True(r.GetProperty("demo").GetBoolean());
        Assert.Equal("converged", r.GetProperty("exit").GetString());
        Assert.Equal("local", r.GetProperty("backend").GetString());
        // Without --workers a local solve takes one worker per core, at most four.
        Assert.Equal(Math.Clamp(Environment.ProcessorCount, 1, 4), r.GetProperty("workers").GetInt32());
        // --solver auto: at 20000×50 the cost model (VectorSolverChoice) predicts exact Newton cheapest.
        Assert.Equal("newton", r.GetProperty("solver").GetString());
        Assert.StartsWith("auto: newton has the least predicted time", r.GetProperty("solverChoiceReason").GetString());
        Assert.Equal("generated", r.GetProperty("source").GetProperty("kind").GetString());
        Assert.Equal(42UL, r.GetProperty("source").GetProperty("parameters").GetProperty("seed").GetUInt64());
        Assert.Equal(3.0, r.GetProperty("source").GetProperty("parameters").GetProperty("x-scale").GetDouble());
        Assert.Equal(20000, r.GetProperty("sizes").GetProperty("n").GetInt64());
        Assert.Equal(1_000_000, r.GetProperty("sizes").GetProperty("nnz").GetInt64());
        Assert.Empty(r.GetProperty("inputs").EnumerateObject());
        Assert.Equal(new long[] { 50 }, NpyBytes.Read(dir.File("out/x.npy")).Shape);
        Png.Check(dir.File("out/convergence.png"));
        Assert.True(r.GetProperty("trace").EnumerateArray().Skip(1).All(t => t.GetProperty("rowsSampled").GetInt64() > 0));
    }

    [Fact]
    public void The_local_simulation_and_the_in_process_loop_give_the_same_iterates()
    {
        using var dir = new TempDir();
        Assert.Equal(0, Cli.Run(dir.Path, "generate", "--problem", "rescaled", "--unit", "exp", "--n", "500", "--d", "6", "--out-dir", "inst").Code);
        string[] solve = ["solve", "--problem", "rescaled", "--A", "inst/A.npy", "--b", "inst/b.npy", "--workers", "3"];
        var local = Cli.Run(dir.Path, [.. solve, "--out-dir", "local"]);
        var inproc = Cli.Run(dir.Path, [.. solve, "--backend", "inprocess", "--out-dir", "inproc"]);
        Assert.True(local.Code == 0, local.ToString());
        Assert.True(inproc.Code == 0, inproc.ToString());
        Assert.Equal(NpyBytes.Read(dir.File("local/x.npy")).Values, NpyBytes.Read(dir.File("inproc/x.npy")).Values);
        double[] Losses(string d) => Report.Read(dir.File(d)).GetProperty("trace").EnumerateArray().Select(t => t.GetProperty("loss").GetDouble()).ToArray();
        Assert.Equal(Losses("inproc"), Losses("local"));
        Assert.Equal("local", Report.Read(dir.File("local")).GetProperty("backend").GetString());
        Assert.Equal("inprocess", Report.Read(dir.File("inproc")).GetProperty("backend").GetString());
    }

    internal static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    [Fact]
    public async Task A_worker_node_serves_a_cluster_solve_job_and_stops_on_cancellation()
    {
        using var dir = new TempDir();
        Assert.Equal(0, Cli.Run(dir.Path, "generate", "--problem", "hyperbolic", "--unit", "sinh", "--n", "400", "--d", "5", "--out-dir", "inst").Code);
        int port = FreePort();
        using var stopWorker = new CancellationTokenSource();
        var workerOut = new StringWriter();
        var workerErr = new StringWriter();
        var worker = Task.Run(() => Program.Run(["worker", "--host", "127.0.0.1", "--port", port.ToString()],
            new CliContext(TextWriter.Synchronized(workerOut), TextWriter.Synchronized(workerErr), dir.Path, cancellation: stopWorker.Token)));
        try
        {
            await Cli.WaitForWorkerUp(workerOut, workerErr, worker);
            var run = Cli.Run(dir.Path, "solve", "--problem", "hyperbolic", "--unit", "sinh", "--A", "inst/A.npy", "--b", "inst/b.npy",
                "--seeds", $"127.0.0.1:{port}", "--min-workers", "1", "--workers", "2", "--out-dir", "cl", "--save", "fitted,gradient");
            Assert.True(run.Code == 0, run + "\n--- worker\n" + workerOut + workerErr);
            Assert.Contains($"joined from akka.tcp://distsoftmax@127.0.0.1:{port}", run.Out);
            var r = Report.Read(dir.File("cl"));
            Assert.Equal("cluster", r.GetProperty("backend").GetString());
            Assert.Equal(2, r.GetProperty("workers").GetInt32());
            var cluster = r.GetProperty("cluster");
            Assert.Equal($"127.0.0.1:{port}", cluster.GetProperty("seeds")[0].GetString());
            Assert.Equal(1, cluster.GetProperty("minWorkers").GetInt32());
            Assert.Equal("converged", r.GetProperty("exit").GetString());

            // The same problem in the local simulation with 2 workers reaches the same point.
            var local = Cli.Run(dir.Path, "solve", "--problem", "hyperbolic", "--unit", "sinh", "--A", "inst/A.npy", "--b", "inst/b.npy",
                "--workers", "2", "--out-dir", "lo", "--save", "fitted,gradient");
            Assert.Equal(0, local.Code);
            Assert.Equal(NpyBytes.Read(dir.File("lo/x.npy")).Values, NpyBytes.Read(dir.File("cl/x.npy")).Values);

            // The cluster job's analysis ran as requests on the worker's shards (no rows loaded in the job's process):
            // the same regime and arrays as the local simulation's analysis on the shards it kept.
            Assert.DoesNotContain("loaded again", run.Err);
            AnalysisAssert.Same(dir.File("lo"), dir.File("cl"), ["lambdaMin", "lambdaMax", "loss"], ["fitted.npy", "gradient.npy"]);
        }
        finally
        {
            stopWorker.Cancel();
        }
        Assert.Equal(0, await worker.WaitAsync(TimeSpan.FromSeconds(60)));
        string output = workerOut.ToString();
        Assert.Contains($"dist-softmax worker: akka.tcp://distsoftmax@127.0.0.1:{port} is up, serving solve jobs", output);
        Assert.Contains("dist-softmax worker: stopped", output);
        Assert.Equal("", workerErr.ToString());
    }

    public static TheoryData<string[], string> WorkerErrors() => new()
    {
        { ["worker", "--port", "70000"], "--port: must be in [0, 65535] (got 70000)" },
        { ["worker", "--seeds", "nohost"], "--seeds: 'nohost' is not a seed address" },
        { ["worker", "--public-port", "-2"], "--public-port: must be in [0, 65535] (got -2)" },
        { ["worker", "--port", "x"], "--port: 'x' is not an integer" },
    };

    [Theory]
    [MemberData(nameof(WorkerErrors))]
    public void Bad_worker_arguments_are_one_line_and_exit_code_2(string[] args, string expected)
    {
        using var dir = new TempDir();
        var run = Cli.Run(dir.Path, args);
        Assert.True(run.Code == 2, run.ToString());
        Assert.StartsWith("error: " + expected, Assert.Single(run.ErrLines));
    }

    [Fact]
    public void A_worker_whose_port_is_taken_is_refused_naming_the_port()
    {
        using var dir = new TempDir();
        var taken = new TcpListener(IPAddress.Loopback, 0);
        taken.Start();
        try
        {
            int port = ((IPEndPoint)taken.LocalEndpoint).Port;
            var run = Cli.Run(dir.Path, "worker", "--host", "127.0.0.1", "--port", port.ToString());
            Assert.True(run.Code == 2, run.ToString());
            Assert.StartsWith($"error: --port: cannot bind 127.0.0.1:{port}: ", Assert.Single(run.ErrLines));
        }
        finally { taken.Stop(); }
    }

    [Fact]
    public void A_worker_on_a_port_another_node_holds_is_refused_naming_the_port()
    {
        // A listening socket as Akka's transport opens a node's: SO_REUSEADDR, which .NET on Linux turns into
        // SO_REUSEPORT too, so a second node bound the port beside it and took the running node's connections (the
        // cluster then downed the running node). PortProbe refuses the port before the second node starts.
        using var dir = new TempDir();
        using var held = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        held.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        held.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        held.Listen();
        int port = ((IPEndPoint)held.LocalEndPoint!).Port;
        var run = Task.Run(() => Cli.Run(dir.Path, "worker", "--host", "127.0.0.1", "--port", port.ToString()));
        Assert.True(run.Wait(TimeSpan.FromSeconds(60)), "the worker started on a port another node holds");
        Assert.True(run.Result.Code == 2, run.Result.ToString());
        Assert.StartsWith($"error: --port: cannot bind 127.0.0.1:{port}: ", Assert.Single(run.Result.ErrLines));
    }

    [Fact]
    public void Worker_help_lists_its_options()
    {
        var run = Cli.Run(Path.GetTempPath(), "worker", "--help");
        Assert.Equal(0, run.Code);
        foreach (string o in new[] { "--port", "--host", "--seeds", "--public-host", "--public-port" }) Assert.Contains(o, run.Out);
    }
}
