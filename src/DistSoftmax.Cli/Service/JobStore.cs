using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace DistSoftmax.Cli.Service;

/// <summary>
/// The service's job records in an embedded SQLite database (Microsoft.Data.Sqlite): table <c>jobs</c> (spec, state,
/// times, message, exit code, the solver's exit condition, output directory, shard owners) and table <c>trace</c> (one
/// row per iteration, the entry's JSON). Written by the job runners, never by an actor; one connection, one writer at a
/// time. A database of schema version 1 (before the <c>stopped</c> state and the <c>condition</c> column) is upgraded in
/// place when opened (<see cref="UpgradeFromVersion1"/>).
/// </summary>
internal sealed class JobStore : IDisposable
{
    /// <summary>The schema this build writes: 2 added <c>jobs.condition</c> and the <c>stopped</c> state.</summary>
    private const int SchemaVersion = 2;
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);
    private readonly object _gate = new();
    private readonly SqliteConnection _db;

    public string Path { get; }

    /// <summary>Opens (or creates) the database at <paramref name="path"/>; throws <see cref="CliInputException"/> (--db) when it cannot.</summary>
    public JobStore(string path)
    {
        Path = path;
        try
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(System.IO.Path.GetFullPath(path))!);
            _db = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadWriteCreate, Pooling = false }.ToString());
            _db.Open();
            long version = OwnSchemaVersion(path);
            Execute("PRAGMA journal_mode = WAL;");
            Execute("PRAGMA synchronous = NORMAL;");
            Execute("""
                CREATE TABLE IF NOT EXISTS jobs (
                    id TEXT PRIMARY KEY, seq INTEGER NOT NULL, spec TEXT NOT NULL, state TEXT NOT NULL,
                    submitted_at TEXT NOT NULL, started_at TEXT, ended_at TEXT, message TEXT, exit_code INTEGER,
                    out_dir TEXT NOT NULL, problem TEXT NOT NULL, solver TEXT NOT NULL, shards TEXT NOT NULL DEFAULT '[]',
                    condition TEXT);
                CREATE TABLE IF NOT EXISTS trace (
                    job_id TEXT NOT NULL, position INTEGER NOT NULL, entry TEXT NOT NULL, PRIMARY KEY (job_id, position));
                """);
            if (version == 0) Execute($"PRAGMA user_version = {SchemaVersion};");
            else if (version == 1) UpgradeFromVersion1();
        }
        catch (CliInputException)
        {
            _db?.Dispose();
            throw;
        }
        catch (SqliteException e)
        {
            throw new CliInputException("--db", $"{path}: cannot open the job database: {e.Message}");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CliInputException("--db", $"{path}: {e.Message}");
        }
    }

    /// <summary>
    /// The database's schema version (0 for a new or empty file, ours to create), read before anything is written: a
    /// version this build does not read, or a database with tables but no version (another program's), is refused
    /// untouched (QA audit: the jobs table of another SQLite file was taken for ours, a trace table added, the file
    /// switched to WAL, and the first query failed as an internal error).
    /// </summary>
    private long OwnSchemaVersion(string path)
    {
        long version = (long)Scalar("PRAGMA user_version;")!;
        if (version is 1 or SchemaVersion) return version;
        if (version != 0)
            throw new CliInputException("--db", $"{path}: schema version {version}, this dist-softmax reads versions 1 and {SchemaVersion}");
        using var command = _db.CreateCommand();
        command.CommandText = "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name;";
        var tables = new List<string>();
        using (var reader = command.ExecuteReader())
            while (reader.Read()) tables.Add(reader.GetString(0));
        if (tables.Count > 0)
            throw new CliInputException("--db", $"{path}: an SQLite database that dist-softmax did not create (tables: " +
                $"{string.Join(", ", tables.Take(5))}{(tables.Count > 5 ? ", …" : "")}); give a new file or a service's own job database");
        return 0;
    }

    /// <summary>
    /// Version 1 → 2, in one transaction: the <c>condition</c> column (null for the old rows), and the old rows of a solve
    /// that stopped without meeting the tolerance — recorded then as <c>failed</c> with exit code 3 and the message
    /// "stopped without meeting the tolerance (CONDITION): …" — moved to <c>stopped</c> with that condition, as this
    /// build records such a job.
    /// </summary>
    private void UpgradeFromVersion1()
    {
        using var transaction = _db.BeginTransaction();
        using (var alter = _db.CreateCommand())
        {
            alter.Transaction = transaction;
            alter.CommandText = "ALTER TABLE jobs ADD COLUMN condition TEXT;";
            alter.ExecuteNonQuery();
        }
        var stopped = new List<(string Id, string Condition)>();
        using (var cmd = _db.CreateCommand())
        {
            cmd.Transaction = transaction;
            cmd.CommandText = "SELECT id, message FROM jobs WHERE state = 'failed' AND exit_code = $code AND message IS NOT NULL;";
            cmd.Parameters.AddWithValue("$code", ExitCodes.NotConverged);
            using var r = cmd.ExecuteReader();
            while (r.Read())
                if (StoppedCondition(r.GetString(1)) is { } condition) stopped.Add((r.GetString(0), condition));
        }
        foreach (var (id, condition) in stopped)
        {
            using var cmd = _db.CreateCommand();
            cmd.Transaction = transaction;
            cmd.CommandText = "UPDATE jobs SET state = $state, condition = $condition WHERE id = $id;";
            cmd.Parameters.AddWithValue("$state", JobState.Stopped.Name());
            cmd.Parameters.AddWithValue("$condition", condition);
            cmd.Parameters.AddWithValue("$id", id);
            cmd.ExecuteNonQuery();
        }
        // The version changes with the column (user_version is part of the transaction): never one without the other.
        using (var version = _db.CreateCommand())
        {
            version.Transaction = transaction;
            version.CommandText = $"PRAGMA user_version = {SchemaVersion};";
            version.ExecuteNonQuery();
        }
        transaction.Commit();
    }

    /// <summary>The condition named by a version-1 message of a solve stopped short ("stopped without meeting the
    /// tolerance (max-iterations): …"); null for any other message, and for a cancelled solve.</summary>
    internal static string? StoppedCondition(string message)
    {
        const string prefix = "stopped without meeting the tolerance (";
        if (!message.StartsWith(prefix, StringComparison.Ordinal)) return null;
        int end = message.IndexOf(')', prefix.Length);
        string? condition = end < 0 ? null : message[prefix.Length..end];
        return condition is "max-iterations" or "stalled" or "diverged" ? condition : null;
    }

    /// <summary>A new job (state queued).</summary>
    public void Insert(ServiceJob job)
    {
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = """
                INSERT INTO jobs (id, seq, spec, state, submitted_at, out_dir, problem, solver)
                VALUES ($id, (SELECT COALESCE(MAX(seq), 0) + 1 FROM jobs), $spec, $state, $submitted, $out, $problem, $solver);
                """;
            cmd.Parameters.AddWithValue("$id", job.Id);
            cmd.Parameters.AddWithValue("$spec", job.SpecJson);
            cmd.Parameters.AddWithValue("$state", job.State.Name());
            cmd.Parameters.AddWithValue("$submitted", Time(job.SubmittedAt));
            cmd.Parameters.AddWithValue("$out", job.OutDir);
            cmd.Parameters.AddWithValue("$problem", job.Problem);
            cmd.Parameters.AddWithValue("$solver", job.Solver);
            cmd.ExecuteNonQuery();
        }
    }

    /// <summary>The job's state, times, message, exit code and shard owners as they are now.</summary>
    public void Update(ServiceJob job)
    {
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = """
                UPDATE jobs SET state = $state, started_at = $started, ended_at = $ended, message = $message,
                    exit_code = $exit, condition = $condition, shards = $shards WHERE id = $id;
                """;
            cmd.Parameters.AddWithValue("$id", job.Id);
            cmd.Parameters.AddWithValue("$state", job.State.Name());
            cmd.Parameters.AddWithValue("$started", (object?)Time(job.StartedAt) ?? DBNull.Value);
            cmd.Parameters.AddWithValue("$ended", (object?)Time(job.EndedAt) ?? DBNull.Value);
            cmd.Parameters.AddWithValue("$message", (object?)job.Message ?? DBNull.Value);
            cmd.Parameters.AddWithValue("$exit", (object?)job.ExitCode ?? DBNull.Value);
            cmd.Parameters.AddWithValue("$condition", (object?)job.Condition ?? DBNull.Value);
            cmd.Parameters.AddWithValue("$shards", JsonSerializer.Serialize(job.Shards(), Json));
            cmd.ExecuteNonQuery();
        }
    }

    /// <summary>Trace entry number <paramref name="position"/> (0-based) of a job.</summary>
    public void AddTrace(string jobId, int position, string entryJson)
    {
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "INSERT OR REPLACE INTO trace (job_id, position, entry) VALUES ($id, $pos, $entry);";
            cmd.Parameters.AddWithValue("$id", jobId);
            cmd.Parameters.AddWithValue("$pos", position);
            cmd.Parameters.AddWithValue("$entry", entryJson);
            cmd.ExecuteNonQuery();
        }
    }

    /// <summary>Keeps only the first <paramref name="keep"/> trace entries of a job (a resumed job redoes the ones after its checkpoint).</summary>
    public void TruncateTrace(string jobId, int keep)
    {
        lock (_gate)
        {
            using var cmd = _db.CreateCommand();
            cmd.CommandText = "DELETE FROM trace WHERE job_id = $id AND position >= $keep;";
            cmd.Parameters.AddWithValue("$id", jobId);
            cmd.Parameters.AddWithValue("$keep", keep);
            cmd.ExecuteNonQuery();
        }
    }

    /// <summary>Every job, oldest submission first, with its trace.</summary>
    public IReadOnlyList<StoredJob> LoadAll()
    {
        lock (_gate)
        {
            var traces = new Dictionary<string, List<string>>();
            using (var cmd = _db.CreateCommand())
            {
                cmd.CommandText = "SELECT job_id, entry FROM trace ORDER BY job_id, position;";
                using var r = cmd.ExecuteReader();
                while (r.Read())
                {
                    if (!traces.TryGetValue(r.GetString(0), out var list)) traces[r.GetString(0)] = list = [];
                    list.Add(r.GetString(1));
                }
            }
            var jobs = new List<StoredJob>();
            using (var cmd = _db.CreateCommand())
            {
                cmd.CommandText = """
                    SELECT id, spec, state, submitted_at, started_at, ended_at, message, exit_code, out_dir, problem, solver, shards,
                        condition
                    FROM jobs ORDER BY seq;
                    """;
                using var r = cmd.ExecuteReader();
                while (r.Read())
                {
                    string id = r.GetString(0);
                    jobs.Add(new StoredJob(id, r.GetString(1), JobStates.Parse(r.GetString(2)), ParseTime(r.GetString(3)),
                        r.IsDBNull(4) ? null : ParseTime(r.GetString(4)), r.IsDBNull(5) ? null : ParseTime(r.GetString(5)),
                        r.IsDBNull(6) ? null : r.GetString(6), r.IsDBNull(7) ? null : r.GetInt32(7), r.IsDBNull(12) ? null : r.GetString(12),
                        r.GetString(8), r.GetString(9),
                        r.GetString(10), JsonSerializer.Deserialize<ShardInfo[]>(r.GetString(11), Json) ?? [],
                        traces.GetValueOrDefault(id) ?? []));
                }
            }
            return jobs;
        }
    }

    public void Dispose()
    {
        lock (_gate) _db.Dispose();
    }

    private void Execute(string sql)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = sql;
        cmd.ExecuteNonQuery();
    }

    private object? Scalar(string sql)
    {
        using var cmd = _db.CreateCommand();
        cmd.CommandText = sql;
        return cmd.ExecuteScalar();
    }

    private static string? Time(DateTimeOffset? t) => t?.ToString("O", CultureInfo.InvariantCulture);

    private static DateTimeOffset ParseTime(string s) => DateTimeOffset.Parse(s, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind);
}
