#!/usr/bin/python3
"""Refuses a baseline that would not be what a researcher runs: NumPy on the reference (netlib) BLAS.

Debian's python3-numpy links libblas.so.3, which points at the slow reference BLAS unless an optimised one such as
libopenblas0-pthread is installed (a fresh machine's 4096x128 SciPy baseline took 214-227 s on it against about 20 s
on OpenBLAS, README #12, thirty-eighth session). Multiplies two small matrices so NumPy loads its BLAS, then looks
for an optimised library among the process's mappings. Prints the library found and exits 0, or prints a one-line
error and exits 1.

Usage: /usr/bin/python3 bench/scipy/check_blas.py
"""
import sys

import numpy as np

OPTIMISED = ("openblas", "mkl", "blis", "atlas")


def main():
    np.ones((64, 64)) @ np.ones((64, 64))
    with open("/proc/self/maps") as maps:
        libraries = sorted({line.split()[-1] for line in maps if ".so" in line and "blas" in line.lower()})
    # The generic libblas.so.3 / libcblas.so.3 NumPy links resolve its calls first: each must be an optimised one
    # (Debian's alternatives put OpenBLAS's under openblas-pthread/, the reference one under blas/).
    generic = [lib for lib in libraries if lib.rsplit("/", 1)[-1].startswith(("libblas.", "libcblas."))]
    optimised = [lib for lib in libraries if any(name in lib.lower() for name in OPTIMISED)]
    if optimised and all(any(name in lib.lower() for name in OPTIMISED) for lib in generic):
        print(generic[0] if generic else optimised[0])
        return 0
    shown = ", ".join(generic or libraries) or "no BLAS library mapped"
    print(f"check_blas: NumPy runs on the reference BLAS ({shown}); install libopenblas0-pthread "
          "(apt-get install libopenblas0-pthread) so the SciPy baseline is a fair one", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
