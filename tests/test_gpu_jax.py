"""The CUDA handlers through JAX: CUDA == CPU == float64 oracle.

Skipped cleanly where JAX sees no CUDA device or the library has no CUDA
handlers; run on the GPU machine by tools/gpu_check.sh.
"""

import os

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
import determinism_child  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import non_finite  # noqa: E402
import reference  # noqa: E402
from conftest import close, relative_error  # noqa: E402

import xla_rnnt.jax as xj  # noqa: E402
from xla_rnnt import _native  # noqa: E402


def _cuda_devices():
    try:
        return jax.devices("cuda")
    except RuntimeError:
        return []


pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not _cuda_devices(), reason="JAX sees no CUDA device"),
    pytest.mark.skipif(not _native.has_cuda(), reason="libxla_rnnt built without CUDA"),
]


def _run(device, px, py, boundary, weights):
    args = jax.device_put((px, py, boundary, weights), device)

    def loss(a, b, bd, w):
        scores = xj.mutual_information_recursion(a, b, bd)
        return jnp.sum(w * scores), scores

    (_, scores), grads = jax.jit(jax.value_and_grad(loss, argnums=(0, 1), has_aux=True))(*args)
    assert scores.devices() == {device}
    return np.asarray(scores), [np.asarray(g) for g in grads]


# Shapes span one thread per row (S < 256) and several rows per thread.
# (2, 60, 1500): regular lattices there run the row scan in tiles, one cluster
# of blocks an item (cuda/mi_rows_cuda.h) where the GPU runs clusters, else
# the wavefront.
SHAPES = [
    (3, 0, 7),
    (4, 5, 1),
    (5, 17, 40),
    (2, 300, 150),
    (8, 100, 500),
    (1, 600, 700),
    (2, 60, 1500),
]


def _assert_scores_close(got, want, S, T, tol):
    """Relative error within tol, or else, as scores are logs in which the
    linear forward's rounding is absolute (about one ulp of 1 per lattice
    step), absolute error within 4 (S + T + 1) ulps of 1: a score near 0
    (seen: 4.2e-4 in float32 at S = 0, T = 7, off by 1.3e-8) misses any
    relative tolerance."""
    error = relative_error(got, want)
    if error <= tol:
        return
    got = np.asarray(got)
    finite = np.isfinite(want)
    gap = np.max(np.abs(got.astype(np.float64) - want)[finite], initial=0.0)
    assert gap <= 4 * (S + T + 1) * np.finfo(got.dtype).eps, (gap, error)


@pytest.mark.parametrize("B,S,T", SHAPES)
@pytest.mark.parametrize("modified", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cuda_matches_cpu_and_reference(rng, B, S, T, modified, dtype):
    px = rng.standard_normal((B, S, T if modified else T + 1)).astype(dtype)
    py = rng.standard_normal((B, S + 1, T)).astype(dtype)
    boundary = reference.random_boundary(rng, B, S, T, modified)
    weights = rng.standard_normal(B).astype(dtype)
    cpu_device, cuda_device = jax.devices("cpu")[0], _cuda_devices()[0]
    for bd in (None, boundary):
        cuda = _run(cuda_device, px, py, bd, weights)
        cpu = _run(cpu_device, px, py, bd, weights)
        # The float64 CPU path (itself checked against the oracle below and in
        # test_mutual_information_jax.py) is the reference for both devices.
        exact = _run(
            cpu_device,
            px.astype(np.float64),
            py.astype(np.float64),
            bd,
            weights.astype(np.float64),
        )
        for i, (got, same_dtype, want) in enumerate(
            zip([cuda[0], *cuda[1]], [cpu[0], *cpu[1]], [exact[0], *exact[1]])
        ):
            if dtype == np.float64:
                # The CUDA forward runs in linear space, the CPU's in log
                # space: at 1300-step lattices they differ by ~1e-12.
                assert relative_error(got, same_dtype) < 1e-11
            else:
                # Scores here reach |p| ~ 1e3, where one float32 ulp is ~6e-5:
                # CUDA's expf/log1pf and glibc's differ in the last bit, so
                # CUDA may differ from CPU float32 by ~1e-5. It must be as
                # close to the float64 result as the CPU float32 path is.
                cpu_error = relative_error(same_dtype, want)
                tol = max(1e-5, 3 * cpu_error)
                if i == 0:
                    _assert_scores_close(got, want, S, T, tol)
                else:
                    assert relative_error(got, want) <= tol, cpu_error
        if S * T <= 20000:  # the Python oracle is slow
            ref, ref_gx, ref_gy = reference.mutual_information(px, py, bd)
            w = weights.astype(np.float64)[:, None, None]
            tol = 1e-5 if dtype == np.float32 else 1e-12
            _assert_scores_close(cuda[0], ref, S, T, tol)
            assert relative_error(cuda[1][0], w * ref_gx) < tol
            assert relative_error(cuda[1][1], w * ref_gy) < tol


def test_cuda_invalid_boundary_gives_nan_score_and_zero_gradient(rng):
    px = rng.standard_normal((2, 3, 5)).astype(np.float32)
    py = rng.standard_normal((2, 4, 4)).astype(np.float32)
    boundary = np.array([[0, 0, 3, 4], [0, 0, 3, 9]])
    scores, (gx, gy) = _run(_cuda_devices()[0], px, py, boundary, np.ones(2, np.float32))
    assert np.isfinite(scores[0]) and np.isnan(scores[1])
    assert np.all(gx[1] == 0) and np.all(gy[1] == 0)


# S well below T runs the row scan (T = 1500: in tiles), S near T the
# wavefront (MiRowsServe).
@pytest.mark.parametrize("S,T", [(3, 200), (3, 1500), (40, 50)])
@pytest.mark.parametrize("modified", [False, True])
def test_cuda_non_finite_inputs_give_non_finite_scores_and_zero_gradients(rng, S, T, modified):
    px, py, boundary, bad = non_finite.inputs(rng, 6, S, T, modified, np.float32)
    scores, (gx, gy) = _run(_cuda_devices()[0], px, py, boundary, np.ones(6, np.float32))
    non_finite.check(scores, gx, gy, bad, px, py, boundary)


# C % 4 == 0 takes the 16-byte path for float32 (C % 2 == 0 for float64), the
# others the element path; 16-byte rows of up to 256 vectors (C <= 1024
# float32) are read into registers at once, longer ones with a running sum.
GATHER_SHAPES = [
    (5, 1),
    (3, 7, 4),
    (2, 9, 5, 33),
    (4, 50, 5, 500),
    (3, 5, 1024),
    (3, 40, 1027),
    (2, 6, 2048),
]


@pytest.mark.parametrize("shape", GATHER_SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("hat", [False, True])
def test_cuda_logsoftmax_gather_matches_cpu_and_reference(rng, shape, dtype, hat):
    """hat: the HAT variant of every kernel, with some symbols equal to the
    blank and some rows whose mass is the blank's alone."""
    from xla_rnnt.jax.logsoftmax_gather import logsoftmax_gather

    C = shape[-1]
    logits = (4 * rng.standard_normal(shape)).astype(dtype)
    logits[rng.random(shape) < 0.05] = -np.inf
    logits[rng.random(shape[:-1]) < 0.05] = -np.inf  # whole rows
    symbols = rng.integers(-1, C + 1, size=shape[:-1]).astype(np.int32)
    blank = int(rng.choice([0, int(rng.integers(0, C))]))
    if hat:
        symbols[rng.random(shape[:-1]) < 0.1] = blank
        alone = (rng.random(shape[:-1]) < 0.05)[..., None] & (np.arange(C) != blank)
        logits[alone] = -np.inf
    cot = rng.standard_normal((2,) + shape[:-1]).astype(dtype)

    def run(device):
        def f(x, s, w):
            px, py = logsoftmax_gather(x, s, blank, hat)
            finite = lambda v: jnp.where(jnp.isfinite(v), v, 0)  # noqa: E731
            return jnp.sum(w[0] * finite(px)) + jnp.sum(w[1] * finite(py)), (px, py)

        args = jax.device_put((logits, symbols, cot), device)
        (_, (px, py)), g = jax.jit(jax.value_and_grad(f, has_aux=True))(*args)
        assert g.devices() == {device}
        return [np.asarray(v) for v in (px, py, g)]

    cuda = run(_cuda_devices()[0])
    cpu = run(jax.devices("cpu")[0])
    if hat:
        ref_px, ref_py, _, ref_grad = reference.hat_logsoftmax_gather(logits, symbols, blank)
    else:
        ref_px, ref_py, ref_grad = reference.logsoftmax_gather(logits, symbols, blank)
    gx = np.where(np.isfinite(ref_px), cot[0], 0)
    gy = np.where(np.isfinite(ref_py), cot[1], 0)
    tol = 1e-12 if dtype == np.float64 else 2e-6
    for got, same, want in zip(cuda, cpu, (ref_px, ref_py, ref_grad(gx, gy))):
        assert not np.isnan(got).any()
        assert close(got, want, tol) and close(same, want, tol)


def test_cuda_pruned_pipeline_is_deterministic_with_xla_determinism():
    """With XLA's determinism flag (how JAX users ask for reproducible
    training), the pipeline's loss and gradients are bitwise equal call after
    call (XLA's setting changes nothing of ours: the pipeline holds no scatter)."""
    flags = os.environ.get("XLA_FLAGS", "") + " --xla_gpu_exclude_nondeterministic_ops=true"
    assert determinism_child.diffs_in_child("jax", XLA_FLAGS=flags) == determinism_child.ZERO


def test_cuda_pruned_pipeline_is_deterministic():
    """The same inputs give bitwise the same loss and gradients on the GPU,
    call after call, with XLA's default settings (lm's gradient through
    do_rnnt_pruning is the gather-rows custom call, not a scatter)."""
    assert determinism_child.diffs_in_child("jax") == determinism_child.ZERO


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cuda_gather_rows_grad_equals_cpu_bitwise(rng, dtype):
    """The gather-rows gradient adds in one order on both devices: bitwise
    equal, for window columns (binary search) and arbitrary ones (scan)."""
    from xla_rnnt.jax import _ffi

    B, T, R, N, Q = 3, 300, 5, 120, 200
    starts = np.sort(rng.integers(0, N - R + 1, (B, T)), axis=1)
    windows = (starts[:, :, None] + np.arange(R)).astype(np.int32)
    arbitrary = rng.integers(-1, N + 1, (B, T, R)).astype(np.int32)
    x = rng.standard_normal((B, N, Q)).astype(dtype)
    g = rng.standard_normal((B, T, R, Q)).astype(dtype)
    for idx in (windows, arbitrary):
        got = {}
        for device in (_cuda_devices()[0], jax.devices("cpu")[0]):
            args = jax.device_put((x, idx, g), device)
            got[device.platform] = np.asarray(jax.jit(_ffi.gather_rows_grad)(*args))
        np.testing.assert_array_equal(got["gpu"], got["cpu"])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cuda_gather_symbols_grad_equals_cpu_bitwise(rng, dtype):
    """The symbol-gather gradient adds each chain in one order on both
    devices: bitwise equal, S below and above V, indices outside [0, V)."""
    from xla_rnnt.jax import _ffi

    for B, T, S, V in ((3, 1000, 300, 500), (4, 250, 120, 17)):
        idx = rng.integers(-1, V + 1, (B, S)).astype(np.int32)
        x = rng.standard_normal((B, T, V)).astype(dtype)
        g = rng.standard_normal((B, S, T)).astype(dtype)
        got = {}
        for device in (_cuda_devices()[0], jax.devices("cpu")[0]):
            args = jax.device_put((x, idx, g), device)
            got[device.platform] = np.asarray(jax.jit(_ffi.gather_symbols_grad)(*args))
        np.testing.assert_array_equal(got["gpu"], got["cpu"])


# The band recursion (cc/band_recursion.h) on the GPU: R <= 32, a warp per
# item, or chunks of frames where R <= 16 and T >= 200 (cuda/band_chunks_cuda.h);
# shapes from a single frame to long lattices, R = 1 to 32.
BAND_SHAPES = [
    (3, 0, 7, 1),
    (4, 1, 2, 2),
    (5, 17, 40, 5),
    (3, 100, 150, 16),
    (4, 60, 500, 32),
    (4, 200, 1200, 5),
]


def _band_inputs(rng, B, S, T, R, modified, dtype):
    from inputs_rnnt import diagonal_windows

    px = rng.standard_normal((B, T, R)).astype(dtype)
    py = rng.standard_normal((B, T, R)).astype(dtype)
    starts = diagonal_windows(rng, B, S, T, R)
    boundary = reference.random_boundary(rng, B, S, T, modified).astype(np.int32)
    boundary[0] = (0, 0, S, T)  # one item on the whole lattice
    weights = rng.standard_normal(B).astype(dtype)
    return px, py, starts, boundary, weights


def _band_run(device, px, py, starts, boundary, weights, S, modified):
    from xla_rnnt.jax import _ops as jax_ops

    args = jax.device_put((px, py, starts, boundary, weights), device)

    def total(a, b, st, bd, w):
        scores = jax_ops.band_scores(a, b, st, bd, S, modified)
        return jnp.sum(w * scores), scores

    fn = jax.jit(jax.value_and_grad(total, argnums=(0, 1), has_aux=True))
    (_, scores), grads = fn(*args)
    assert scores.devices() == {device}
    return [np.asarray(scores)] + [np.asarray(g) for g in grads]


@pytest.mark.parametrize("B,S,T,R", BAND_SHAPES)
@pytest.mark.parametrize("modified", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cuda_band_matches_cpu(rng, B, S, T, R, modified, dtype):
    """CUDA == CPU: float64 to 1e-12; float32 scores to 1e-6 and gradients to
    1e-5 or, where the CPU's own float32 rounding is larger, within twice it
    (both twins use the same extended-range arithmetic; they differ in exp2
    and 1/x rounding: 1.4e-6 on an H200 at (4, 60, 500, 32))."""
    inputs = _band_inputs(rng, B, S, T, R, modified, dtype)
    cuda = _band_run(_cuda_devices()[0], *inputs, S, modified)
    cpu = _band_run(jax.devices("cpu")[0], *inputs, S, modified)
    exact = _band_run(
        jax.devices("cpu")[0],
        *[x.astype(np.float64) for x in inputs[:2]],
        *inputs[2:4],
        inputs[4].astype(np.float64),
        S,
        modified,
    )
    assert np.isfinite(cpu[0][0])
    for i, (got, same, want) in enumerate(zip(cuda, cpu, exact)):
        assert not np.isnan(got).any()
        if dtype == np.float64:
            assert relative_error(got, same) < 1e-12
        elif i == 0:  # scores near 0 miss any relative bound (H200: 0.0246, 1.2e-7 off)
            _assert_scores_close(got, same, S, T, 1e-6)
        else:
            assert relative_error(got, same) <= max(1e-5, 2 * relative_error(same, want))


@pytest.mark.parametrize("B,S,T,R", [(16, 80, 400, 32), (8, 200, 1000, 5)])
def test_cuda_band_is_deterministic(rng, B, S, T, R):
    """Bitwise the same scores and gradients call after call (a warp per item
    at R = 32, chunks at R = 5: fixed orders of additions either way)."""
    inputs = _band_inputs(rng, B, S, T, R, False, np.float32)
    runs = [_band_run(_cuda_devices()[0], *inputs, S, False) for _ in range(3)]
    for run in runs[1:]:
        for got, first in zip(run, runs[0]):
            np.testing.assert_array_equal(got, first)


def test_cuda_band_invalid_boundary_gives_nan_score_and_zero_gradient(rng):
    px, py, starts, _, _ = _band_inputs(rng, 2, 3, 5, 3, False, np.float32)
    boundary = np.array([[0, 0, 3, 5], [0, 0, 3, 9]], np.int32)
    scores, gx, gy = _band_run(
        _cuda_devices()[0], px, py, starts, boundary, np.ones(2, np.float32), 3, False
    )
    assert np.isfinite(scores[0]) and np.isnan(scores[1])
    assert np.all(gx[1] == 0) and np.all(gy[1] == 0) and np.any(gy[0] != 0)


def test_cuda_band_rejects_windows_over_32_rows(rng):
    px, py, starts, boundary, w = _band_inputs(rng, 2, 40, 5, 33, False, np.float32)
    with pytest.raises(Exception, match="at most 32 rows per window"):
        _band_run(_cuda_devices()[0], px, py, starts, boundary, w, 40, False)


@pytest.mark.parametrize("rnnt_type", ["regular", "modified", "constrained"])
def test_cuda_pruned_loss_band_matches_cpu(rng, rnnt_type):
    """rnnt_loss_pruned (the band path: s_range <= 32) and its gradient w.r.t.
    logits, on the GPU (where the fused log-softmax gather runs too) and the CPU."""
    from inputs_rnnt import path_windows

    B, S, T, R, C = 6, 30, 60, 8, 50
    boundary = np.stack(
        [np.zeros(B), np.zeros(B), rng.integers(S // 2, S + 1, B), rng.integers(S, T + 1, B)], 1
    ).astype(np.int32)
    # Windows on each item's path, inside [0, S].
    starts = np.clip(np.stack([path_windows(row, T, R) for row in boundary]), 0, S + 1 - R)
    ranges = (starts[:, :, None] + np.arange(R)).astype(np.int32)
    logits = rng.standard_normal((B, T, R, C)).astype(np.float32)
    symbols = rng.integers(1, C, (B, S)).astype(np.int32)

    def loss(x):
        return xj.rnnt_loss_pruned(x, symbols, ranges, 0, boundary, rnnt_type, reduction="sum")

    out = {}
    for device in (_cuda_devices()[0], jax.devices("cpu")[0]):
        with jax.default_device(device):
            value, grad = jax.jit(jax.value_and_grad(loss))(jax.device_put(logits, device))
        out[device.platform] = np.asarray(value), np.asarray(grad)
    assert np.isfinite(out["cpu"][0])
    assert relative_error(out["gpu"][0], out["cpu"][0]) < 1e-6
    assert relative_error(out["gpu"][1], out["cpu"][1]) < 1e-5
