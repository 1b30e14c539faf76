"""Shared fixtures: the package under test is imported from this source tree (python/), not from an installed copy."""
import sys
from pathlib import Path

import numpy as np
import pytest

PYTHON_DIR = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PYTHON_DIR))


def softmax(z):
    u = np.exp(z - z.max())
    return u / u.sum()


@pytest.fixture(scope="session")
def normalized_instance():
    """n = 500, d = 8: A Gaussian, b a noisy softmax(A x_true) renormalised to a probability distribution."""
    rng = np.random.default_rng(20261130)
    n, d = 500, 8
    A = rng.standard_normal((n, d))
    x_true = 0.5 * rng.standard_normal(d)
    b = softmax(A @ x_true) * np.exp(0.2 * rng.standard_normal(n))
    return A, b / b.sum()
