"""solve, solve_multiple, generate and sensitivity: the dist-softmax commands on NumPy / SciPy arrays.

Arrays travel to the tool as .npy files (SciPy sparse matrices as Matrix Market .mtx, which the tool keeps sparse)
in a temporary folder that is deleted afterwards, and the results come back from the files the tool writes
(x.npy, report.json). Nothing is computed here: every number comes from the tool.
"""
import json
import tempfile
from pathlib import Path

import numpy as np
import scipy.io
import scipy.sparse
from scipy.optimize import OptimizeResult

from . import _tool


def _is_complex(value):
    """Whether ``value`` (an array, sparse matrix, scalar or nested list) holds complex numbers."""
    dtype = getattr(value, "dtype", None)
    if dtype is None:
        value = np.asarray(value)
        dtype = value.dtype
    if np.issubdtype(dtype, np.complexfloating):
        return True
    if dtype == object and not scipy.sparse.issparse(value):
        return any(isinstance(v, (complex, np.complexfloating)) for v in np.asarray(value).ravel())
    return False


def _real_array(name, value, what="real numbers"):
    """``value`` as a float64 NumPy array; ValueError naming ``name`` for complex or non-numeric entries."""
    try:
        if _is_complex(value):
            raise ValueError(f"{name}: complex values are not supported")
        return np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError) as e:
        if str(e).startswith(f"{name}: "):
            raise
        raise ValueError(f"{name}: must be {what} ({e})") from None


def _real(name, value):
    """``value`` as a Python float; ValueError naming ``name`` otherwise (complex, text, not a single number)."""
    array = _real_array(name, value, "a real number")
    if array.ndim != 0:
        raise ValueError(f"{name}: must be a single number, got an array of shape {array.shape}")
    return float(array)


def _whole(name, value):
    """``value`` as an int: ints, NumPy integers and integral floats (10.0); ValueError naming ``name`` otherwise."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name}: must be a whole number, got {value}")
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)) and np.isfinite(value) and float(value).is_integer():
        return int(value)
    shown = float(value) if isinstance(value, np.floating) else value
    raise ValueError(f"{name}: must be a whole number, got {shown!r}")


class _Inputs:
    """Writes the arrays of one call into a temporary folder and remembers which argument each file holds."""

    def __init__(self, folder):
        self.folder = Path(folder)
        self.names = {}  # file path → Python argument name (for error messages)

    def matrix(self, name, value, sparse_ok=True):
        """A 2-D array as name.npy (float64, C order), a SciPy sparse matrix as name.mtx; returns the path."""
        if scipy.sparse.issparse(value) and _is_complex(value):
            raise ValueError(f"{name}: complex values are not supported")
        if sparse_ok and scipy.sparse.issparse(value):
            path = self.folder / f"{name}.mtx"
            try:
                value = scipy.sparse.coo_matrix(value, dtype=np.float64)
            except (TypeError, ValueError) as e:
                raise ValueError(f"{name}: must be real numbers ({e})") from None
            # Every digit of every entry (17 significant digits round-trip a double); 'general' so SciPy never folds
            # a symmetric matrix into the symmetric storage format.
            scipy.io.mmwrite(str(path), value, precision=17,
                             symmetry="general")
        else:
            if scipy.sparse.issparse(value):
                value = value.toarray()
            path = self.folder / f"{name}.npy"
            np.save(path, np.ascontiguousarray(_real_array(name, value)))
        self.names[str(path)] = name
        return str(path)

    def vector(self, name, value):
        """An array as name.npy in float64, shape kept (the tool checks it)."""
        if scipy.sparse.issparse(value):
            if _is_complex(value):
                raise ValueError(f"{name}: complex values are not supported")
            value = value.toarray()
        path = self.folder / f"{name}.npy"
        np.save(path, np.ascontiguousarray(_real_array(name, value)))
        self.names[str(path)] = name
        return str(path)


def _weights(inputs, value, option, name):
    """w / W: a scalar → --w-scalar, an array → a file for ``option``."""
    if value is None:
        return []
    if np.ndim(value) == 0 and not scipy.sparse.issparse(value):
        return ["--w-scalar", _tool._text(_real(name, value))]
    if option == "--W":
        return [option, inputs.matrix(name, value, sparse_ok=False)]
    return [option, inputs.vector(name, value)]


def _check_server(server):
    """--server URL: solve on a running dist-softmax service (dist-softmax serve); refused by a tool built without it."""
    if server is None:
        return []
    if not _tool.accepts_option("solve", "--server"):
        raise NotImplementedError(
            "server=: this dist-softmax build has no 'solve --server URL' option (solving on a remote dist-softmax "
            "server is not implemented yet); run without server= to solve locally, or use a cluster through "
            "seeds=..., min_workers=...")
    return ["--server", str(server)]


def _solve(problem, files, *, solver, tol, workers, server, callback, options, inputs, folder):
    """Runs ``dist-softmax solve`` with JSON progress; returns the OptimizeResult built from its output files."""
    args = ["solve", "--problem", problem] + files
    args += ["--solver", solver, "--tol", _tool._text(_real("tol", tol))]
    if workers is not None:
        args += ["--workers", str(_whole("workers", workers))]
    args += server
    # The tool's files (x.npy, report.json, convergence.png) stay in out_dir when one is given; else they go with folder.
    out_dir = options.pop("out_dir", None)
    out_dir = Path(out_dir).resolve() if out_dir is not None else Path(folder) / "out"
    args += _tool.cli_options(options)
    args += ["--out-dir", str(out_dir), "--progress", "json"]

    def on_event(event):
        if callback is not None and event.get("event") == "iteration":
            callback(_tool.decode_numbers({k: v for k, v in event.items() if k != "event"}))

    code, events, _, stderr = _tool.run(args, inputs.names, on_event)
    finished = next((e for e in reversed(events) if e.get("event") == "finished"), None)
    files = (finished or {}).get("files") or {}
    if not files:
        # Exit 3 without files: the solve was cancelled (SIGTERM) before its first iteration, or (server=) the service
        # stopped mid-job and keeps the job to continue it; the tool's stderr says which.
        raise RuntimeError("dist-softmax: the solve ended without writing its files:\n" + stderr.strip())
    with open(files["report"], encoding="utf-8") as f:
        report = json.load(f)
    x = np.load(files["x"])
    trace = [_tool.decode_numbers(t) for t in report["trace"]]
    return OptimizeResult(
        x=x,
        fun=_tool._number(report["finalLoss"]),
        jac=None,  # the tool writes no gradient vector; its norm is report["finalGradientNorm"]
        nit=report["iterations"],
        status=code,
        success=code == _tool.EXIT_OK,
        message=report["message"],
        trace=trace,
        report=report,
    )


def solve(A, b, problem="normalized", unit="exp", w=None, solver="auto", tol=1e-8, workers=None, x0=None,
          server=None, callback=None, **options):
    """Solves a vector problem (normalized, rescaled or hyperbolic softmax regression) with dist-softmax.

    A: n×d NumPy array or SciPy sparse matrix; b: length n. ``w``: a scalar (--w-scalar) or per-row weights
    (--w), adding ½‖diag(w)Ax‖² to the loss. ``unit`` (exp, cosh, sinh, tanh) is passed for rescaled and hyperbolic only.
    ``workers``: row shards (default: the tool's, one per core, at most 4). ``x0``: starting point (d values; ``tol`` is then relative to ‖∇L‖ at the default start, not at x0). ``callback(dict)`` is
    called once per iteration as the solve runs (iteration 0 being the start), with the keys of report.json's trace
    rows (iteration, loss, gradientNorm, stepLength, rowsSampled, seconds, requests, …). Other keyword arguments are
    solve options in snake_case: ``max_iter=50`` → ``--max-iter 50``, ``uniform_sampling=True`` →
    ``--uniform-sampling``, ``hessian="exact"``, ``globalization="trust-region"``, ``backend="inprocess"``,
    ``no_analysis=True`` (``--no-analysis``: no post-solve regime in ``report``).
    ``out_dir="run1"`` keeps the tool's x.npy, report.json and convergence.png there (by default they are written to
    a temporary folder and deleted once read).

    Returns a scipy.optimize.OptimizeResult: x, fun (final loss), jac (None: not written by the tool), nit, status
    (the exit code: 0 converged, 3 stopped), success, message, trace (list of dicts), report (report.json).
    Raises ValueError for bad input (the tool's one-line message), RuntimeError for an internal error, and
    NotImplementedError for ``server`` with a dist-softmax built without solve --server.
    """
    server_args = _check_server(server)
    with tempfile.TemporaryDirectory(prefix="distsoftmax-") as folder:
        inputs = _Inputs(folder)
        files = ["--A", inputs.matrix("A", A), "--b", inputs.vector("b", b)]
        if problem in ("rescaled", "hyperbolic") or unit != "exp":
            files += ["--unit", unit]  # the tool refuses a unit other than exp for the families without one
        files += _weights(inputs, w, "--w", "w")
        if x0 is not None:
            files += ["--x0", inputs.vector("x0", x0)]
        return _solve(problem, files, solver=solver, tol=tol, workers=workers, server=server_args, callback=callback,
                      options=options, inputs=inputs, folder=folder)


def solve_multiple(A1, A2, B, problem="multiple-normalized", W=None, solver="auto", tol=1e-8, workers=None, x0=None,
                   server=None, callback=None, **options):
    """Solves multiple softmax regression min_X ‖D(X)⁻¹exp(A1 X A2ᵀ) − B‖² (or multiple-rescaled) with dist-softmax.

    A1, A2: n×d; B: n×n; ``W``: a scalar (--w-scalar) or n×n per-entry weights (--W); ``x0``: a d×d start. Without
    ``x0`` a multiple-normalized solve starts at the log-linear least-squares fit of the rows' centred log B
    (``start="auto"``, the tool's --start); ``start="zeros"`` starts at X = 0.
    Returns an OptimizeResult as :func:`solve` does, with ``x`` the d×d matrix X.
    """
    server_args = _check_server(server)
    with tempfile.TemporaryDirectory(prefix="distsoftmax-") as folder:
        inputs = _Inputs(folder)
        files = ["--A1", inputs.matrix("A1", A1, sparse_ok=False), "--A2", inputs.matrix("A2", A2, sparse_ok=False),
                 "--B", inputs.matrix("B", B, sparse_ok=False)]
        files += _weights(inputs, W, "--W", "W")
        if x0 is not None:
            files += ["--x0", inputs.vector("x0", x0)]
        return _solve(problem, files, solver=solver, tol=tol, workers=workers, server=server_args, callback=callback,
                      options=options, inputs=inputs, folder=folder)


def _load(path):
    path = Path(path)
    if path.suffix == ".mtx":
        return scipy.sparse.csr_matrix(scipy.io.mmread(str(path)))
    return np.load(path)


def generate(problem, n, d, seed=1, out_dir=None, **options):
    """Runs ``dist-softmax generate`` and returns its arrays as a dict by file stem.

    Vector problems: {"A", "b", "x_true"} (A a SciPy CSR matrix with ``sparse=True``); matrix problems:
    {"A1", "A2", "B", "X_true"}. Options as for the command: ``unit="cosh"``, ``sparse=True``, ``density=0.2``,
    ``planted=True``, ``noise=0.05``, ``x_scale=1.0``. With ``out_dir`` the files stay there; otherwise they are
    written to a temporary folder and deleted.
    """
    sizes = [str(_whole("n", n)), str(_whole("d", d)), str(_whole("seed", seed))]

    def run(folder):
        args = ["generate", "--problem", problem, "--n", sizes[0], "--d", sizes[1], "--seed", sizes[2]]
        args += _tool.cli_options(options) + ["--out-dir", str(folder)]
        _, _, stdout, _ = _tool.run(args)
        # generate lists the files it wrote, one per line, indented, between "wrote …:" and "solve it with:".
        listed = []
        for line in stdout.splitlines()[1:]:
            if line.strip() == "solve it with:":
                break
            if line.startswith("  "):
                listed.append(Path(folder) / line.strip())  # absolute paths stay absolute
        return {p.stem: _load(p) for p in listed}

    if out_dir is not None:
        return run(Path(out_dir).resolve())
    with tempfile.TemporaryDirectory(prefix="distsoftmax-") as folder:
        return run(Path(folder) / "instance")


def sensitivity(instance=None, *, A=None, b=None, w=None, A1=None, A2=None, B=None, W=None, problem="normalized",
                out_dir=None, **options):
    """Runs ``dist-softmax sensitivity`` and returns its report.json as a dict.

    The data are arrays as for :func:`solve` / :func:`solve_multiple` (A and b, optional w, for vector problems;
    A1, A2 and B, optional W, for matrix problems; a scalar w / W is ``--w-scalar``; no regulariser by default),
    or a directory written by :func:`generate` (``instance=``), or, with neither, an instance the command
    generates (``n=``, ``d=``, ``seed=``). Other options as for the command: ``epsilons=[1e-3, 1e-4]``,
    ``worst_epsilons=[1e-4]``, ``draws=2``, ``unit="cosh"``, ``x0=…`` (a file path), ``backend="inprocess"``
    (one process, no workers) or ``workers=2`` (the local simulation's; the two together are refused),
    ``perturb=["A1", "B"]``. The constants are under ``report["lipschitz"]``: ``worstCase``,
    ``randomDirections``, ``finiteDifference``, ``fixedX``. With ``out_dir`` the command's files (report.json,
    sensitivity.png, x.npy, worst-direction*.npy) stay there; otherwise they are deleted.
    """
    given = {k: v for k, v in dict(A=A, b=b, A1=A1, A2=A2, B=B).items() if v is not None}
    if instance is not None and (given or w is not None or W is not None):
        raise ValueError("instance: give either an instance directory or arrays, not both")
    with tempfile.TemporaryDirectory(prefix="distsoftmax-") as folder:
        inputs = _Inputs(Path(folder))
        args = ["sensitivity", "--problem", problem]
        if given:
            if set(given) == {"A", "b"}:
                args += ["--A", inputs.matrix("A", A), "--b", inputs.vector("b", b)] + _weights(inputs, w, "--w", "w")
            elif set(given) == {"A1", "A2", "B"}:
                for name in ("A1", "A2", "B"):
                    args += ["--" + name, inputs.matrix(name, given[name], sparse_ok=False)]
                args += _weights(inputs, W, "--W", "W")
            else:
                raise ValueError("A, b, A1, A2, B: give A and b (vector problems) or A1, A2 and B (matrix problems)")
        else:
            args += _weights(inputs, w if w is not None else W, "--w", "w")
        if instance is not None:
            args += ["--instance", str(Path(instance).resolve())]
        target = Path(out_dir).resolve() if out_dir is not None else Path(folder) / "out"
        args += _tool.cli_options(options) + ["--out-dir", str(target)]
        _tool.run(args, inputs.names)
        with open(target / "report.json", encoding="utf-8") as f:
            return json.load(f)
