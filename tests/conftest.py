import os
import random

import numpy as np
import pytest

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # keep TF's start-up chatter out of the logs


@pytest.fixture
def rng():
    """A fresh generator per test; its seed is printed so a failure can be replayed
    with XLA_RNNT_TEST_SEED=<seed>."""
    seed = int(os.environ.get("XLA_RNNT_TEST_SEED", random.SystemRandom().randrange(2**32)))
    print(f"XLA_RNNT_TEST_SEED={seed}")
    return np.random.default_rng(seed)


def random_shape(rng, max_b=4, max_s=5, max_t=6, min_t=1):
    return (
        int(rng.integers(1, max_b + 1)),
        int(rng.integers(0, max_s + 1)),
        int(rng.integers(min_t, max_t + 1)),
    )


def close(actual, expected, tol):
    """Same -inf/NaN pattern and finite values within tol * max(1, |expected|),
    for values that are often exactly 0 (gradients), where a relative error
    means nothing."""
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    finite = np.isfinite(expected)
    assert np.array_equal(finite, np.isfinite(actual)), (actual, expected)
    if not finite.any():
        return True
    scale = max(1.0, np.abs(expected[finite]).max())
    return np.abs(actual[finite] - expected[finite]).max() <= tol * scale


def relative_error(actual, expected):
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    finite = np.isfinite(expected)
    assert np.array_equal(finite, np.isfinite(actual)), (actual, expected)
    if not finite.any():
        return 0.0
    diff = np.linalg.norm(actual[finite] - expected[finite])
    return diff / max(np.linalg.norm(expected[finite]), 1e-30)
