using DistSoftmax.Cli.Service;
using Microsoft.Data.Sqlite;

namespace DistSoftmax.Cli.Tests;

/// <summary>
/// The service's job database across schema versions: a database written before the <c>stopped</c> state (schema
/// version 1: no <c>condition</c> column, a solve stopped at its iteration limit recorded <c>failed</c> with exit 3)
/// still loads, upgraded in place, with those rows moved to <c>stopped</c> and their condition; a version this build
/// does not know is refused with one line naming --db.
/// </summary>
public class JobStoreTests
{
    /// <summary>The jobs table as schema version 1 created it.</summary>
    private const string Version1Schema = """
        CREATE TABLE jobs (
            id TEXT PRIMARY KEY, seq INTEGER NOT NULL, spec TEXT NOT NULL, state TEXT NOT NULL,
            submitted_at TEXT NOT NULL, started_at TEXT, ended_at TEXT, message TEXT, exit_code INTEGER,
            out_dir TEXT NOT NULL, problem TEXT NOT NULL, solver TEXT NOT NULL, shards TEXT NOT NULL DEFAULT '[]');
        CREATE TABLE trace (
            job_id TEXT NOT NULL, position INTEGER NOT NULL, entry TEXT NOT NULL, PRIMARY KEY (job_id, position));
        PRAGMA user_version = 1;
        """;

    private static void Sql(string path, string sql)
    {
        using var db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        db.Open();
        using var cmd = db.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    private static string Row(string id, int seq, string state, string? message, int? exitCode) =>
        $"INSERT INTO jobs (id, seq, spec, state, submitted_at, ended_at, message, exit_code, out_dir, problem, solver) VALUES " +
        $"('{id}', {seq}, '{{}}', '{state}', '2025-01-01T00:00:00.0000000+00:00', '2025-01-01T00:01:00.0000000+00:00', " +
        $"{(message is null ? "NULL" : "'" + message + "'")}, {(exitCode is null ? "NULL" : exitCode.ToString())}, '/tmp/{id}', 'normalized', 'gd');";

    [Fact]
    public void A_version_1_database_loads_with_its_stopped_solves_moved_from_failed_to_stopped()
    {
        using var dir = new TempDir();
        string path = dir.File("jobs.db");
        Sql(path, Version1Schema
            + Row("stopped", 1, "failed", "stopped without meeting the tolerance (max-iterations): reached 2 iterations with ‖∇L‖ = 1.0E-001 > 1.0E-300", 3)
            + Row("stalled", 2, "failed", "stopped without meeting the tolerance (stalled): no progress in 5 iterations", 3)
            + Row("early", 3, "failed", "cancelled before the solve started; nothing written", 3)
            + Row("broken", 4, "failed", "cluster backend: the solve failed: no workers", 1)
            + Row("done", 5, "succeeded", "‖∇L‖ = 1E-9 ≤ 1E-8", 0)
            + Row("waiting", 6, "queued", null, null)
            + "INSERT INTO trace (job_id, position, entry) VALUES ('stopped', 0, '{\"iteration\":0}');");

        using (var store = new JobStore(path))
        {
            var jobs = store.LoadAll().ToDictionary(j => j.Id);
            Assert.Equal(["stopped", "stalled", "early", "broken", "done", "waiting"], store.LoadAll().Select(j => j.Id));
            Assert.Equal((JobState.Stopped, "max-iterations"), (jobs["stopped"].State, jobs["stopped"].Condition));
            Assert.Equal((JobState.Stopped, "stalled"), (jobs["stalled"].State, jobs["stalled"].Condition));
            Assert.Equal((JobState.Failed, (string?)null), (jobs["early"].State, jobs["early"].Condition));
            Assert.Equal((JobState.Failed, (string?)null), (jobs["broken"].State, jobs["broken"].Condition));
            Assert.Equal((JobState.Succeeded, (string?)null), (jobs["done"].State, jobs["done"].Condition));
            Assert.Equal(JobState.Queued, jobs["waiting"].State);
            Assert.Equal(["{\"iteration\":0}"], jobs["stopped"].Trace);
            Assert.Equal(3, jobs["stopped"].ExitCode);
            Assert.StartsWith("stopped without meeting the tolerance (max-iterations)", jobs["stopped"].Message);
        }
        // Upgraded once: opened again it is version 2 and unchanged.
        using (var store = new JobStore(path))
            Assert.Equal(JobState.Stopped, store.LoadAll().Single(j => j.Id == "stopped").State);
        using var db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Pooling = false }.ToString());
        db.Open();
        using var version = db.CreateCommand();
        version.CommandText = "PRAGMA user_version;";
        Assert.Equal(2L, (long)version.ExecuteScalar()!);
    }

    [Fact]
    public void A_database_of_an_unknown_schema_version_is_refused_naming_db()
    {
        using var dir = new TempDir();
        string path = dir.File("jobs.db");
        Sql(path, "PRAGMA user_version = 9;");
        var e = Assert.Throws<CliInputException>(() => new JobStore(path));
        Assert.Equal("--db", e.Subject);
        Assert.Equal($"--db: {path}: schema version 9, this dist-softmax reads versions 1 and 2", e.Message);
    }

    /// <summary>Another program's SQLite database is refused before anything is written to it (QA audit: its jobs table was
    /// taken for ours, a trace table added and the file switched to WAL; the first query then failed as an internal
    /// error). An unknown version is left untouched too.</summary>
    [Fact]
    public void Another_programs_database_is_refused_and_left_byte_for_byte_as_it_was()
    {
        using var dir = new TempDir();
        string other = dir.File("other.db");
        Sql(other, "CREATE TABLE jobs (x INTEGER); INSERT INTO jobs VALUES (42);");
        string unknown = dir.File("v9.db");
        Sql(unknown, "CREATE TABLE t (y TEXT); PRAGMA user_version = 9;");
        foreach (var path in new[] { other, unknown })
        {
            var before = File.ReadAllBytes(path);
            var e = Assert.Throws<CliInputException>(() => new JobStore(path));
            Assert.Equal("--db", e.Subject);
            Assert.Equal(before, File.ReadAllBytes(path));
            Assert.False(File.Exists(path + "-wal"), "the refused file was switched to WAL");
        }
        Assert.Equal($"--db: {other}: an SQLite database that dist-softmax did not create (tables: jobs); give a new file or a service's own job database",
            Assert.Throws<CliInputException>(() => new JobStore(other)).Message);
        // A new or empty file becomes a job database.
        File.WriteAllBytes(dir.File("empty.db"), []);
        using (new JobStore(dir.File("empty.db"))) { }
        using (new JobStore(dir.File("new.db"))) { }
    }
}
