"""distsoftmax.solve against SciPy on the same instance, sparse input, weights, bad input, stopping and callbacks."""
import json

import numpy as np
import pytest
import scipy.optimize
import scipy.sparse

import distsoftmax
from conftest import softmax


def loss_and_gradient(x, A, b):
    """L(x) = ½‖softmax(Ax) − b‖² and ∇L = Aᵀ(f∘c − ⟨f,c⟩f), f = softmax(Ax), c = f − b (written here, not imported)."""
    f = softmax(A @ x)
    c = f - b
    return 0.5 * c @ c, A.T @ (f * c - (f @ c) * f)


def test_solve_agrees_with_scipy_lbfgsb_in_x_and_loss(normalized_instance):
    A, b = normalized_instance
    reference = scipy.optimize.minimize(loss_and_gradient, np.zeros(A.shape[1]), args=(A, b), jac=True,
                                        method="L-BFGS-B", options={"gtol": 1e-15, "ftol": 0.0, "maxiter": 20000})
    g0 = np.linalg.norm(loss_and_gradient(np.zeros(A.shape[1]), A, b)[1])
    assert np.linalg.norm(loss_and_gradient(reference.x, A, b)[1]) <= 1e-7 * g0, reference.message

    res = distsoftmax.solve(A, b, tol=1e-10, workers=2)
    assert res.success and res.status == 0, res.message
    assert res.x.shape == (8,)
    np.testing.assert_allclose(res.x, reference.x, rtol=1e-6, atol=1e-7)
    assert res.fun == pytest.approx(reference.fun, rel=1e-10)
    # The reported loss is the loss at the returned x, and x is a stationary point.
    loss, grad = loss_and_gradient(res.x, A, b)
    assert res.fun == pytest.approx(loss, rel=1e-12)
    assert np.linalg.norm(grad) <= 1e-9 * g0
    assert res.jac is None
    assert res.nit == res.report["iterations"] == len(res.trace) - 1
    assert res.report["problem"] == "normalized" and res.report["sizes"] == {
        "n": 500, "d": 8, "unknowns": 8, "nnz": 4000, "targetColumns": None}


def test_sparse_input_is_passed_as_matrix_market_and_solved_like_the_dense_matrix():
    rng = np.random.default_rng(7)
    A = scipy.sparse.random(400, 6, density=0.3, random_state=rng, format="csr") * 3.0
    b = softmax(A @ rng.standard_normal(6))
    sparse = distsoftmax.solve(A, b, tol=1e-10, workers=2, backend="inprocess")
    dense = distsoftmax.solve(A.toarray(), b, tol=1e-10, workers=2, backend="inprocess")
    assert sparse.success and dense.success
    assert sparse.report["inputs"]["--A"].endswith(".mtx")
    assert sparse.report["sizes"]["nnz"] == A.nnz
    np.testing.assert_allclose(sparse.x, dense.x, rtol=1e-8, atol=1e-10)
    assert sparse.fun == pytest.approx(dense.fun, rel=1e-10, abs=1e-20)


def test_scalar_and_per_row_weights_give_the_same_solve(normalized_instance):
    A, b = normalized_instance
    scalar = distsoftmax.solve(A, b, w=0.05, tol=1e-10, backend="inprocess")
    rows = distsoftmax.solve(A, b, w=np.full(A.shape[0], 0.05), tol=1e-10, backend="inprocess")
    assert "--w-scalar" in scalar.report["arguments"]
    assert "--w" in rows.report["inputs"]
    np.testing.assert_allclose(scalar.x, rows.x, rtol=1e-8, atol=1e-10)
    # The regulariser is part of the loss: ½‖softmax(Ax) − b‖² + ½‖w·Ax‖².
    expected = loss_and_gradient(scalar.x, A, b)[0] + 0.5 * 0.05 ** 2 * np.sum((A @ scalar.x) ** 2)
    assert scalar.fun == pytest.approx(expected, rel=1e-10)


def test_bad_input_raises_value_error_with_the_tools_message(normalized_instance):
    A, b = normalized_instance
    with pytest.raises(ValueError) as short_b:
        distsoftmax.solve(A, b[:-1])
    message = str(short_b.value)
    assert message == "b: has 499 entries but A has 500 rows"  # not "… but A (A) has …" from the path's "A (path)"
    assert "error:" not in message and "/tmp" not in message and "\n" not in message
    with pytest.raises(ValueError) as short_w:
        distsoftmax.solve(A, b, w=np.ones(5))
    assert str(short_w.value) == "w: has 5 entries but A has 500 rows"

    bad = A.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match=r"^A: .*NaN"):
        distsoftmax.solve(bad, b)
    with pytest.raises(ValueError, match=r"^--tol: "):
        distsoftmax.solve(A, b, tol=-1.0)
    with pytest.raises(ValueError, match=r"^--no-such-option: unknown option"):
        distsoftmax.solve(A, b, no_such_option=3)


def test_stopping_early_is_a_result_with_success_false(normalized_instance):
    A, b = normalized_instance
    res = distsoftmax.solve(A, b, solver="gd", max_iter=2, backend="inprocess")
    assert res.status == 3 and not res.success
    assert res.nit == 2
    assert res.report["exit"] == "max-iterations"
    assert res.message.startswith("reached 2 iterations")
    assert res.x.shape == (8,)


def test_callback_is_called_once_per_iteration_while_the_solve_runs(normalized_instance):
    A, b = normalized_instance
    calls = []
    res = distsoftmax.solve(A, b, solver="newton", hessian="exact", globalization="trust-region", max_iter=12,
                            callback=calls.append, x0=np.full(A.shape[1], 0.1))
    assert [c["iteration"] for c in calls] == list(range(res.nit + 1))
    assert calls == res.trace
    assert {"iteration", "loss", "gradientNorm", "stepLength", "rowsSampled", "seconds", "requests"} <= set(calls[0])
    assert res.report["start"].startswith("file ")


def test_server_goes_to_the_tools_solve_server_option(normalized_instance):
    # The tool has 'solve --server URL' (dist-softmax serve); a service nobody runs is the tool's bad input.
    A, b = normalized_instance
    with pytest.raises(ValueError, match=r"^--server: cannot reach http://127\.0\.0\.1:1/"):
        distsoftmax.solve(A, b, server="http://127.0.0.1:1")


def test_options_map_to_kebab_case_flags():
    assert distsoftmax.cli_options({
        "max_iter": 50, "uniform_sampling": True, "planted": False, "seed": None, "hessian": "exact",
        "globalization": "trust-region", "tol": 1e-8, "epsilons": [1e-2, 0.001], "x_scale": np.float64(0.1),
    }) == ["--max-iter", "50", "--uniform-sampling", "--hessian", "exact", "--globalization", "trust-region",
           "--tol", "1e-08", "--epsilons", "0.01,0.001", "--x-scale", "0.1"]


def test_the_callback_sees_iterations_while_the_tool_runs(normalized_instance):
    """A callback that raises at iteration 3 ends a solve of a million gradient steps at once: the events are read as
    the tool writes them, not after it exits (which would take many minutes)."""
    import time
    A, b = normalized_instance
    seen = []

    def stop(entry):
        seen.append(entry["iteration"])
        if entry["iteration"] == 3:
            raise KeyError("stop here")

    started = time.monotonic()
    with pytest.raises(KeyError, match="stop here"):
        distsoftmax.solve(A, b, solver="gd", tol=0.0, max_iter=1_000_000, stall_iter=1_000_000, callback=stop)
    assert seen == [0, 1, 2, 3]
    assert time.monotonic() - started < 60


def test_out_dir_keeps_the_tools_files(normalized_instance, tmp_path):
    A, b = normalized_instance
    res = distsoftmax.solve(A, b, out_dir=tmp_path / "run", backend="inprocess")
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["convergence.png", "report.json", "x.npy"]
    np.testing.assert_array_equal(np.load(tmp_path / "run" / "x.npy"), res.x)
    assert res.report["files"]["report"] == str(tmp_path / "run" / "report.json")


def test_complex_input_is_refused_naming_the_argument(normalized_instance):
    """Complex arrays were cast to float64 with only NumPy's ComplexWarning: the imaginary part was silently dropped."""
    import warnings
    A, b = normalized_instance
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no ComplexWarning either: the ValueError comes first
        with pytest.raises(ValueError, match=r"^A: complex values are not supported$"):
            distsoftmax.solve(A + 1j, b)
        with pytest.raises(ValueError, match=r"^A: complex values are not supported$"):
            distsoftmax.solve(scipy.sparse.csr_matrix(A + 1j), b)
        with pytest.raises(ValueError, match=r"^b: complex values are not supported$"):
            distsoftmax.solve(A, b.astype(complex))
        with pytest.raises(ValueError, match=r"^w: complex values are not supported$"):
            distsoftmax.solve(A, b, w=0.1j)
        with pytest.raises(ValueError, match=r"^x0: complex values are not supported$"):
            distsoftmax.solve(A, b, x0=[1j] * A.shape[1])
        with pytest.raises(ValueError, match=r"^B: complex values are not supported$"):
            distsoftmax.solve_multiple(A[:4, :2], A[:4, :2], np.ones((4, 4), dtype=complex))


def test_non_numeric_input_is_refused_naming_the_argument(normalized_instance):
    """Text where numbers belong raised NumPy's bare "could not convert string to float: 'a'"."""
    A, b = normalized_instance
    with pytest.raises(ValueError, match=r"^A: must be real numbers \(could not convert string to float: 'a'\)$"):
        distsoftmax.solve(np.array([["a", "b"]]), b)
    with pytest.raises(ValueError, match=r"^tol: must be a real number \(.*'abc'"):
        distsoftmax.solve(A, b, tol="abc")
    with pytest.raises(ValueError, match=r"^w: must be a real number "):
        distsoftmax.solve(A, b, w="heavy")
    with pytest.raises(ValueError, match=r"^b: must be real numbers "):
        distsoftmax.solve(A, ["x"] * A.shape[0])


@pytest.mark.parametrize("error", [KeyboardInterrupt, KeyError])
def test_an_interrupted_solve_stops_the_tool_with_sigterm_not_sigkill(normalized_instance, tmp_path, error):
    """Interrupting solve (a callback raising, Ctrl+C) must stop the child as Ctrl+C / SIGTERM would: a local solve
    then ends at its next iteration with exit 3, writing report.json (exit "cancelled") and keeping its checkpoint, and
    a solve --server client cancels its job on the service. SIGKILL left no report (and a server job running)."""
    A, b = normalized_instance
    out = tmp_path / "run"

    def interrupt(entry):
        if entry["iteration"] == 2:
            raise error("interrupted")

    with pytest.raises(error, match="interrupted"):
        distsoftmax.solve(A, b, solver="gd", tol=0.0, max_iter=1_000_000, stall_iter=1_000_000, callback=interrupt,
                          out_dir=out, backend="inprocess")
    report = json.loads((out / "report.json").read_text(encoding="utf-8"))
    assert report["exit"] == "cancelled"
    assert report["iterations"] >= 2
    assert (out / "checkpoint.json").is_file()  # resumable: dist-softmax solve --resume out
    assert (out / "x.npy").is_file()


def test_stop_kills_a_child_that_does_not_exit_within_the_timeout():
    """stop waits a bounded time after SIGTERM, then kills: an interrupted call never hangs on a stuck child."""
    import subprocess
    import time
    from distsoftmax import _tool
    proc = subprocess.Popen(["/bin/sh", "-c", "trap '' TERM; echo ready; exec sleep 30"], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "ready"
    started = time.monotonic()
    _tool.stop(proc, timeout=0.5)
    assert proc.returncode == -9  # SIGKILL after the SIGTERM was ignored
    assert time.monotonic() - started < 10
    proc.stdout.close()
