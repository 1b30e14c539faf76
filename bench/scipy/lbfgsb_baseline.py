#!/usr/bin/python3
"""SciPy baseline: what a researcher would write for normalized softmax regression.

    L(x) = 1/2 ||softmax(A x) - b||^2,   grad L = A^T (f*c - <f,c> f),  f = softmax(Ax), c = f - b

solved by scipy.optimize.minimize(method="L-BFGS-B") with the NumPy gradient, from x0 = 0, until
||grad L(x)||_2 <= tol * ||grad L(x0)||_2 (checked in a callback on the gradient L-BFGS-B
has just evaluated at the accepted point, kept by fun, since L-BFGS-B's own gtol is on the projected infinity
norm) or maxiter. Reads A (.npy or Matrix Market .mtx) and b (.npy), writes x to --out
(.npy) and prints one JSON line: seconds (load, solve, whole), iterations, relative gradient, loss.

Usage: /usr/bin/python3 bench/scipy/lbfgsb_baseline.py A.npy b.npy [--tol 1e-8] [--maxiter 15000] [--out x.npy]
"""
import argparse
import json
import sys
import time

START = time.perf_counter()
import numpy as np  # noqa: E402
import scipy.io  # noqa: E402
import scipy.optimize  # noqa: E402


class Converged(Exception):
    """Raised from the callback once the relative gradient tolerance is met."""


def load(path):
    if path.endswith(".mtx"):
        return scipy.sparse.csr_matrix(scipy.io.mmread(path))
    return np.load(path)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("A")
    p.add_argument("b")
    p.add_argument("--tol", type=float, default=1e-8)
    p.add_argument("--maxiter", type=int, default=15000)
    p.add_argument("--out", default=None)
    a = p.parse_args()

    t0 = time.perf_counter()
    A = load(a.A)
    b = np.load(a.b).astype(np.float64).ravel()
    load_seconds = time.perf_counter() - t0

    last = {"x": None, "g": None}   # the latest evaluation, so the callback does not evaluate the gradient again

    def fun(x):
        z = A @ x
        z -= z.max()
        u = np.exp(z)
        f = u / u.sum()
        c = f - b
        g = A.T @ (f * c - np.dot(f, c) * f)
        last["x"], last["g"] = x.copy(), g
        return 0.5 * np.dot(c, c), g

    def gradient_at(x):
        return last["g"] if last["x"] is not None and np.array_equal(last["x"], x) else fun(x)[1]

    x0 = np.zeros(A.shape[1])
    g0 = np.linalg.norm(fun(x0)[1])
    target = a.tol * g0
    state = {"x": x0, "it": 0}

    def callback(xk):
        state["x"], state["it"] = xk.copy(), state["it"] + 1
        if np.linalg.norm(gradient_at(xk)) <= target:
            raise Converged()

    t1 = time.perf_counter()
    converged = False
    try:
        res = scipy.optimize.minimize(fun, x0, jac=True, method="L-BFGS-B", callback=callback,
                                      options={"maxiter": a.maxiter, "gtol": 0.0, "ftol": 0.0, "maxfun": 10 * a.maxiter})
        x = res.x
        message = str(res.message)
    except Converged:
        x, converged, message = state["x"], True, "relative gradient tolerance met"
    solve_seconds = time.perf_counter() - t1
    loss, g = fun(x)
    if a.out:
        np.save(a.out, x)
    print(json.dumps({
        "tool": "scipy L-BFGS-B", "converged": converged, "message": message, "iterations": state["it"],
        "relativeGradient": float(np.linalg.norm(g) / g0), "loss": float(loss),
        "loadSeconds": load_seconds, "solveSeconds": solve_seconds, "wholeSeconds": time.perf_counter() - START,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
