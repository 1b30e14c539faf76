"""distsoftmax: the dist-softmax solvers (this repository's .NET command line) on NumPy and SciPy arrays.

    import distsoftmax
    res = distsoftmax.solve(A, b)                 # normalized softmax regression; A dense or SciPy sparse
    res.x, res.fun, res.nit, res.success, res.trace

The tool is found through DISTSOFTMAX_EXE (the dist-softmax executable or dist-softmax.dll), else dist-softmax on
PATH, else this repository's Release build (src/DistSoftmax.Cli/bin/Release/net10.0/dist-softmax.dll).
"""
from ._api import generate, sensitivity, solve, solve_multiple
from ._tool import cli_options, find_executable

__all__ = ["solve", "solve_multiple", "generate", "sensitivity", "find_executable", "cli_options"]
__version__ = "0.1.0"
