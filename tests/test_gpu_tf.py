"""The CUDA handlers through TensorFlow: GPU == CPU == float64, the GPU's
defined result for bad boundary rows, and TF's GPU gradients as accurate as
JAX's whatever TF's global TensorFloat-32 setting.

Skipped cleanly where TF sees no GPU or the library has no CUDA handlers; run
on a GPU machine by tools/gpu_check.sh.
"""

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")

import determinism_child  # noqa: E402
import non_finite  # noqa: E402
import reference  # noqa: E402
from conftest import close, relative_error  # noqa: E402

from xla_rnnt import _native  # noqa: E402
from xla_rnnt.tf import losses as xt  # noqa: E402
from xla_rnnt.tf import mutual_information_recursion  # noqa: E402

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not tf.config.list_physical_devices("GPU"), reason="TF sees no GPU"),
    pytest.mark.skipif(not _native.has_cuda(), reason="libxla_rnnt built without CUDA"),
]


@tf.function(jit_compile=True)
def _recursion(px, py, boundary, weights):
    with tf.GradientTape() as tape:
        tape.watch([px, py])
        scores = mutual_information_recursion(px, py, boundary)
        total = tf.reduce_sum(weights * scores)
    return scores, tape.gradient(total, [px, py])


def _run_recursion(device, *args):
    with tf.device(device):
        scores, grads = _recursion(*[tf.constant(a) for a in args])
    assert "GPU" in scores.device if "GPU" in device else "CPU" in scores.device
    return [scores.numpy()] + [g.numpy() for g in grads]


# (2, 60, 1500): the row scan in tiles (see test_gpu_jax.py).
@pytest.mark.parametrize(
    "B,S,T", [(3, 0, 7), (5, 17, 40), (2, 300, 150), (8, 100, 500), (2, 60, 1500)]
)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gpu_recursion_matches_cpu_and_float64(rng, B, S, T, dtype):
    px = rng.standard_normal((B, S, T + 1)).astype(dtype)
    py = rng.standard_normal((B, S + 1, T)).astype(dtype)
    boundary = reference.random_boundary(rng, B, S, T, False).astype(np.int32)
    weights = rng.standard_normal(B).astype(dtype)
    gpu = _run_recursion("/GPU:0", px, py, boundary, weights)
    cpu = _run_recursion("/CPU:0", px, py, boundary, weights)
    exact = _run_recursion(
        "/CPU:0",
        px.astype(np.float64),
        py.astype(np.float64),
        boundary,
        weights.astype(np.float64),
    )
    for got, same_dtype, want in zip(gpu, cpu, exact):
        if dtype == np.float64:
            assert relative_error(got, same_dtype) < 1e-12
        else:  # as close to float64 as the CPU's float32 (see test_gpu_jax.py)
            assert relative_error(got, want) <= max(1e-5, 3 * relative_error(same_dtype, want))


def test_gpu_invalid_boundary_gives_nan_score_and_zero_gradient(rng):
    """No host sync to raise from: the GPU's defined result for a bad row."""
    px = rng.standard_normal((2, 3, 5)).astype(np.float32)
    py = rng.standard_normal((2, 4, 4)).astype(np.float32)
    boundary = np.array([[0, 0, 3, 4], [0, 0, 3, 9]], np.int32)
    scores, gx, gy = _run_recursion("/GPU:0", px, py, boundary, np.ones(2, np.float32))
    assert np.isfinite(scores[0]) and np.isnan(scores[1])
    assert np.all(gx[1] == 0) and np.all(gy[1] == 0)
    assert np.any(gx[0] != 0)


@pytest.mark.parametrize("S,T", [(3, 200), (3, 1500), (40, 50)])  # rows, tiled rows, wavefront
def test_gpu_non_finite_inputs_give_non_finite_scores_and_zero_gradients(rng, S, T):
    px, py, boundary, bad = non_finite.inputs(rng, 6, S, T, False, np.float32)
    scores, gx, gy = _run_recursion(
        "/GPU:0", px, py, boundary.astype(np.int32), np.ones(6, np.float32)
    )
    non_finite.check(scores, gx, gy, bad, px, py, boundary)


def _simple_inputs(rng, B, T, S, V):
    lm = rng.standard_normal((B, S + 1, V)).astype(np.float32)
    am = rng.standard_normal((B, T, V)).astype(np.float32)
    symbols = rng.integers(1, V, (B, S)).astype(np.int32)
    boundary = np.stack(
        [
            np.zeros(B),
            np.zeros(B),
            rng.integers(S // 2, S + 1, B),
            rng.integers(max(1, T * 7 // 10), T + 1, B),
        ],
        1,
    ).astype(np.int32)
    return lm, am, symbols, boundary


@tf.function(jit_compile=True)
def _tf_simple(lm, am, symbols, boundary):
    with tf.GradientTape() as tape:
        tape.watch([lm, am])
        loss = xt.rnnt_loss_simple(lm, am, symbols, 0, boundary, reduction="sum")
    return loss, tape.gradient(loss, [lm, am])


def _simple_on(device, lm, am, symbols, boundary):
    with tf.device(device):
        loss, grads = _tf_simple(*[tf.constant(a) for a in (lm, am, symbols, boundary)])
    return [loss.numpy()] + [g.numpy() for g in grads]


def _jax_simple_gpu(lm, am, symbols, boundary):
    jax = pytest.importorskip("jax")
    import xla_rnnt.jax as xj

    def loss(lm, am):
        return xj.rnnt_loss_simple(lm, am, symbols, 0, boundary, reduction="sum")

    gpu = jax.devices("cuda")[0]
    value, grads = jax.jit(jax.value_and_grad(loss, argnums=(0, 1)))(
        *jax.device_put((lm, am), gpu)
    )
    return [np.asarray(value)] + [np.asarray(g) for g in grads]


def _max_relative(got, want):
    return np.abs(got - want).max() / max(np.abs(want).max(), 1e-30)


@pytest.mark.parametrize("B,T,S,V", [(4, 30, 8, 20), (8, 100, 20, 200), (32, 500, 100, 500)])
def test_gpu_simple_loss_gradients_as_accurate_as_jax_with_tf32_on(rng, B, T, S, V):
    """TF's default on GPUs with TF32 is to use it in float32 matmuls (the
    simple loss's normalizers); the library's dots ask for full precision, so
    the user's global setting (left on here) does not cost accuracy."""
    assert tf.config.experimental.tensor_float_32_execution_enabled()
    lm, am, symbols, boundary = _simple_inputs(rng, B, T, S, V)
    exact = _simple_on("/CPU:0", lm.astype(np.float64), am.astype(np.float64), symbols, boundary)
    tf_gpu = _simple_on("/GPU:0", lm, am, symbols, boundary)
    jax_gpu = _jax_simple_gpu(lm, am, symbols, boundary)
    for name, got_tf, got_jax, want in zip(("loss", "lm_grad", "am_grad"), tf_gpu, jax_gpu, exact):
        tf_error, jax_error = _max_relative(got_tf, want), _max_relative(got_jax, want)
        print(f"{name}: TF GPU {tf_error:.2e}, JAX GPU {jax_error:.2e} vs float64")
        # Floor: float32 rounding of the sums over T and V, which the two
        # frameworks' XLA versions order differently, reaches a few 1e-6 in
        # either (H200, (32,500,100,500): lm_grad TF 3.7e-6, JAX 1.3e-6); TF32
        # in the dots gave 3.6e-4 to 6.6e-4, 36x or more above it.
        assert tf_error <= max(1.5 * jax_error, 1e-5), (name, tf_error, jax_error)


def _pipeline_step(symbols, boundary, ranges=None):
    """The pruned pipeline's loss, its prune ranges and its gradient w.r.t.
    (lm, am), jit-compiled; with `ranges` given it prunes with those instead."""

    @tf.function(jit_compile=True)
    def step(lm, am):
        with tf.GradientTape() as tape:
            tape.watch([lm, am])
            simple, (px_grad, py_grad) = xt.rnnt_loss_simple(
                lm, am, symbols, 0, boundary, reduction="sum", return_grad=True
            )
            if ranges is None:
                chosen = xt.get_rnnt_prune_ranges(px_grad, py_grad, boundary, 3)
            else:
                chosen = tf.constant(ranges)
            am_p, lm_p = xt.do_rnnt_pruning(am, lm, chosen)
            pruned = xt.rnnt_loss_pruned(
                tf.tanh(am_p + lm_p) * 3.0, symbols, chosen, 0, boundary, reduction="sum"
            )
            loss = 0.5 * simple + pruned
        return [loss, chosen] + tape.gradient(loss, [lm, am])

    return lambda lm, am: [v.numpy() for v in step(tf.constant(lm), tf.constant(am))]


@pytest.mark.parametrize("B,T,S,V", [(3, 12, 4, 9), (16, 200, 40, 256)])
def test_gpu_pruned_pipeline_matches_float64(rng, B, T, S, V):
    lm, am, symbols, boundary = _simple_inputs(rng, B, T, S, V)
    with tf.device("/GPU:0"):
        loss, ranges, lm_grad, am_grad = _pipeline_step(symbols, boundary)(lm, am)
    # The ranges are argmaxes over windows of the simple loss's gradients; with
    # random inputs many windows nearly tie and float32 rounding picks another
    # (the CPU's own float32 pipeline differs from float64 at most items here).
    # So float64 prunes with the ranges the GPU chose: the pipeline around them
    # is what is compared.
    with tf.device("/CPU:0"):
        step64 = _pipeline_step(symbols, boundary, ranges)
        loss64, _, lm_grad64, am_grad64 = step64(lm.astype(np.float64), am.astype(np.float64))
    assert close(loss, loss64, 1e-4)
    # The bound the CPU's float32 pipeline also meets (its log-space recursion
    # is the less exact one).
    assert close(lm_grad, lm_grad64, 1e-3)
    assert close(am_grad, am_grad64, 1e-3)


def test_gpu_pruned_pipeline_is_deterministic_with_op_determinism():
    """Users of tf.config.experimental.enable_op_determinism() get bitwise the
    same loss and gradients call after call (as without it: the pipeline holds
    no scatter)."""
    got = determinism_child.diffs_in_child("tf", "--op-determinism")
    assert got == determinism_child.ZERO


def test_gpu_pruned_pipeline_is_deterministic():
    """The same inputs, TF's default settings: bitwise the same results."""
    assert determinism_child.diffs_in_child("tf") == determinism_child.ZERO


def test_gpu_gather_rows_grad_equals_cpu_bitwise(rng):
    from xla_rnnt.tf import _ffi

    B, T, R, N, Q = 3, 300, 5, 120, 200
    starts = np.sort(rng.integers(0, N - R + 1, (B, T)), axis=1)
    idx = (starts[:, :, None] + np.arange(R)).astype(np.int32)
    x = rng.standard_normal((B, N, Q)).astype(np.float32)
    g = rng.standard_normal((B, T, R, Q)).astype(np.float32)
    got = {}
    for device in ("/GPU:0", "/CPU:0"):
        with tf.device(device):
            got[device] = tf.function(_ffi.gather_rows_grad, jit_compile=True)(x, idx, g).numpy()
    np.testing.assert_array_equal(got["/GPU:0"], got["/CPU:0"])


def test_gpu_gather_symbols_grad_equals_cpu_bitwise(rng):
    from xla_rnnt.tf import _ffi

    for B, T, S, V in ((3, 1000, 300, 500), (4, 250, 120, 17)):
        idx = rng.integers(-1, V + 1, (B, S)).astype(np.int32)
        x = rng.standard_normal((B, T, V)).astype(np.float32)
        g = rng.standard_normal((B, S, T)).astype(np.float32)
        got = {}
        for device in ("/GPU:0", "/CPU:0"):
            with tf.device(device):
                call = tf.function(_ffi.gather_symbols_grad, jit_compile=True)
                got[device] = call(x, idx, g).numpy()
        np.testing.assert_array_equal(got["/GPU:0"], got["/CPU:0"])


def _band_step(S, modified):
    """Band scores and their gradient w.r.t. (px, py), jit-compiled: TF's
    backward is band_backward from band_forward's workspace."""
    from xla_rnnt.tf import _ops as tf_ops

    @tf.function(jit_compile=True)
    def step(px, py, starts, boundary, weights):
        with tf.GradientTape() as tape:
            tape.watch([px, py])
            scores = tf_ops.band_scores(px, py, starts, boundary, S, modified)
            total = tf.reduce_sum(weights * scores)
        return [scores] + tape.gradient(total, [px, py])

    def run(device, *args):
        with tf.device(device):
            out = step(*[tf.constant(a) for a in args])
        assert ("GPU" if "GPU" in device else "CPU") in out[0].device
        return [v.numpy() for v in out]

    return run


@pytest.mark.parametrize(
    "B,S,T,R", [(3, 0, 7, 1), (5, 17, 40, 5), (4, 60, 500, 32), (4, 200, 1200, 5)]
)
@pytest.mark.parametrize("modified", [False, True])
def test_gpu_band_matches_cpu_and_is_deterministic(rng, B, S, T, R, modified):
    """float32 CUDA == CPU (scores to 1e-6, gradients to 1e-5 or twice the
    CPU's own float32 rounding), and bitwise the same call after call; the
    last shape runs the chunked scan (cuda/band_chunks_cuda.h)."""
    from inputs_rnnt import diagonal_windows

    px = rng.standard_normal((B, T, R)).astype(np.float32)
    py = rng.standard_normal((B, T, R)).astype(np.float32)
    starts = diagonal_windows(rng, B, S, T, R)
    boundary = reference.random_boundary(rng, B, S, T, modified).astype(np.int32)
    boundary[0] = (0, 0, S, T)
    weights = rng.standard_normal(B).astype(np.float32)
    run = _band_step(S, modified)
    gpu = run("/GPU:0", px, py, starts, boundary, weights)
    cpu = run("/CPU:0", px, py, starts, boundary, weights)
    exact = run(
        "/CPU:0",
        px.astype(np.float64),
        py.astype(np.float64),
        starts,
        boundary,
        weights.astype(np.float64),
    )
    assert np.isfinite(cpu[0][0])
    assert relative_error(gpu[0], cpu[0]) < 1e-6
    for got, same, want in zip(gpu[1:], cpu[1:], exact[1:]):
        assert relative_error(got, same) <= max(1e-5, 2 * relative_error(same, want))
    again = run("/GPU:0", px, py, starts, boundary, weights)
    for got, first in zip(again, gpu):
        np.testing.assert_array_equal(got, first)


def test_gpu_band_invalid_boundary_gives_nan_score_and_zero_gradient(rng):
    px = rng.standard_normal((2, 5, 3)).astype(np.float32)
    py = rng.standard_normal((2, 5, 3)).astype(np.float32)
    starts = np.tile(np.minimum(np.arange(5), 1), (2, 1)).astype(np.int32)
    boundary = np.array([[0, 0, 3, 5], [0, 0, 3, 9]], np.int32)
    scores, gx, gy = _band_step(3, False)(
        "/GPU:0", px, py, starts, boundary, np.ones(2, np.float32)
    )
    assert np.isfinite(scores[0]) and np.isnan(scores[1])
    assert np.all(gx[1] == 0) and np.all(gy[1] == 0) and np.any(gy[0] != 0)
