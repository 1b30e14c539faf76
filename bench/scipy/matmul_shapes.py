#!/usr/bin/python3
"""NumPy's matmul (its BLAS) on the products a matrix shard computes, for the GEMM comparison of the README.

For a shard of `rows` rows of A1 and B with n columns and d = side of X, times (median of `repeats`, seconds):
  A1·X       rows×d · d×d       T·A2ᵀ   rows×d · d×n       G·A2   rows×n · n×d       A1ᵀ·P  d×rows · rows×d
Prints one JSON line with GFLOP/s per product.
Usage: /usr/bin/python3 bench/scipy/matmul_shapes.py ROWS N D [REPEATS]
"""
import json
import sys
import time

import numpy as np


def median_seconds(f, repeats):
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        f()
        times.append(time.perf_counter() - t)
    return sorted(times)[len(times) // 2]


def main():
    rows, n, d = (int(v) for v in sys.argv[1:4])
    repeats = int(sys.argv[4]) if len(sys.argv) > 4 else 5
    rng = np.random.default_rng(1)
    a1, x = rng.standard_normal((rows, d)), rng.standard_normal((d, d))
    a2t, g = rng.standard_normal((d, n)), rng.standard_normal((rows, n))
    a2, p = np.ascontiguousarray(a2t.T), rng.standard_normal((rows, d))
    t = a1 @ x
    shapes = {
        "A1*X": (lambda: a1 @ x, 2.0 * rows * d * d),
        "T*A2t": (lambda: t @ a2t, 2.0 * rows * d * n),
        "G*A2": (lambda: g @ a2, 2.0 * rows * n * d),
        "A1t*P": (lambda: a1.T @ p, 2.0 * rows * d * d),
    }
    out = {}
    for name, (f, flops) in shapes.items():
        f()
        s = median_seconds(f, repeats)
        out[name] = {"seconds": s, "gflops": flops / s / 1e9}
    print(json.dumps({"rows": rows, "n": n, "d": d, "numpy": np.__version__, "products": out}))


if __name__ == "__main__":
    main()
