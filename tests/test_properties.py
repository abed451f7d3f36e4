"""Property-based and stress tests of the recursion (TF and JAX) against the oracle.

The example budget is fixed so CI stays fast; the counts are printed with -s.
"""

import os
import threading

import numpy as np
import pytest
import reference
from conftest import relative_error
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
tf = pytest.importorskip("tensorflow")
import xla_rnnt.jax as xj  # noqa: E402
import xla_rnnt.tf as xt  # noqa: E402


@st.composite
def lattices(draw):
    B = draw(st.integers(1, 3))
    S = draw(st.integers(0, 4))
    T = draw(st.integers(0, 5))
    modified = draw(st.booleans())
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    scale = draw(st.sampled_from([0.1, 1.0, 30.0]))
    px = scale * rng.standard_normal((B, S, T if modified else T + 1))
    py = scale * rng.standard_normal((B, S + 1, T))
    use_boundary = draw(st.booleans())
    boundary = reference.random_boundary(rng, B, S, T) if use_boundary else None
    return px, py, boundary


PROPERTY_SETTINGS = settings(
    max_examples=60, deadline=None, derandomize=False, suppress_health_check=[HealthCheck.too_slow]
)


@PROPERTY_SETTINGS
@given(lattices())
def test_jax_matches_reference(case):
    px, py, boundary = case
    scores, (gx, gy) = xj.mutual_information_recursion(px, py, boundary, return_grad=True)
    ref, ref_gx, ref_gy = reference.mutual_information(px, py, boundary)
    assert relative_error(scores, ref) < 1e-10
    assert relative_error(gx, ref_gx) < 1e-9 and relative_error(gy, ref_gy) < 1e-9
    assert not np.isnan(np.asarray(gx)).any() and not np.isnan(np.asarray(gy)).any()


@PROPERTY_SETTINGS
@given(lattices())
def test_tf_matches_reference(case):
    px, py, boundary = case
    scores, (gx, gy) = xt.mutual_information_recursion(px, py, boundary, return_grad=True)
    ref, ref_gx, ref_gy = reference.mutual_information(px, py, boundary)
    assert relative_error(scores, ref) < 1e-10
    assert relative_error(gx, ref_gx) < 1e-9 and relative_error(gy, ref_gy) < 1e-9


def test_concurrent_calls_agree(rng):
    B, S, T = 4, 6, 9
    inputs = [
        (rng.standard_normal((B, S, T + 1)), rng.standard_normal((B, S + 1, T))) for _ in range(8)
    ]
    expected = [reference.mutual_information(px, py)[0] for px, py in inputs]
    jax_fn = jax.jit(xj.mutual_information_recursion)
    tf_fn = tf.function(xt.mutual_information_recursion, jit_compile=True)
    errors = []

    def work(i):
        try:
            for _ in range(5):
                for fn in (jax_fn, tf_fn):
                    got = np.asarray(fn(*inputs[i]))
                    if relative_error(got, expected[i]) > 1e-12:
                        errors.append((i, got, expected[i]))
        except Exception as e:  # surfaced below
            errors.append(e)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors[:3]


def _rss_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


@pytest.mark.skipif(not os.path.exists("/proc/self/statm"), reason="needs /proc")
def test_repeated_calls_do_not_grow_memory(rng):
    B, S, T = 8, 20, 40
    px, py = rng.standard_normal((B, S, T + 1)), rng.standard_normal((B, S + 1, T))
    jax_grad = jax.jit(jax.grad(lambda a: xj.mutual_information_recursion(a, py).sum()))
    tf_fn = tf.function(
        lambda a: xt.mutual_information_recursion(a, py, return_grad=True), jit_compile=True
    )
    for _ in range(20):  # warm-up: compilation, allocator pools
        jax_grad(px).block_until_ready()
        tf_fn(px)
    before = _rss_mb()
    for _ in range(300):
        jax_grad(px).block_until_ready()
        tf_fn(px)
    grown = _rss_mb() - before
    assert grown < 30, f"resident memory grew by {grown:.1f} MB over 300 calls"
