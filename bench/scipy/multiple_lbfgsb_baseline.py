#!/usr/bin/python3
"""SciPy baseline for multiple softmax regression, as a researcher would write it:

    L(X) = 1/2 sum_j ||softmax(z_j) - B_j||^2,   z_j = row j of M = A1 X A2^T,
    grad L = A1^T G A2,  G_j = f_j*c_j - <f_j,c_j> f_j,  f_j = softmax(z_j),  c_j = f_j - B_j

minimised over the d*d entries of X by scipy.optimize.minimize(method="L-BFGS-B") with the NumPy gradient, from
X = 0, until ||grad L||_F <= tol * ||grad L(0)||_F (checked in a callback
on the gradient fun has just evaluated at the accepted point, not a second evaluation) or maxiter. Prints one JSON line.

Usage: /usr/bin/python3 bench/scipy/multiple_lbfgsb_baseline.py A1.npy A2.npy B.npy [--tol 1e-8] [--maxiter 5000] [--out X.npy]
"""
import argparse
import json
import sys
import time

START = time.perf_counter()
import numpy as np  # noqa: E402
import scipy.optimize  # noqa: E402


class Converged(Exception):
    """Raised from the callback once the relative gradient tolerance is met."""


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("A1")
    p.add_argument("A2")
    p.add_argument("B")
    p.add_argument("--tol", type=float, default=1e-8)
    p.add_argument("--maxiter", type=int, default=5000)
    p.add_argument("--out", default=None)
    a = p.parse_args()
    A1, A2, B = np.load(a.A1), np.load(a.A2), np.load(a.B)
    d = A1.shape[1]

    last = {"x": None, "g": None}   # the latest evaluation, so the callback does not evaluate the gradient again

    def fun(x):
        X = x.reshape(d, d)
        Z = (A1 @ X) @ A2.T
        Z -= Z.max(axis=1, keepdims=True)
        F = np.exp(Z)
        F /= F.sum(axis=1, keepdims=True)
        C = F - B
        G = F * C - np.sum(F * C, axis=1, keepdims=True) * F
        g = ((A1.T @ G) @ A2).ravel()
        last["x"], last["g"] = x.copy(), g
        return 0.5 * np.sum(C * C), g

    def gradient_at(x):
        return last["g"] if last["x"] is not None and np.array_equal(last["x"], x) else fun(x)[1]

    x0 = np.zeros(d * d)
    g0 = np.linalg.norm(fun(x0)[1])
    state = {"x": x0, "it": 0}

    def callback(xk):
        state["x"], state["it"] = xk.copy(), state["it"] + 1
        if np.linalg.norm(gradient_at(xk)) <= a.tol * g0:
            raise Converged()

    t1 = time.perf_counter()
    converged = False
    try:
        res = scipy.optimize.minimize(fun, x0, jac=True, method="L-BFGS-B", callback=callback,
                                      options={"maxiter": a.maxiter, "gtol": 0.0, "ftol": 0.0, "maxfun": 10 * a.maxiter})
        x, message = res.x, str(res.message)
    except Converged:
        x, converged, message = state["x"], True, "relative gradient tolerance met"
    solve_seconds = time.perf_counter() - t1
    loss, g = fun(x)
    if a.out:
        np.save(a.out, x.reshape(d, d))
    print(json.dumps({
        "tool": "scipy L-BFGS-B", "converged": converged, "message": message, "iterations": state["it"],
        "relativeGradient": float(np.linalg.norm(g) / g0), "loss": float(loss),
        "solveSeconds": solve_seconds, "wholeSeconds": time.perf_counter() - START,
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
