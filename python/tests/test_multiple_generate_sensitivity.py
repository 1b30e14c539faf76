"""solve_multiple on a planted instance, generate, sensitivity."""
import numpy as np
import pytest
import scipy.sparse

import distsoftmax


def row_softmax(M):
    U = np.exp(M - M.max(axis=1, keepdims=True))
    return U / U.sum(axis=1, keepdims=True)


def test_solve_multiple_recovers_a_planted_X_as_a_d_by_d_matrix():
    rng = np.random.default_rng(11)
    n, d = 24, 3
    A1, A2 = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    X_true = 0.5 * rng.standard_normal((d, d))  # not symmetric: a transposed answer would not pass
    B = row_softmax(A1 @ X_true @ A2.T)
    calls = []
    res = distsoftmax.solve_multiple(A1, A2, B, tol=1e-10, callback=calls.append, workers=2)
    assert res.success, res.message
    assert res.x.shape == (d, d)
    np.testing.assert_allclose(res.x, X_true, atol=1e-6)
    assert res.fun < 1e-16
    assert len(calls) == res.nit + 1
    assert res.report["problem"] == "multiple-normalized"
    assert res.report["sizes"]["unknowns"] == d * d


def test_solve_multiple_starts_log_linear_by_default_and_from_zeros_when_asked():
    rng = np.random.default_rng(13)
    n, d = 40, 3
    A1, A2 = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    # Noisy targets (a large-residual problem): the minimiser is not the log-linear start itself.
    B = 0.7 * row_softmax(A1 @ rng.standard_normal((d, d)) @ A2.T) + 0.3 * rng.dirichlet(np.ones(n), size=n)
    res = distsoftmax.solve_multiple(A1, A2, B, tol=1e-10)
    zeros = distsoftmax.solve_multiple(A1, A2, B, tol=1e-10, start="zeros")
    assert res.success and zeros.success, (res.message, zeros.message)
    assert res.report["start"].startswith("log-linear")
    assert zeros.report["start"] == "zeros"
    np.testing.assert_allclose(res.x, zeros.x, atol=1e-7)


def test_solve_multiple_with_a_scalar_weight_and_a_bad_B():
    rng = np.random.default_rng(12)
    n, d = 16, 2
    A1, A2 = rng.standard_normal((n, d)), rng.standard_normal((n, d))
    B = row_softmax(A1 @ rng.standard_normal((d, d)) @ A2.T)
    res = distsoftmax.solve_multiple(A1, A2, B, W=0.1, tol=1e-9)
    assert res.success and "--w-scalar" in res.report["arguments"]
    with pytest.raises(ValueError) as bad_B:
        distsoftmax.solve_multiple(A1, A2, B[:, :-1])
    assert str(bad_B.value) == f"B: is {n}×{n - 1} but must be {n}×{n} (rows of A1 × rows of A2)"


def test_generate_returns_the_arrays_and_is_reproducible(tmp_path):
    first = distsoftmax.generate("normalized", 60, 4, seed=3)
    assert set(first) == {"A", "b", "x_true"}
    assert first["A"].shape == (60, 4) and first["b"].shape == (60,) and first["x_true"].shape == (4,)
    assert first["b"].sum() == pytest.approx(1.0)
    kept = distsoftmax.generate("normalized", 60, 4, seed=3, out_dir=tmp_path / "inst")
    for key in first:
        np.testing.assert_array_equal(first[key], kept[key])
    assert (tmp_path / "inst" / "A.npy").is_file()

    sparse = distsoftmax.generate("hyperbolic", 80, 5, seed=4, unit="sinh", sparse=True, density=0.2)
    assert scipy.sparse.issparse(sparse["A"]) and sparse["A"].shape == (80, 5)

    matrix = distsoftmax.generate("multiple-normalized", 10, 2, planted=True)
    assert {k: v.shape for k, v in matrix.items()} == {"A1": (10, 2), "A2": (10, 2), "B": (10, 10), "X_true": (2, 2)}
    # Planted: X_true is an exact zero of the loss, and solve_multiple finds it.
    res = distsoftmax.solve_multiple(matrix["A1"], matrix["A2"], matrix["B"], tol=1e-10)
    np.testing.assert_allclose(res.x, matrix["X_true"], atol=1e-6)

    with pytest.raises(ValueError, match=r"^--n: "):
        distsoftmax.generate("normalized", 0, 4)


def test_sensitivity_returns_its_report_for_a_generated_and_a_given_instance():
    options = dict(n=80, d=3, draws=1, epsilons=[1e-3, 1e-4], backend="inprocess")
    report = distsoftmax.sensitivity(**options)
    assert report["tool"] == "dist-softmax" and report["command"] == "sensitivity" and report["version"]
    assert report["sizes"]["n"] == 80 and report["sizes"]["d"] == 3
    assert report["source"]["parameters"]["n"] == 80  # a JSON number
    lipschitz = report["lipschitz"]
    assert len(lipschitz["randomDirections"]["perturbations"]) == 2
    worst = lipschitz["worstCase"]
    assert all(p["solutionRatio"] <= worst * (1 + 1e-3) for p in lipschitz["randomDirections"]["perturbations"])
    assert abs(lipschitz["finiteDifference"][-1]["ratio"] / worst - 1) < 1e-3
    assert set(lipschitz["fixedX"]) >= {"output", "loss", "gradient"}

    inst = distsoftmax.generate("normalized", 80, 3, seed=2)
    given = distsoftmax.sensitivity(A=inst["A"], b=inst["b"], w=0.1, draws=1, epsilons=[1e-3], backend="inprocess")
    assert given["sizes"]["n"] == 80 and given["source"]["kind"] == "files"
    assert given["regularizer"] == "w = 0.1 on every row"
    with pytest.raises(ValueError, match=r"^--worst-epsilons: "):
        distsoftmax.sensitivity(n=20, d=2, worst_epsilons=[0.0])


def test_generate_refuses_fractional_sizes_and_accepts_integral_ones():
    """int(10.7) quietly generated n = 10."""
    with pytest.raises(ValueError, match=r"^n: must be a whole number, got 10\.7$"):
        distsoftmax.generate("normalized", 10.7, 2)
    with pytest.raises(ValueError, match=r"^d: must be a whole number, got 2\.5$"):
        distsoftmax.generate("normalized", 10, np.float64(2.5))
    with pytest.raises(ValueError, match=r"^seed: must be a whole number, got 1\.5$"):
        distsoftmax.generate("normalized", 10, 2, seed=1.5)
    inst = distsoftmax.generate("normalized", 10.0, np.int64(2), seed=np.uint8(3))
    assert inst["A"].shape == (10, 2)
    np.testing.assert_array_equal(inst["A"], distsoftmax.generate("normalized", 10, 2, seed=3)["A"])
    rng = np.random.default_rng(5)
    A = rng.standard_normal((10, 2))
    with pytest.raises(ValueError, match=r"^workers: must be a whole number, got 1\.5$"):
        distsoftmax.solve(A, np.full(10, 0.1), workers=1.5)
