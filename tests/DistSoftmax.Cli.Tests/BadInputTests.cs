namespace DistSoftmax.Cli.Tests;

/// <summary>
/// Every kind of bad input ends with exit code 2, exactly one line on stderr of the form
/// "error: &lt;file or option&gt;: &lt;what is wrong&gt;", nothing on stdout and no output file.
/// </summary>
public class BadInputTests
{
    private const int N = 30, D = 3;

    /// <summary>A valid normalized instance written by hand: A.npy (30×3), b.npy (a distribution), w.npy, x0.npy.</summary>
    private static void WriteValidInstance(TempDir dir)
    {
        var a = Enumerable.Range(0, N * D).Select(k => Math.Sin(k + 1.0) / 2).ToArray();
        dir.Write("A.npy", NpyBytes.Matrix(N, D, a));
        dir.Write("b.npy", NpyBytes.Vector(Enumerable.Repeat(1.0 / N, N).ToArray()));
        dir.Write("w.npy", NpyBytes.Vector(Enumerable.Repeat(0.5, N).ToArray()));
        dir.Write("x0.npy", NpyBytes.Vector(0.1, 0.2, 0.3));
    }

    private static readonly string[] Valid = ["solve", "--A", "A.npy", "--b", "b.npy"];

    /// <summary>Case name → (files to write, arguments, expected start of the message after "error: ").</summary>
    private static (Action<TempDir> Setup, string[] Args, string Expected) Case(string name, TempDir dir) => name switch
    {
        "b length differs from the rows of A" => (d => d.Write("b.npy", NpyBytes.Vector(Enumerable.Repeat(1.0 / 29, 29).ToArray())),
            Valid, $"{dir.File("b.npy")}: has 29 entries but A ({dir.File("A.npy")}) has 30 rows"),
        "NaN in A" => (d => d.Write("A.npy", NpyBytes.Matrix(N, D, Enumerable.Range(0, N * D).Select(k => k == 13 ? double.NaN : 0.1).ToArray())),
            Valid, $"{dir.File("A.npy")}: non-finite value NaN at index (row 4, col 1) (0-based)"),
        "infinity in b" => (d => d.Write("b.npy", NpyBytes.Vector(Enumerable.Range(0, N).Select(i => i == 7 ? double.PositiveInfinity : 0.0).ToArray())),
            Valid, $"{dir.File("b.npy")}: non-finite value +Infinity at index [7] (0-based)"),
        "empty A file" => (d => d.Write("A.npy", []), Valid, $"{dir.File("A.npy")}: not a .npy file"),
        "truncated A file" => (d => d.Write("A.npy", NpyBytes.Matrix(N, D, new double[N * D])[..200]), Valid,
            $"{dir.File("A.npy")}: header shape (30, 3) needs 720 bytes of float64 data but the file has"),
        "malformed npy header" => (d => d.Write("A.npy", NpyBytes.Build("{'descr': '<f8', 'shape': (30, 3)", new byte[720])), Valid,
            $"{dir.File("A.npy")}: malformed .npy header dict"),
        "unsupported dtype" => (d => d.Write("A.npy", NpyBytes.Build("{'descr': '<c16', 'fortran_order': False, 'shape': (30, 3), }", new byte[1440])), Valid,
            $"{dir.File("A.npy")}: unsupported dtype '<c16' (complex128)"),
        "b is a matrix" => (d => d.Write("b.npy", NpyBytes.Matrix(N, 2, new double[2 * N])), Valid,
            $"{dir.File("b.npy")}: expected a vector"),
        "missing file" => (_ => { }, ["solve", "--A", "nothere.npy", "--b", "b.npy"], $"{dir.File("nothere.npy")}: file not found"),
        "unsupported extension" => (d => d.WriteText("A.dat", "1 2 3"), ["solve", "--A", "A.dat", "--b", "b.npy"],
            $"{dir.File("A.dat")}: unsupported file extension '.dat'"),
        "malformed Matrix Market file" => (d => d.WriteText("A.mtx", "%%MatrixMarket matrix coordinate real\n30 3 1\n1 1 1.0\n"),
            ["solve", "--A", "A.mtx", "--b", "b.npy"], $"{dir.File("A.mtx")}: line 1: the banner needs 4 words"),
        "Matrix Market entry out of range" => (d => d.WriteText("A.mtx", "%%MatrixMarket matrix coordinate real general\n30 3 1\n31 1 1.0\n"),
            ["solve", "--A", "A.mtx", "--b", "b.npy"], $"{dir.File("A.mtx")}: line 3:"),
        "non-numeric CSV" => (d => d.WriteText("A.csv", "x,1,2\n"), ["solve", "--A", "A.csv", "--b", "b.npy"],
            $"{dir.File("A.csv")}: line 1, column 1: 'x' is not a number"),
        "w length differs" => (d => d.Write("w.npy", NpyBytes.Vector(1, 2)), [.. Valid, "--w", "w.npy"],
            $"{dir.File("w.npy")}: has 2 entries but A ({dir.File("A.npy")}) has 30 rows"),
        "x0 length differs" => (d => d.Write("x0.npy", NpyBytes.Vector(1, 2)), [.. Valid, "--x0", "x0.npy"],
            $"{dir.File("x0.npy")}: has 2 entries but the problem has 3 unknowns (the columns of A)"),
        "NaN in x0" => (d => d.Write("x0.npy", NpyBytes.Vector(1, double.NaN, 2)), [.. Valid, "--x0", "x0.npy"],
            $"{dir.File("x0.npy")}: non-finite value NaN at index [1] (0-based)"),
        "w and w-scalar together" => (_ => { }, [.. Valid, "--w", "w.npy", "--w-scalar", "2"], "--w-scalar: cannot be combined with --w"),
        "non-finite w-scalar" => (_ => { }, [.. Valid, "--w-scalar", "NaN"], "--w-scalar: must be a finite number"),
        "unknown option" => (_ => { }, [.. Valid, "--frobnicate", "3"], "--frobnicate: unknown option (see 'dist-softmax solve --help')"),
        "unexpected argument" => (_ => { }, [.. Valid, "stray"], "stray: unexpected argument"),
        "unknown command" => (_ => { }, ["optimise"], "optimise: unexpected argument (see 'dist-softmax --help')"),
        "unknown solver" => (_ => { }, [.. Valid, "--solver", "magic"], "--solver: unknown value 'magic' (allowed: auto, approx-newton, newton, newton-cg, lbfgs, gd)"),
        "unknown problem" => (_ => { }, [.. Valid, "--problem", "softmax"], "--problem: unknown value 'softmax'"),
        "unknown unit" => (_ => { }, [.. Valid, "--problem", "rescaled", "--unit", "tan"], "--unit: unknown value 'tan'; did you mean 'tanh'? (allowed: exp, cosh, sinh, tanh)"),
        "unit for a problem without one" => (_ => { }, [.. Valid, "--unit", "cosh"], "--unit: --problem normalized has no unit"),
        "not a number" => (_ => { }, [.. Valid, "--tol", "abc"], "--tol: 'abc' is not a number"),
        "not an integer" => (_ => { }, [.. Valid, "--max-iter", "2.5"], "--max-iter: '2.5' is not an integer"),
        "integer out of range" => (_ => { }, [.. Valid, "--max-iter", "99999999999"], "--max-iter: 99999999999 is out of range (at most 2147483647)"),
        "seed out of range" => (_ => { }, [.. Valid, "--seed", "99999999999999999999"], "--seed: 99999999999999999999 is out of range (at most 18446744073709551615)"),
        "missing option value" => (_ => { }, [.. Valid, "--max-iter"], "--max-iter: a value is required"),
        "negative tolerance" => (_ => { }, [.. Valid, "--tol", "-1"], "--tol: must be a finite number ≥ 0"),
        "epsilon out of range" => (_ => { }, [.. Valid, "--epsilon", "1.5"], "--epsilon: must be in (0, 1)"),
        "no workers" => (_ => { }, [.. Valid, "--workers", "0"], "--workers: must be at least 1 (got 0)"),
        "too many workers" => (_ => { }, [.. Valid, "--workers", "1000000"], "--workers: must be at most 1024 (got 1000000)"),
        "more workers than rows" => (_ => { }, [.. Valid, "--workers", "1000"], "--workers: must be at most the problem's"),
        "b without A" => (_ => { }, ["solve", "--b", "b.npy"], "--A: is required with --b"),
        "A without b" => (_ => { }, ["solve", "--A", "A.npy"], "--b: is required with --A"),
        "data for another problem kind" => (_ => { }, [.. Valid, "--A1", "A.npy"], "--A1: is for matrix problems"),
        "vector files for a matrix problem" => (_ => { }, [.. Valid, "--problem", "multiple-normalized"], "--A: is for vector problems"),
        "matrix shapes disagree" => (d =>
            {
                d.Write("A1.npy", NpyBytes.Matrix(4, 2, 1, 0, 0, 1, 1, 1, 1, -1));
                d.Write("B.npy", NpyBytes.Matrix(4, 3, Enumerable.Repeat(0.25, 12).ToArray()));
            }, ["solve", "--problem", "multiple-rescaled", "--A1", "A1.npy", "--A2", "A1.npy", "--B", "B.npy"],
            $"{dir.File("B.npy")}: is 4×3 but must be 4×4"),
        "demo with another problem" => (_ => { }, ["solve", "--problem", "hyperbolic"], "--A: is required for --problem hyperbolic"),
        "cluster option without seeds" => (_ => { }, [.. Valid, "--min-workers", "2"], "--min-workers: is only used with --seeds"),
        "malformed seed address" => (_ => { }, [.. Valid, "--seeds", "127.0.0.1:4053,localhost:http"],
            "--seeds: 'localhost:http' is not a seed address (expected HOST:PORT or akka.tcp://distsoftmax@HOST:PORT)"),
        "backend with seeds" => (_ => { }, [.. Valid, "--seeds", "akka.tcp://distsoftmax@127.0.0.1:4053", "--backend", "inprocess"],
            "--backend: cannot be combined with --seeds"),
        "out-dir is a file" => (_ => { }, [.. Valid, "--out-dir", "A.npy"], $"--out-dir: {dir.File("A.npy")} is a file, not a directory"),
        "out-dir below a file" => (_ => { }, [.. Valid, "--out-dir", "b.npy/sub/out"],
            $"--out-dir: cannot create {dir.File("b.npy/sub/out")}: {dir.File("b.npy")} is a file, not a directory"),
        _ => throw new ArgumentException(name),
    };

    public static TheoryData<string> Cases() => new(
        "b length differs from the rows of A", "NaN in A", "infinity in b", "empty A file", "truncated A file", "malformed npy header",
        "unsupported dtype", "b is a matrix", "missing file", "unsupported extension", "malformed Matrix Market file",
        "Matrix Market entry out of range", "non-numeric CSV", "w length differs", "x0 length differs", "NaN in x0",
        "w and w-scalar together", "non-finite w-scalar", "unknown option", "unexpected argument", "unknown command", "unknown solver",
        "unknown problem", "unknown unit", "unit for a problem without one", "not a number", "not an integer", "integer out of range",
        "seed out of range", "missing option value",
        "negative tolerance", "epsilon out of range", "no workers", "too many workers", "more workers than rows", "b without A", "A without b", "data for another problem kind",
        "vector files for a matrix problem", "matrix shapes disagree", "demo with another problem",
        "cluster option without seeds", "malformed seed address", "backend with seeds", "out-dir is a file", "out-dir below a file");

    [Theory]
    [MemberData(nameof(Cases))]
    public void Bad_input_gives_one_error_line_exit_code_2_and_no_output(string name)
    {
        using var dir = new TempDir();
        WriteValidInstance(dir);
        var (setup, args, expected) = Case(name, dir);
        setup(dir);
        var before = Directory.GetFileSystemEntries(dir.Path).Order().ToArray();

        var run = Cli.Run(dir.Path, args);

        Assert.True(run.Code == 2, run.ToString());
        Assert.Equal("", run.Out);
        string line = Assert.Single(run.ErrLines);
        Assert.StartsWith("error: " + expected, line);
        Assert.DoesNotContain("   at ", run.Err);
        // Nothing was written: the directory holds exactly what the test put there.
        Assert.Equal(before, Directory.GetFileSystemEntries(dir.Path).Order().ToArray());
    }

    [Fact]
    public void An_output_that_would_overwrite_an_input_is_refused_and_the_input_kept()
    {
        using var dir = new TempDir();
        WriteValidInstance(dir);
        Directory.CreateDirectory(dir.File("out"));
        byte[] x0 = NpyBytes.Vector(0.1, 0.2, 0.3);
        dir.Write("out/x.npy", x0);
        var run = Cli.Run(dir.Path, [.. Valid, "--x0", "out/x.npy", "--out-dir", "out"]);
        Assert.True(run.Code == 2, run.ToString());
        Assert.Equal($"error: --out-dir: writing {dir.File("out/x.npy")} would overwrite the input file given by --x0; choose another --out-dir",
            Assert.Single(run.ErrLines));
        Assert.Equal(new[] { "x.npy" }, Directory.GetFiles(dir.File("out")).Select(Path.GetFileName));
        Assert.Equal(x0, File.ReadAllBytes(dir.File("out/x.npy")));

        // The same through a relative path that spells the directory differently.
        var run2 = Cli.Run(dir.Path, [.. Valid, "--x0", "./out/../out/x.npy", "--out-dir", "out/."]);
        Assert.Equal(2, run2.Code);
        Assert.Contains("would overwrite the input file given by --x0", run2.Err);
    }

    public static TheoryData<string[], string> GenerateCases() => new()
    {
        { ["generate", "--n", "10"], "--out-dir: is required" },
        { ["generate", "--out-dir", "g", "--n", "0"], "--n: must be at least 1" },
        { ["generate", "--out-dir", "g", "--d", "-3"], "--d: must be at least 1" },
        { ["generate", "--out-dir", "g", "--n", "2000000000", "--d", "2000000000"],
          $"--n: 2000000000 × --d 2000000000 = 4000000000000000000 entries is too large for one matrix (at most {Array.MaxLength})" },
        { ["generate", "--out-dir", "g", "--problem", "multiple-normalized", "--n", "100000"], "--n: 100000 is too large for a matrix problem (B is n×n)" },
        { ["generate", "--out-dir", "g", "--sparse", "--density", "0"], "--density: must be in (0, 1]" },
        { ["generate", "--out-dir", "g", "--density", "0.5"], "--density: is only used with --sparse" },
        { ["generate", "--out-dir", "g", "--problem", "rescaled", "--noise", "0.1"], "--noise: is not available for rescaled instances" },
        { ["generate", "--out-dir", "g", "--noise", "2"], "--noise: must be in [0, 1]" },
        { ["generate", "--out-dir", "g", "--planted", "--noise", "0.5"], "--noise: must be 0 (or absent) for a --planted instance" },
        { ["generate", "--out-dir", "g", "--problem", "hyperbolic", "--x-scale", "1e6"], "--x-scale: u(A x_true) overflows" },
        { ["generate", "--out-dir", "g", "--x-scale", "1e308"], "--x-scale: A x_true overflows" },
        { ["generate", "--out-dir", "g", "--problem", "multiple-normalized", "--n", "20", "--d", "3", "--x-scale", "1e308"], "--x-scale: A1 X_true A2ᵀ overflows" },
        { ["generate", "--out-dir", "g", "--problem", "multiple-normalized", "--sparse"], "--sparse: is only available for vector problems" },
        { ["generate", "--out-dir", "g", "--unit", "sinh"], "--unit: --problem normalized has no unit" },
        { ["generate", "--out-dir", "g", "--seed", "-1"], "--seed: '-1' is not a non-negative integer" },
    };

    [Theory]
    [MemberData(nameof(GenerateCases))]
    public void Bad_generate_arguments_give_one_error_line_and_write_nothing(string[] args, string expected)
    {
        using var dir = new TempDir();
        var run = Cli.Run(dir.Path, args);
        Assert.True(run.Code == 2, run.ToString());
        Assert.StartsWith("error: " + expected, Assert.Single(run.ErrLines));
        Assert.Empty(Directory.GetFileSystemEntries(dir.Path));
    }
}
