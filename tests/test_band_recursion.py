"""The band recursion (cc/band_recursion.h: xla_rnnt_band_forward,
_forward_backward, _backward) and rnnt_loss_pruned's use of it.

The op directly, on arbitrary windows (non-monotone, reaching outside [0, S],
boxes with s_begin, t_begin > 0): scores and gradients against the float64
oracle (tests/reference.py) and the library's lattice recursion on the
equivalent lattice-sized PX, PY built in NumPy, in JAX and in TF's modes.
The loss: the band path (s_range <= 32) against the lattice path (the same
public function with _rnnt._BAND_MAX_S_RANGE = 0) and the float64 oracle
(tests/reference_rnnt.py), for every rnnt_type, boundary kind, option and
reduction, in float32 and float64; gradients w.r.t. logits and through the
pruning pipeline w.r.t. am and lm; finite differences for one small case."""

import contextlib
import re

import numpy as np
import pytest

jax = pytest.importorskip("jax")
tf = pytest.importorskip("tensorflow")
jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402
import reference  # noqa: E402
import reference_rnnt as ref  # noqa: E402
from conftest import close, relative_error  # noqa: E402
from inputs_rnnt import (  # noqa: E402
    any_boundary,
    band_windows,
    box_boundary,
    length_boundary,
    sizes,
    symbols_and_blank,
)

import xla_rnnt.jax as xj  # noqa: E402
from xla_rnnt import _rnnt  # noqa: E402
from xla_rnnt.jax import _ffi as jax_ffi  # noqa: E402
from xla_rnnt.jax import _ops as jax_ops  # noqa: E402
from xla_rnnt.tf import _ops as tf_ops  # noqa: E402
from xla_rnnt.tf import _xla_module  # noqa: E402
from xla_rnnt.tf import losses as xt  # noqa: E402

TYPES = ("regular", "modified", "constrained")
TOL = {np.float64: 1e-11, np.float32: 2e-5}


# ---------------------------------------------------------------------------
# NumPy: the band's lattice, per the contract of cc/band_recursion.h


def lattice_of_band(px, py, starts, S, modified):
    """PX [B, S, T | T+1], PY [B, S+1, T]: px[b, t, k] at s = starts[b, t] + k
    where that row exists, -inf elsewhere (column T of a regular PX too)."""
    B, T, R = px.shape
    PX = np.full((B, S, T if modified else T + 1), -np.inf)
    PY = np.full((B, S + 1, T), -np.inf)
    for b in range(B):
        for t in range(T):
            for k in range(R):
                s = int(starts[b, t]) + k
                if 0 <= s < S:
                    PX[b, s, t] = px[b, t, k]
                if 0 <= s <= S:
                    PY[b, s, t] = py[b, t, k]
    return PX, PY


def band_of_lattice(GX, GY, starts, R):
    """The lattice gradients at the band's cells [B, T, R], 0 at cells off the lattice."""
    B, S1, T = GY.shape
    gx, gy = np.zeros((B, T, R)), np.zeros((B, T, R))
    for b in range(B):
        for t in range(T):
            for k in range(R):
                s = int(starts[b, t]) + k
                if 0 <= s < S1 - 1:
                    gx[b, t, k] = GX[b, s, t]
                if 0 <= s < S1:
                    gy[b, t, k] = GY[b, s, t]
    return gx, gy


def band_case(rng, modified, dtype, max_s=5, max_t=6, max_r=6):
    """Random band inputs: finite px, py everywhere (also at cells off the
    lattice or the box, which must carry nothing), windows of band_windows,
    boxes with s_begin, t_begin > 0."""
    B = int(rng.integers(1, 5))
    S = int(rng.integers(0, max_s + 1))
    T = int(rng.integers(0, max_t + 1))
    R = int(rng.integers(1, max_r + 1))
    px = rng.standard_normal((B, T, R)).astype(dtype)
    py = rng.standard_normal((B, T, R)).astype(dtype)
    starts = band_windows(rng, B, S, T, R)
    boundary = reference.random_boundary(rng, B, S, T, modified).astype(np.int32)
    weights = rng.standard_normal(B).astype(dtype)
    return dict(px=px, py=py, starts=starts, boundary=boundary, S=S, weights=weights)


def oracle(case, modified):
    """(scores, px_grad, py_grad) in float64 of the band's lattice, gradients at the band."""
    PX, PY = lattice_of_band(case["px"], case["py"], case["starts"], case["S"], modified)
    scores, GX, GY = reference.mutual_information(PX, PY, case["boundary"])
    return (scores, *band_of_lattice(GX, GY, case["starts"], case["px"].shape[2]))


# ---------------------------------------------------------------------------
# The op directly


def jax_band(case, modified):
    """(scores, gradient of sum(weights * scores) w.r.t. px, py) by autodiff
    (custom_vjp over band_forward / band_forward_backward), under jit."""
    S = case["S"]

    def total(px, py, starts, boundary, w):
        scores = jax_ops.band_scores(px, py, starts, boundary, S, modified)
        return jnp.sum(w * scores), scores

    fn = jax.jit(jax.value_and_grad(total, argnums=(0, 1), has_aux=True))
    (_, scores), (gx, gy) = fn(*(case[k] for k in ("px", "py", "starts", "boundary", "weights")))
    return np.asarray(scores), np.asarray(gx), np.asarray(gy)


@pytest.mark.parametrize("modified", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_jax_band_matches_oracle_and_lattice(rng, modified, dtype):
    finite = 0
    for _ in range(6):
        case = band_case(rng, modified, dtype)
        scores, gx, gy = jax_band(case, modified)
        assert scores.dtype == dtype and gx.dtype == dtype and gx.shape == case["px"].shape
        want, want_gx, want_gy = oracle(case, modified)
        w = case["weights"].astype(np.float64)[:, None, None]
        tol = TOL[dtype]
        assert close(scores, want, tol), (scores, want)
        assert close(gx, w * want_gx, tol) and close(gy, w * want_gy, tol)
        # The library's lattice recursion on the same lattice, in the same dtype.
        PX, PY = lattice_of_band(case["px"], case["py"], case["starts"], case["S"], modified)
        lat, (lat_gx, lat_gy) = xj.mutual_information_recursion(
            PX.astype(dtype), PY.astype(dtype), case["boundary"], return_grad=True
        )
        assert close(scores, lat, tol)
        band_gx, band_gy = band_of_lattice(
            np.asarray(lat_gx), np.asarray(lat_gy), case["starts"], gx.shape[2]
        )
        assert close(gx, w * band_gx, tol) and close(gy, w * band_gy, tol)
        finite += int(np.isfinite(want).sum())
    assert finite  # the windows left some items a path


@pytest.mark.parametrize("modified", [False, True])
def test_jax_workspace_backward_equals_forward_backward(rng, modified):
    """band_backward from band_forward's workspace gives band_forward_backward's
    gradients bitwise, and scores_and_grads returns them (constants for autodiff)."""
    case = band_case(rng, modified, np.float64)
    args = (case["px"], case["py"], case["starts"], case["boundary"])
    S = case["S"]
    scores, split, final_split = jax_ffi.band_forward(*args, S, modified)
    assert split.shape == case["px"].shape and final_split.shape == scores.shape
    assert split.dtype == final_split.dtype == np.float64
    gx, gy = jax_ffi.band_backward(
        case["starts"], case["boundary"], split, final_split, S, modified
    )
    assert gx.dtype == np.float64  # split's dtype, not starts' (operand 0)
    scores2, gx2, gy2 = jax_ffi.band_forward_backward(*args, S, modified)
    np.testing.assert_array_equal(scores, scores2)
    np.testing.assert_array_equal(gx, gx2)
    np.testing.assert_array_equal(gy, gy2)
    out = jax_ops.band_scores_and_grads(*args, S, modified)
    for got, want in zip(out, (scores2, gx2, gy2)):
        np.testing.assert_array_equal(got, want)
    # The returned gradients are constants: only the scores carry a gradient.
    g = jax.grad(
        lambda a: jnp.sum(jax_ops.band_scores_and_grads(a, *args[1:], S, modified)[1])
        + jnp.sum(jax_ops.band_scores_and_grads(a, *args[1:], S, modified)[0])
    )(case["px"])
    np.testing.assert_array_equal(g, gx2)


def test_jax_vmap_flattens_leading_axes(rng):
    N, B, T, R, S = 3, 2, 5, 3, 4
    px = rng.standard_normal((N, B, T, R))
    py = rng.standard_normal((N, B, T, R))
    starts = np.stack([band_windows(rng, B, S, T, R) for _ in range(N)])
    boundary = np.stack(
        [reference.random_boundary(rng, B, S, T).astype(np.int32) for _ in range(N)]
    )
    got = jax.vmap(lambda a, b, c, d: jax_ops.band_scores(a, b, c, d, S, False))(
        px, py, starts, boundary
    )
    grads = jax.vmap(
        jax.grad(lambda a, b, c, d: jnp.sum(jax_ops.band_scores(a, b, c, d, S, False))),
        in_axes=(0, None, 0, 0),
    )(px, py[0], starts, boundary)
    for n in range(N):
        case = dict(px=px[n], py=py[n], starts=starts[n], boundary=boundary[n], S=S)
        want, want_gx, _ = oracle(case, False)
        assert close(got[n], want, 1e-11)
        case["py"] = py[0]
        assert close(grads[n], oracle(case, False)[1], 1e-11)


TF_MODES = {
    "eager": lambda fn: fn,
    "function": tf.function,
    "jit_compile": lambda fn: tf.function(fn, jit_compile=True),
}


def tf_band(case, modified, mode, with_grads=False):
    """(scores, gradient of sum(weights * scores) w.r.t. px, py) by
    GradientTape: band_scores (band_forward, then band_backward from its
    workspace) or band_scores_and_grads (band_forward_backward)."""
    S = case["S"]

    def fn(px, py, starts, boundary, w):
        with tf.GradientTape() as tape:
            tape.watch([px, py])
            if with_grads:
                scores, _gx, _gy = tf_ops.band_scores_and_grads(
                    px, py, starts, boundary, S, modified
                )
            else:
                scores = tf_ops.band_scores(px, py, starts, boundary, S, modified)
            total = tf.reduce_sum(w * scores)
        return (scores, *tape.gradient(total, [px, py]))

    args = [tf.constant(case[k]) for k in ("px", "py", "starts", "boundary", "weights")]
    return [np.asarray(x) for x in TF_MODES[mode](fn)(*args)]


@pytest.mark.parametrize("mode", TF_MODES)
@pytest.mark.parametrize("modified", [False, True])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_tf_band_matches_oracle(rng, mode, modified, dtype):
    for with_grads in (False, True):
        case = band_case(rng, modified, dtype)
        scores, gx, gy = tf_band(case, modified, mode, with_grads)
        assert scores.dtype == dtype and gx.dtype == dtype
        want, want_gx, want_gy = oracle(case, modified)
        w = case["weights"].astype(np.float64)[:, None, None]
        assert close(scores, want, TOL[dtype])
        assert close(gx, w * want_gx, TOL[dtype]) and close(gy, w * want_gy, TOL[dtype])


def test_tf_and_jax_band_agree_bitwise(rng):
    """The same CPU handlers behind both bindings: same bits (TF's backward
    from the workspace, JAX's from the forward-backward)."""
    modified = bool(rng.integers(0, 2))
    case = band_case(rng, modified, np.float64)
    for got, want in zip(tf_band(case, modified, "jit_compile"), jax_band(case, modified)):
        np.testing.assert_array_equal(got, want)


def test_tf_band_with_unknown_batch_traces_once(rng):
    T, R, S = 5, 3, 4
    traces = []

    @tf.function(
        jit_compile=True,
        input_signature=[
            tf.TensorSpec([None, T, R], tf.float32),
            tf.TensorSpec([None, T, R], tf.float32),
            tf.TensorSpec([None, T], tf.int32),
            tf.TensorSpec([None, 4], tf.int32),
        ],
    )
    def fn(px, py, starts, boundary):
        traces.append(1)
        with tf.GradientTape() as tape:
            tape.watch([px, py])
            scores = tf_ops.band_scores(px, py, starts, boundary, S, False)
            total = tf.reduce_sum(scores)
        return (scores, *tape.gradient(total, [px, py]))

    for B in (1, 3, 6):
        px = rng.standard_normal((B, T, R)).astype(np.float32)
        py = rng.standard_normal((B, T, R)).astype(np.float32)
        starts = band_windows(rng, B, S, T, R)
        boundary = reference.random_boundary(rng, B, S, T).astype(np.int32)
        scores, gx, gy = fn(px, py, starts, boundary)
        case = dict(px=px, py=py, starts=starts, boundary=boundary, S=S)
        want, want_gx, want_gy = oracle(case, False)
        assert close(scores, want, 2e-5) and close(gx, want_gx, 2e-5) and close(gy, want_gy, 2e-5)
    assert len(traces) == 1


def test_edge_cases(rng):
    """S = 0, T = 0, R = 1, a box of one cell (score 0), an end cell outside
    every window (regular column T), windows entirely off the lattice."""
    cases = [
        # (S, T, R, boundary row, modified)
        (0, 4, 1, [0, 0, 0, 4], False),
        (3, 0, 2, [0, 0, 3, 0], False),  # regular: every symbol at frame 0, column T = 0
        (3, 0, 2, [0, 0, 0, 0], True),
        (2, 3, 1, [1, 1, 1, 1], False),  # start = end
        (3, 4, 2, [0, 0, 3, 4], False),  # end (3, 4) in column T
        (3, 4, 4, [0, 2, 3, 4], True),
    ]
    for S, T, R, row, modified in cases:
        px = rng.standard_normal((2, T, R))
        py = rng.standard_normal((2, T, R))
        starts = np.stack([np.zeros(T), np.full(T, S + 5)]).astype(np.int32)  # item 1: off
        boundary = np.array([row, row], np.int32)
        case = dict(px=px, py=py, starts=starts, boundary=boundary, S=S, weights=np.ones(2))
        scores, gx, gy = jax_band(case, modified)
        want, want_gx, want_gy = oracle(case, modified)
        assert close(scores, want, 1e-12), (S, T, R, row, scores, want)
        assert close(gx, want_gx, 1e-12) and close(gy, want_gy, 1e-12)
        assert not np.isnan(gx).any() and not np.isnan(gy).any()


def test_minus_inf_entries_give_zero_gradients_not_nan(rng):
    B, S, T, R = 3, 3, 5, 3
    px, py = rng.standard_normal((B, T, R)), rng.standard_normal((B, T, R))
    px[0] = -np.inf  # item 0: no emission anywhere: -inf score
    py[1, 2, :] = -np.inf  # item 1: frame 2 has no blank
    starts = np.tile(np.minimum(np.arange(T), S + 1 - R), (B, 1)).astype(np.int32)
    boundary = np.tile([[0, 0, S, T]], (B, 1)).astype(np.int32)
    case = dict(px=px, py=py, starts=starts, boundary=boundary, S=S, weights=np.ones(B))
    scores, gx, gy = jax_band(case, False)
    want, want_gx, want_gy = oracle(case, False)
    assert np.isneginf(scores[0]) and np.all(gx[0] == 0) and np.all(gy[0] == 0)
    assert close(scores, want, 1e-12) and close(gx, want_gx, 1e-12) and close(gy, want_gy, 1e-12)


def test_gradient_matches_finite_differences(rng):
    for modified in (False, True):
        B, S, T, R = 2, 3, 5, 3
        px, py = rng.standard_normal((B, T, R)), rng.standard_normal((B, T, R))
        starts = np.tile(np.minimum(np.arange(T) // 2, S + 1 - R), (B, 1)).astype(np.int32)
        boundary = np.array([[0, 0, S, T], [0, 1, 2, 4]], np.int32)
        w = rng.standard_normal(B)

        def f(a, b):
            return float(
                np.sum(w * np.asarray(jax_ops.band_scores(a, b, starts, boundary, S, modified)))
            )

        case = dict(px=px, py=py, starts=starts, boundary=boundary, S=S, weights=w)
        scores, gx, gy = jax_band(case, modified)
        assert np.all(np.isfinite(scores))
        dx, dy = rng.standard_normal(px.shape), rng.standard_normal(py.shape)
        eps = 1e-6
        numeric = (f(px + eps * dx, py + eps * dy) - f(px - eps * dx, py - eps * dy)) / (2 * eps)
        analytic = np.sum(gx * dx) + np.sum(gy * dy)
        assert abs(numeric - analytic) <= 1e-6 * max(1.0, abs(analytic)), (numeric, analytic)


def test_invalid_boundary_raises_naming_the_row(rng):
    B, S, T, R = 3, 3, 4, 2
    px, py = rng.standard_normal((B, T, R)), rng.standard_normal((B, T, R))
    starts = np.zeros((B, T), np.int32)
    for row in ([0, 0, S + 1, T], [0, 0, S, T + 1], [2, 0, 1, T], [-1, 0, S, T]):
        boundary = np.array([[0, 0, S, T], [0, 0, S, T], row], np.int32)
        with jax.default_device(jax.devices("cpu")[0]):
            with pytest.raises(Exception, match=r"boundary\[2\] = .* must satisfy"):
                jax.block_until_ready(jax_ops.band_scores(px, py, starts, boundary, S, False))
        with tf.device("/CPU:0"):
            with pytest.raises(
                tf.errors.InvalidArgumentError, match=r"boundary\[2\] = .* must satisfy"
            ):
                tf_ops.band_scores(px, py, starts, boundary, S, True)


# ---------------------------------------------------------------------------
# rnnt_loss_pruned: band path against the lattice path and the oracle


@contextlib.contextmanager
def lattice_path():
    """rnnt_loss_pruned on the lattice recursion whatever s_range (read at
    trace time: every call below traces afresh)."""
    saved = _rnnt._BAND_MAX_S_RANGE
    _rnnt._BAND_MAX_S_RANGE = 0
    try:
        yield
    finally:
        _rnnt._BAND_MAX_S_RANGE = saved


BOUNDARIES = {
    "none": lambda rng, B, S, T, rnnt_type: None,
    "lengths": length_boundary,  # (0, 0, s_end, t_end): t_end < T for some items
    "boxes": lambda rng, B, S, T, rnnt_type: box_boundary(rng, B, S, T),
    "any": any_boundary,
}


def loss_case(rng, rnnt_type, windows, dtype=np.float64, boundary="any"):
    """Random inputs of rnnt_loss_pruned: consecutive windows ranges[b, t] =
    starts[b, t] + (0..R-1) with starts non-decreasing within [0, S+1-R]
    ("valid") or anything (band_windows: "arbitrary"); boundary: a key of
    BOUNDARIES."""
    B, S, T, C = sizes(rng, max_s=5, max_t=4)
    symbols, blank = symbols_and_blank(rng, B, S, C)
    low = 2 if rnnt_type != "modified" else 1
    R = int(rng.integers(min(low, S + 1), S + 2))
    if windows == "valid":
        starts = np.sort(rng.integers(0, S + 2 - R, (B, T)), axis=1)
        starts[:, 0] = 0
    else:
        starts = band_windows(rng, B, S, T, R)
    ranges = (starts[:, :, None] + np.arange(R)).astype(np.int32)
    return dict(
        logits=(2.0 * rng.standard_normal((B, T, R, C))).astype(dtype),
        symbols=symbols,
        ranges=ranges,
        blank=blank,
        boundary=BOUNDARIES[boundary](rng, B, S, T, rnnt_type),
        weights=rng.standard_normal(B).astype(dtype),
        S=S,
    )


def window_lps(logits, ranges, S):
    """The oracle's node log-probabilities of windows that may reach outside
    [0, S] (those entries dropped): lp[t, s] of entry s - ranges[t, 0]."""
    out = []
    for x, r in zip(np.asarray(logits, np.float64), np.asarray(ranges)):
        T, R, C = x.shape
        lp = np.full((T, S + 1, C), -np.inf)
        for t in range(T):
            for k in range(R):
                s = int(r[t, 0]) + k
                if 0 <= s <= S:
                    lp[t, s] = ref.log_softmax(x[t, k])
        out.append(lp)
    return out


def jax_loss(case, rnnt_type, reduction="none", jit=True, **options):
    """(loss, d (weights . loss or loss) / d logits) of xj.rnnt_loss_pruned."""
    w = case["weights"]

    def total(logits):
        loss = xj.rnnt_loss_pruned(
            logits,
            case["symbols"],
            case["ranges"],
            case["blank"],
            case["boundary"],
            rnnt_type,
            reduction=reduction,
            **options,
        )
        return (jnp.sum(w * loss) if reduction == "none" else loss), loss

    fn = jax.value_and_grad(total, has_aux=True)
    (_, loss), grad = (jax.jit(fn) if jit else fn)(case["logits"])
    return np.asarray(loss), np.asarray(grad)


def check_against_oracle(case, rnnt_type, loss, reduction, delay):
    lps = window_lps(case["logits"], case["ranges"], case["S"])
    want = ref.loss_from_lps(
        lps, case["symbols"], case["blank"], case["boundary"], rnnt_type, delay
    )
    tol = TOL[case["logits"].dtype.type]
    assert close(loss, ref.reduce(want, reduction), tol), (loss, want)


@pytest.mark.parametrize("rnnt_type", TYPES)
@pytest.mark.parametrize("windows", ["valid", "arbitrary"])
@pytest.mark.parametrize("boundary", ["none", "lengths", "boxes"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_jax_pruned_loss_band_equals_lattice_and_oracle(rng, rnnt_type, windows, boundary, dtype):
    for _ in range(2):
        case = loss_case(rng, rnnt_type, windows, dtype, boundary)
        reduction = str(rng.choice(["none", "mean", "sum"]))
        delay = float(rng.choice([0.0, 0.3]))
        options = dict(delay_penalty=delay, fastemit_lambda=float(rng.choice([0.0, 0.5])))
        band = jax_loss(case, rnnt_type, reduction, **options)
        with lattice_path():
            lattice = jax_loss(case, rnnt_type, reduction, **options)
        tol = TOL[dtype]
        assert band[0].dtype == dtype
        assert close(band[0], lattice[0], tol), (band[0], lattice[0])
        assert close(band[1], lattice[1], tol)
        assert not np.isnan(band[1]).any()
        check_against_oracle(case, rnnt_type, band[0], reduction, delay)


@pytest.mark.parametrize("rnnt_type", TYPES)
def test_band_logprobs_are_the_lattices_at_the_band_cells(rng, rnnt_type):
    """The band recursion's px, py (_pruned_logprobs with band=True) are the
    lattice path's px, py at the band's cells, -inf at cells off the lattice
    (px: s outside [0, S); py: outside [0, S])."""
    for boundary in ("none", "lengths", "boxes"):
        case = loss_case(rng, rnnt_type, "arbitrary", boundary=boundary)
        args = (case["logits"], case["symbols"], case["ranges"], case["blank"], case["boundary"])
        px, py, _, band = _rnnt._pruned_logprobs(jax_ops, *args, rnnt_type, False, True, band=True)
        PX, PY, _, none = _rnnt._pruned_logprobs(jax_ops, *args, rnnt_type, False, True)
        assert none is None and band.S == case["S"] and band.rnnt_type == rnnt_type
        np.testing.assert_array_equal(band.starts, case["ranges"][:, :, 0])
        R = px.shape[2]
        rows = case["ranges"][:, :, 0][:, :, None] + np.arange(R)
        S = case["S"]
        want_px = np.full(px.shape, -np.inf)
        want_py = np.full(py.shape, -np.inf)
        for b, t, k in np.ndindex(*px.shape):
            s = int(rows[b, t, k])
            if 0 <= s < S:
                want_px[b, t, k] = PX[b, s, t]
            if 0 <= s <= S:
                want_py[b, t, k] = PY[b, s, t]
        np.testing.assert_array_equal(np.asarray(px), want_px)
        np.testing.assert_array_equal(np.asarray(py), want_py)


@pytest.mark.parametrize("rnnt_type", TYPES)
def test_window_entries_off_the_lattice_are_never_read(rng, rnnt_type):
    """NaN log-probabilities at window entries s outside [0, S] (given as
    such: fused_log_softmax=False): the lattice path drops them, the band
    path masks them; the same finite losses and gradients, no NaN."""
    for _ in range(4):
        case = loss_case(rng, rnnt_type, "arbitrary", boundary="lengths")
        rows = case["ranges"]
        off = (rows < 0) | (rows > case["S"])
        logits = np.where(off[..., None], np.nan, case["logits"])
        case = dict(case, logits=logits)
        band = jax_loss(case, rnnt_type, fused_log_softmax=False, delay_penalty=0.1)
        with lattice_path():
            lattice = jax_loss(case, rnnt_type, fused_log_softmax=False, delay_penalty=0.1)
        assert not np.isnan(lattice[0]).any() and not np.isnan(lattice[1]).any()
        assert close(band[0], lattice[0], 1e-11) and close(band[1], lattice[1], 1e-11)


@pytest.mark.parametrize("rnnt_type", TYPES)
def test_jax_pruned_loss_options(rng, rnnt_type):
    """use_hat_loss, fused_log_softmax=False, clamp, eager (no jit): band == lattice."""
    case = loss_case(rng, rnnt_type, "valid")
    for options in (
        dict(use_hat_loss=True),
        dict(fused_log_softmax=False),
        dict(clamp=0.05, reduction="mean"),
        dict(jit=False, delay_penalty=0.2, fastemit_lambda=0.3),
    ):
        band = jax_loss(case, rnnt_type, **options)
        with lattice_path():
            lattice = jax_loss(case, rnnt_type, **options)
        assert close(band[0], lattice[0], 1e-11) and close(band[1], lattice[1], 1e-11), options


@pytest.mark.parametrize("rnnt_type", TYPES)
def test_jax_return_grad_occupations_in_lattice_layout(rng, rnnt_type):
    case = loss_case(rng, rnnt_type, str(rng.choice(["valid", "arbitrary"])))
    args = (case["logits"], case["symbols"], case["ranges"])

    def run():
        return jax.jit(
            lambda *a: xj.rnnt_loss_pruned(
                *a, case["blank"], case["boundary"], rnnt_type, reduction="none", return_grad=True
            )
        )(*args)

    loss, (gx, gy) = run()
    with lattice_path():
        loss_l, (gx_l, gy_l) = run()
    B, T, S = case["logits"].shape[0], case["logits"].shape[1], case["S"]
    assert gx.shape == gx_l.shape == (B, S, T + 1 if rnnt_type == "regular" else T)
    assert gy.shape == gy_l.shape == (B, S + 1, T)
    assert close(loss, loss_l, 1e-11) and close(gx, gx_l, 1e-11) and close(gy, gy_l, 1e-11)
    lps = window_lps(case["logits"], case["ranges"], S)
    want_gx, want_gy = ref.occupations_from_lps(
        lps, case["symbols"], case["blank"], case["boundary"], rnnt_type
    )
    assert close(gx, want_gx, 1e-11) and close(gy, want_gy, 1e-11)


def test_jax_pruned_loss_gradient_matches_finite_differences(rng):
    for rnnt_type in TYPES:
        for _ in range(50):  # windows that leave a path (a finite loss)
            case = dict(loss_case(rng, rnnt_type, "valid"), boundary=None)
            loss, grad = jax_loss(case, rnnt_type, "sum", delay_penalty=0.25)
            if np.isfinite(loss):
                break
        assert np.isfinite(loss)
        direction = rng.standard_normal(case["logits"].shape)

        def f(x):
            return float(jax_loss(dict(case, logits=x), rnnt_type, "sum", delay_penalty=0.25)[0])

        eps = 1e-6
        x = case["logits"]
        numeric = (f(x + eps * direction) - f(x - eps * direction)) / (2 * eps)
        analytic = float(np.sum(grad * direction))
        assert abs(numeric - analytic) <= 1e-6 * max(1.0, abs(analytic)), (numeric, analytic)


def test_jax_half_precision_logits(rng):
    case = loss_case(rng, "regular", "valid")
    for dtype in (jnp.float16, jnp.bfloat16):
        half = dict(case, logits=jnp.asarray(case["logits"], dtype))
        band = jax_loss(half, "regular")
        with lattice_path():
            lattice = jax_loss(half, "regular")
        assert band[0].dtype == np.float32 and band[1].dtype == dtype
        assert close(band[0], lattice[0], 1e-5)
        assert close(np.asarray(band[1], np.float32), np.asarray(lattice[1], np.float32), 1e-2)


def test_jax_symbol_outside_classes_gives_inf_loss_and_zero_gradients(rng):
    case = loss_case(rng, "regular", "valid")
    while case["S"] == 0:
        case = loss_case(rng, "regular", "valid")
    case["boundary"] = None
    case["symbols"] = case["symbols"].copy()
    case["symbols"][0, 0] = case["logits"].shape[3] + 3  # item 0 must emit it
    band = jax_loss(case, "regular")
    with lattice_path():
        lattice = jax_loss(case, "regular")
    assert band[0][0] == np.inf and np.all(band[1][0] == 0)
    assert close(band[0], lattice[0], 1e-11) and close(band[1], lattice[1], 1e-11)


def pipeline(lib, rnnt_type, s_range, reduction="sum"):
    """0.5 * simple + pruned loss (joiner tanh(am + lm)) of module lib (xj or xt)."""
    tanh = jnp.tanh if lib is xj else tf.tanh

    def loss(am, lm, symbols, boundary):
        simple, (px_grad, py_grad) = lib.rnnt_loss_simple(
            lm, am, symbols, 0, boundary, rnnt_type, reduction=reduction, return_grad=True
        )
        ranges = lib.get_rnnt_prune_ranges(px_grad, py_grad, boundary, s_range)
        am_pruned, lm_pruned = lib.do_rnnt_pruning(am, lm, ranges)
        pruned = lib.rnnt_loss_pruned(
            tanh(am_pruned + lm_pruned),
            symbols,
            ranges,
            0,
            boundary,
            rnnt_type,
            reduction=reduction,
        )
        return 0.5 * simple + pruned

    return loss


def pipeline_inputs(rng, dtype, B=3, T=7, S=4, V=6):
    am = rng.standard_normal((B, T, V)).astype(dtype)
    lm = rng.standard_normal((B, S + 1, V)).astype(dtype)
    symbols = rng.integers(1, V, (B, S)).astype(np.int32)
    boundary = np.array([[0, 0, S, T], [0, 0, 2, 5], [0, 0, 0, 3]], np.int32)[:B]
    return am, lm, symbols, boundary


@pytest.mark.parametrize("rnnt_type", TYPES)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_pipeline_gradients_wrt_am_lm(rng, rnnt_type, dtype):
    """The windows of get_rnnt_prune_ranges; gradients w.r.t. (am, lm) through
    do_rnnt_pruning, JAX and TF (jit_compile), band == lattice."""
    inputs = pipeline_inputs(rng, dtype)
    s_range = int(rng.integers(2, 4))
    fn = jax.value_and_grad(pipeline(xj, rnnt_type, s_range), argnums=(0, 1))

    def tf_fn(am, lm, symbols, boundary):
        with tf.GradientTape() as tape:
            tape.watch([am, lm])
            loss = pipeline(xt, rnnt_type, s_range)(am, lm, symbols, boundary)
        return loss, tape.gradient(loss, [am, lm])

    def run():  # traced afresh each time
        value, grads = jax.jit(fn)(*inputs)
        tf_value, tf_grads = tf.function(tf_fn, jit_compile=True)(*map(tf.constant, inputs))
        return [np.asarray(value), *map(np.asarray, grads)], [
            tf_value.numpy(),
            *[g.numpy() for g in tf_grads],
        ]

    band = run()
    with lattice_path():
        lattice = run()
    tol = TOL[dtype]
    for framework in (0, 1):
        for got, want in zip(band[framework], lattice[framework]):
            assert np.all(np.isfinite(got))
            assert relative_error(got, want) < tol
    for got, want in zip(band[0], band[1]):  # JAX == TF
        assert relative_error(got, want) < tol


@pytest.mark.parametrize("mode", ["eager", "function", "jit_compile", "unknown_batch"])
@pytest.mark.parametrize("rnnt_type", TYPES)
def test_tf_pruned_loss_band_equals_lattice_and_oracle(rng, mode, rnnt_type):
    dtype = np.float64 if rng.integers(0, 2) else np.float32
    case = loss_case(rng, rnnt_type, str(rng.choice(["valid", "arbitrary"])), dtype)
    reduction = str(rng.choice(["none", "mean", "sum"]))
    delay = float(rng.choice([0.0, 0.3]))
    options = dict(delay_penalty=delay, fastemit_lambda=float(rng.choice([0.0, 0.5])))
    names = ["logits", "symbols", "ranges", "weights"]
    if case["boundary"] is not None:
        names.append("boundary")
    values = [tf.constant(case[n]) for n in names]

    def fn(*args):
        a = dict(zip(names, args))
        with tf.GradientTape() as tape:
            tape.watch(a["logits"])
            loss = xt.rnnt_loss_pruned(
                a["logits"],
                a["symbols"],
                a["ranges"],
                case["blank"],
                a.get("boundary"),
                rnnt_type,
                reduction=reduction,
                **options,
            )
            total = tf.reduce_sum(a["weights"] * loss) if reduction == "none" else loss
        return loss, tape.gradient(total, a["logits"])

    def run():
        if mode == "eager":
            wrapped = fn
        elif mode == "unknown_batch":
            signature = [tf.TensorSpec([None, *v.shape[1:]], v.dtype) for v in values]
            wrapped = tf.function(fn, jit_compile=True, input_signature=signature)
        else:
            wrapped = tf.function(fn, jit_compile=mode == "jit_compile")
        loss, grad = wrapped(*values)
        return loss.numpy(), grad.numpy()

    band = run()
    with lattice_path():
        lattice = run()
    tol = TOL[dtype]
    assert band[0].dtype == dtype
    assert close(band[0], lattice[0], tol) and close(band[1], lattice[1], tol)
    check_against_oracle(case, rnnt_type, band[0], reduction, delay)
    jax_band_out = jax_loss(case, rnnt_type, reduction, **options)
    assert close(band[0], jax_band_out[0], tol) and close(band[1], jax_band_out[1], tol)


def test_tf_invalid_boundary_row_through_the_loss_raises(rng):
    case = loss_case(rng, "regular", "valid")
    B, S, T = case["logits"].shape[0], case["S"], case["logits"].shape[1]
    boundary = np.tile([[0, 0, S, T]], (B, 1))
    boundary[B - 1, 3] = T + 1
    with tf.device("/CPU:0"):
        with pytest.raises(
            tf.errors.InvalidArgumentError, match=rf"boundary\[{B - 1}\] = .* must satisfy"
        ):
            xt.rnnt_loss_pruned(
                case["logits"], case["symbols"], case["ranges"], case["blank"], boundary
            )


# ---------------------------------------------------------------------------
# Which recursion the loss takes


def _jax_targets(fn, *args):
    return set(re.findall(r"custom_call @(xla_rnnt_\w+)", jax.jit(fn).lower(*args).as_text()))


def _tf_targets(fn, *args):
    """The custom calls of the XlaCallModule ops of a trace (their modules as
    text: _serialize is the identity in the tests that call this)."""
    _xla_module._serialized.cache_clear()
    graph = tf.function(fn).get_concrete_function(*args).graph
    _xla_module._serialized.cache_clear()
    text = "".join(
        op.get_attr("module").decode()
        for op in graph.get_operations()
        if op.type == "XlaCallModule"
    )
    return set(re.findall(r"@(xla_rnnt_\w+)\(", text))


@pytest.mark.parametrize("R,band", [(2, True), (32, True), (33, False)])
def test_s_range_up_to_32_takes_the_band(rng, R, band, monkeypatch):
    """s_range <= 32: the band recursion (not the lattice's), forward and
    gradient, in JAX and TF (whose backward is band_backward); wider: the
    lattice. The CPU handlers take any R: the band forced at R = 33 agrees
    (run on the CPU: the CUDA kernels take R <= 32). Only the recursion's
    targets are compared (on a GPU the fused log-softmax gather joins them)."""
    monkeypatch.setattr(_xla_module, "_serialize", lambda text: text)
    B, S, T, C = 2, 33, 3, 4
    logits = rng.standard_normal((B, T, R, C))
    symbols = rng.integers(1, C, (B, S))
    ranges = np.tile(np.arange(R, dtype=np.int32), (B, T, 1))

    def loss(lib):
        return lambda x: lib.rnnt_loss_pruned(x, symbols, ranges, 0, reduction="sum")

    def recursions(targets):
        return {t for t in targets if "band" in t or "mi_" in t}

    forward = recursions(_jax_targets(loss(xj), logits))
    backward = recursions(_jax_targets(jax.grad(loss(xj)), logits))

    def tf_grad(x):
        with tf.GradientTape() as tape:
            tape.watch(x)
            value = loss(xt)(x)
        return tape.gradient(value, x)

    tf_forward = recursions(_tf_targets(loss(xt), tf.constant(logits)))
    tf_backward = recursions(_tf_targets(tf_grad, tf.constant(logits)))
    if band:
        assert forward == {"xla_rnnt_band_forward"}
        assert "xla_rnnt_band_forward_backward" in backward
        assert not any("mi_" in t for t in backward)
        assert tf_forward == {"xla_rnnt_band_forward"}
        assert tf_backward == {"xla_rnnt_band_forward", "xla_rnnt_band_backward"}
    else:
        assert "xla_rnnt_mi_forward" in forward and not any("band" in t for t in forward)
        assert "xla_rnnt_mi_forward" in tf_forward and not any("band" in t for t in tf_backward)
        cpu = jax.devices("cpu")[0]
        with jax.default_device(cpu):
            x = jax.device_put(logits, cpu)
            lattice = jax.value_and_grad(loss(xj))(x)
            monkeypatch.setattr(_rnnt, "_BAND_MAX_S_RANGE", 64)
            forced = jax.value_and_grad(loss(xj))(x)
            assert "xla_rnnt_band_forward" in _jax_targets(loss(xj), x)
        assert relative_error(forced[0], lattice[0]) < 1e-12
        assert relative_error(forced[1], lattice[1]) < 1e-12


# ---------------------------------------------------------------------------
# Edge cases a review found (each failed before its fix)


def _both_paths(monkeypatch, fn):
    """fn() on the band path, then on the lattice path."""
    band = fn()
    monkeypatch.setattr(_rnnt, "_BAND_MAX_S_RANGE", 0)
    return band, fn()


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_log_probs_outside_the_box_carry_no_flow(rng, value, monkeypatch):
    """A NaN or +inf log-probability in a lattice row below s_begin (inside
    the lattice, outside the box) changes nothing, as in the lattice path (a
    cell outside the box used to hand on 0 * inf = NaN)."""
    symbols = np.array([[1, 2, 3]])
    ranges = (np.array([[0, 0, 1, 1]])[:, :, None] + np.arange(3)).astype(np.int32)
    logprobs = np.log(rng.dirichlet(np.ones(5), (1, 4, 3)))
    logprobs[0, 1, 0, 1] = value  # frame 1, row s = 0 < s_begin = 1
    boundary = np.array([[1, 0, 3, 4]])

    def loss():
        return float(
            xj.rnnt_loss_pruned(
                logprobs, symbols, ranges, 0, boundary, reduction="sum", fused_log_softmax=False
            )
        )

    band, lattice = _both_paths(monkeypatch, loss)
    assert np.isfinite(lattice)
    assert relative_error(band, lattice) < 1e-12


def test_nan_logit_gives_a_nan_loss_not_an_impossible_one(rng, monkeypatch):
    """A NaN on a path gives NaN (not +inf, which reads as no alignment)."""
    symbols = np.array([[1, 2]])
    ranges = np.tile(np.arange(3, dtype=np.int32), (1, 4, 1))
    logits = rng.standard_normal((1, 4, 3, 5))
    logits[0, 1, 1, 2] = np.nan

    def loss():
        return float(xj.rnnt_loss_pruned(logits, symbols, ranges, 0, reduction="sum"))

    band, lattice = _both_paths(monkeypatch, loss)
    assert np.isnan(lattice) and np.isnan(band)


@pytest.mark.parametrize("lib", ["jax", "tf"])
def test_return_grad_keeps_column_t_when_t_is_0(lib, monkeypatch):
    """regular, T = 0: return_grad's px_grad is [B, S, T+1] = [B, S, 1]."""
    logits = np.zeros((2, 0, 3, 4), np.float32)
    symbols = np.ones((2, 2), np.int32)
    ranges = np.zeros((2, 0, 3), np.int32)
    module = xj if lib == "jax" else xt

    def shapes():
        out = module.rnnt_loss_pruned(logits, symbols, ranges, 0, return_grad=True)
        px_grad, py_grad = out[1]
        return tuple(px_grad.shape), tuple(py_grad.shape)

    band, lattice = _both_paths(monkeypatch, shapes)
    assert band == lattice == ((2, 2, 1), (2, 3, 0))
