using System.Globalization;
using System.Text.Json;
using Microsoft.Data.Sqlite;

namespace DistSoftmax.Cli.Service;

/// <summary>
/// The service's job records in an embedded SQLite database (Microsoft.Data.Sqlite): table <c>jobs</c> (spec, state,
/// times, message, exit code, output directory, shard owners) and table <c>trace</c> (one row per iteration, the entry's
/// JSON). Written by the job runners, never by an actor; one connection, one writer at a time.
/// </summary>
internal sealed class JobStore : IDisposable
{
    private const int SchemaVersion = 1;
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
            Execute("PRAGMA journal_mode = WAL;");
            Execute("PRAGMA synchronous = NORMAL;");
            Execute("""
                CREATE TABLE IF NOT EXISTS jobs (
                    id TEXT PRIMARY KEY, seq INTEGER NOT NULL, spec TEXT NOT NULL, state TEXT NOT NULL,
                    submitted_at TEXT NOT NULL, started_at TEXT, ended_at TEXT, message TEXT, exit_code INTEGER,
                    out_dir TEXT NOT NULL, problem TEXT NOT NULL, solver TEXT NOT NULL, shards TEXT NOT NULL DEFAULT '[]');
                CREATE TABLE IF NOT EXISTS trace (
                    job_id TEXT NOT NULL, position INTEGER NOT NULL, entry TEXT NOT NULL, PRIMARY KEY (job_id, position));
                """);
            long version = (long)Scalar("PRAGMA user_version;")!;
            if (version == 0) Execute($"PRAGMA user_version = {SchemaVersion};");
            else if (version != SchemaVersion)
                throw new CliInputException("--db", $"{path}: schema version {version}, this dist-softmax reads version {SchemaVersion}");
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
                    exit_code = $exit, shards = $shards WHERE id = $id;
                """;
            cmd.Parameters.AddWithValue("$id", job.Id);
            cmd.Parameters.AddWithValue("$state", job.State.Name());
            cmd.Parameters.AddWithValue("$started", (object?)Time(job.StartedAt) ?? DBNull.Value);
            cmd.Parameters.AddWithValue("$ended", (object?)Time(job.EndedAt) ?? DBNull.Value);
            cmd.Parameters.AddWithValue("$message", (object?)job.Message ?? DBNull.Value);
            cmd.Parameters.AddWithValue("$exit", (object?)job.ExitCode ?? DBNull.Value);
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
                    SELECT id, spec, state, submitted_at, started_at, ended_at, message, exit_code, out_dir, problem, solver, shards
                    FROM jobs ORDER BY seq;
                    """;
                using var r = cmd.ExecuteReader();
                while (r.Read())
                {
                    string id = r.GetString(0);
                    jobs.Add(new StoredJob(id, r.GetString(1), JobStates.Parse(r.GetString(2)), ParseTime(r.GetString(3)),
                        r.IsDBNull(4) ? null : ParseTime(r.GetString(4)), r.IsDBNull(5) ? null : ParseTime(r.GetString(5)),
                        r.IsDBNull(6) ? null : r.GetString(6), r.IsDBNull(7) ? null : r.GetInt32(7), r.GetString(8), r.GetString(9),
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
