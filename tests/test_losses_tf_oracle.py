"""xla_rnnt.tf's losses against the float64 NumPy oracles, with TensorFlow
alone (no JAX in this file): every variant and lattice type, with and
without boundary, under jit_compile, gradients by finite differences."""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import reference_rnnt as ref  # noqa: E402
from conftest import relative_error  # noqa: E402
from inputs_rnnt import loss_case  # noqa: E402

from xla_rnnt.tf import losses as xt  # noqa: E402

TYPES = ("regular", "modified", "constrained")
SCALES = (0.2, 0.1)


def _loss_fn(variant, symbols, blank, boundary, ranges, rnnt_type, delay):
    kw = dict(rnnt_type=rnnt_type, delay_penalty=delay, reduction="none")

    @tf.function(jit_compile=True)
    def loss(*arrays):
        if variant == "simple":
            return xt.rnnt_loss_simple(*arrays, symbols, blank, boundary, **kw)
        if variant == "smoothed":
            return xt.rnnt_loss_smoothed(*arrays, symbols, blank, *SCALES, boundary, **kw)
        if variant == "joint":
            return xt.rnnt_loss(arrays[0], symbols, blank, boundary, **kw)
        return xt.rnnt_loss_pruned(arrays[0], symbols, ranges, blank, boundary, **kw)

    return loss


def _oracle(variant, arrays, symbols, blank, boundary, ranges, rnnt_type, delay):
    lps = {
        "simple": lambda: ref.lps_simple(*arrays),
        "smoothed": lambda: ref.lps_smoothed(*arrays, *SCALES),
        "joint": lambda: ref.lps_joint(arrays[0]),
        "pruned": lambda: ref.lps_pruned(arrays[0], ranges, symbols.shape[1]),
    }[variant]()
    return ref.loss_from_lps(lps, symbols, blank, boundary, rnnt_type, delay)


@pytest.mark.parametrize("rnnt_type", TYPES)
@pytest.mark.parametrize("variant", ["simple", "smoothed", "joint", "pruned"])
def test_loss_and_gradient_match_the_oracle(rng, variant, rnnt_type):
    case = loss_case(rng, variant, rnnt_type)
    symbols, blank, boundary, ranges, arrays = (
        case[k] for k in ("symbols", "blank", "boundary", "ranges", "arrays")
    )
    delay = float(rng.choice([0.0, 0.5]))
    loss = _loss_fn(variant, symbols, blank, boundary, ranges, rnnt_type, delay)
    want = _oracle(variant, arrays, symbols, blank, boundary, ranges, rnnt_type, delay)
    got = loss(*[tf.constant(a) for a in arrays]).numpy()
    assert got.dtype == np.float64 and relative_error(got, want) < 1e-10, (got, want)

    # Gradient of a random projection of the finite losses vs central differences.
    weights = np.where(np.isfinite(want), rng.standard_normal(want.shape), 0.0)
    tensors = [tf.constant(a) for a in arrays]
    with tf.GradientTape() as tape:
        tape.watch(tensors)
        values = loss(*tensors)
        total = tf.reduce_sum(tf.where(np.isfinite(want), values, 0.0) * weights)
    grads = [g.numpy() for g in tape.gradient(total, tensors)]
    i = int(rng.integers(0, len(arrays)))
    flat = arrays[i].reshape(-1)
    for k in rng.choice(flat.size, size=min(6, flat.size), replace=False):
        step, moved = 1e-6, [a.copy() for a in arrays]
        moved[i].reshape(-1)[k] += step
        up = _oracle(variant, moved, symbols, blank, boundary, ranges, rnnt_type, delay)
        moved[i].reshape(-1)[k] -= 2 * step
        down = _oracle(variant, moved, symbols, blank, boundary, ranges, rnnt_type, delay)
        fd = np.sum(np.where(np.isfinite(want), (up - down) / (2 * step), 0.0) * weights)
        assert abs(grads[i].reshape(-1)[k] - fd) <= 1e-5 * max(1.0, abs(fd)), (k, fd)


def test_prune_ranges_match_the_oracle(rng):
    B, S, T = 3, 6, 8
    px_grad = rng.random((B, S, T + 1))
    py_grad = rng.random((B, S + 1, T))
    boundary = np.array([[0, 0, 6, 8], [0, 0, 4, 6], [0, 0, 0, 3]], np.int64)
    for s_range in (2, 3, 7):
        for bnd in (None, boundary):
            got = xt.get_rnnt_prune_ranges(px_grad, py_grad, bnd, s_range).numpy()
            np.testing.assert_array_equal(got, ref.prune_ranges(px_grad, py_grad, bnd, s_range))
