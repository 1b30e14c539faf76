"""The package installs with Debian's setuptools into a venv (no index, no build isolation) and works from there."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import PYTHON_DIR

import distsoftmax


def test_pip_install_into_a_venv_and_solve_from_the_installed_copy(tmp_path):
    source = tmp_path / "src"
    shutil.copytree(PYTHON_DIR, source, ignore=shutil.ignore_patterns("tests", "build", "*.egg-info", "__pycache__"))
    venv = tmp_path / "V"
    # The interpreter running the tests is Debian's /usr/bin/python3 (with NumPy and SciPy), as .ci/run uses.
    subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], check=True)
    python = venv / "bin" / "python"
    install = subprocess.run([str(venv / "bin" / "pip"), "install", "--no-build-isolation", "--no-index", str(source)],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert install.returncode == 0, install.stdout

    # The installed copy lives outside any repository: it finds the tool through DISTSOFTMAX_EXE.
    tool = distsoftmax.find_executable()[-1]
    script = (
        "import numpy as np, distsoftmax\n"
        "print(distsoftmax.__file__)\n"
        "A = np.array([[1.0, 0.0], [0.0, 2.0], [0.5, -1.0], [3.0, 0.25]])\n"
        "z = A @ np.array([0.3, -0.2]); b = np.exp(z) / np.exp(z).sum()\n"
        "r = distsoftmax.solve(A, b, tol=1e-10, backend='inprocess')\n"
        "print(r.success, *r.x)\n")
    env = dict(os.environ, DISTSOFTMAX_EXE=tool)
    run = subprocess.run([str(python), "-c", script], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
    assert run.returncode == 0, run.stderr
    where, answer = run.stdout.splitlines()
    assert Path(where).resolve().is_relative_to(venv.resolve())
    success, *x = answer.split()
    assert success == "True"
    assert [float(v) for v in x] == pytest.approx([0.3, -0.2], abs=1e-6)
