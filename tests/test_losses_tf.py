"""xla_rnnt.tf's RNN-T losses: the same numbers as xla_rnnt.jax (one shared source,
two adapters), under tf.function(jit_compile=True), with GradientTape gradients
and an unknown batch axis."""

import warnings

import numpy as np
import pytest

tf = pytest.importorskip("tensorflow")
jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import reference_rnnt as ref  # noqa: E402
from conftest import relative_error  # noqa: E402
from test_losses_jax import (
    TYPES,
    length_boundary,
    simple_inputs,
    sizes,  # noqa: E402
    symbols_and_blank,
)

import xla_rnnt.jax as xj  # noqa: E402
from xla_rnnt.tf import losses as xt  # noqa: E402


def logprobs(m, lm, am, logits, symbols, boundary, ranges, *, blank, rnnt_type, scales, **_):
    """The get_rnnt_logprobs* functions of module m (xj or xt)."""
    pruned_logits = m.do_rnnt_pruning(logits[:, :, 0], lm, ranges)[1]
    return dict(
        simple=m.get_rnnt_logprobs(lm, am, symbols, blank, rnnt_type, boundary),
        smoothed=m.get_rnnt_logprobs_smoothed(
            lm, am, symbols, blank, *scales, boundary, rnnt_type
        ),
        joint=m.get_rnnt_logprobs_joint(logits, symbols, blank, boundary, rnnt_type),
        pruned=m.get_rnnt_logprobs_pruned(
            pruned_logits, symbols, ranges, blank, boundary, rnnt_type
        ),
    )


def everything(
    m, lm, am, logits, symbols, boundary, *, blank, rnnt_type, reduction, delay, s_range, scales
):
    """Every public loss of module m (xj or xt) on the same inputs, with the
    pruning functions in between."""
    out = {}
    simple, (gx, gy) = m.rnnt_loss_simple(
        lm, am, symbols, blank, boundary, rnnt_type, delay, reduction, return_grad=True
    )
    smoothed = m.rnnt_loss_smoothed(
        lm, am, symbols, blank, *scales, boundary, rnnt_type, delay, reduction
    )
    full = m.rnnt_loss(logits, symbols, blank, boundary, rnnt_type, delay, reduction)
    ranges = m.get_rnnt_prune_ranges(gx, gy, boundary, s_range)
    am_p, lm_p = m.do_rnnt_pruning(am, lm, ranges)
    pruned_logits = (am_p + lm_p) * 0.5
    pruned = m.rnnt_loss_pruned(
        pruned_logits, symbols, ranges, blank, boundary, rnnt_type, delay, reduction
    )
    out.update(
        simple=simple,
        occupations=(gx, gy),
        smoothed=smoothed,
        full=full,
        ranges=ranges,
        pruning=(am_p, lm_p),
        pruned=pruned,
    )
    return out, simple + smoothed + full + pruned


def run_tf(inputs, **static):
    @tf.function(jit_compile=True)
    def fn(lm, am, logits, symbols, boundary):
        with tf.GradientTape() as tape:
            tape.watch([lm, am, logits])
            out, total = everything(xt, lm, am, logits, symbols, boundary, **static)
            total = tf.reduce_sum(total)
        return out, tape.gradient(total, [lm, am, logits])

    return fn(*inputs)


def run_jax(inputs, **static):
    def total(lm, am, logits, symbols, boundary):
        out, tot = everything(xj, lm, am, logits, symbols, boundary, **static)
        out["logprobs"] = logprobs(xj, lm, am, logits, symbols, boundary, out["ranges"], **static)
        return jnp.sum(tot), out

    @jax.jit
    def fn(lm, am, logits, symbols, boundary):
        grads, out = jax.grad(total, argnums=(0, 1, 2), has_aux=True)(
            lm, am, logits, symbols, boundary
        )
        return out, grads

    return fn(*inputs)


def assert_same(a, b, tol):
    la, lb = jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b)
    assert len(la) == len(lb)
    for x, y in zip(la, lb):
        x, y = np.asarray(x), np.asarray(y)
        assert x.shape == y.shape and x.dtype == y.dtype, (x.shape, y.shape, x.dtype, y.dtype)
        if x.dtype.kind in "iu":
            np.testing.assert_array_equal(x, y)
        else:
            assert relative_error(x, y) < tol


def test_tf_matches_jax_under_jit_compile(rng):
    """Every public function, values and gradients, on the same random inputs."""
    rnnt_type = str(rng.choice(TYPES))  # all three types: test_tf_eager_matches_oracle
    B, S, T, C = sizes(rng)
    symbols, blank = symbols_and_blank(rng, B, S, C)
    lm, am = simple_inputs(rng, B, S, T, C)
    logits = rng.standard_normal((B, T, S + 1, C))
    boundary = [None, length_boundary(rng, B, S, T, rnnt_type)][int(rng.integers(0, 2))]
    static = dict(
        blank=blank,
        rnnt_type=rnnt_type,
        reduction=str(rng.choice(["none", "mean", "sum"])),
        delay=float(rng.choice([0.0, 0.3])),
        s_range=int(rng.integers(2, S + 3)),
        scales=(float(rng.uniform(0, 0.3)), float(rng.uniform(0, 0.3))),
    )
    dtype, tol = [(np.float64, 1e-12), (np.float32, 1e-5)][int(rng.integers(0, 2))]
    inputs = (
        lm.astype(dtype),
        am.astype(dtype),
        logits.astype(dtype),
        symbols.astype(np.int32),
        None if boundary is None else boundary.astype(np.int32),
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tf_out, tf_grads = run_tf(inputs, **static)
        jax_out, jax_grads = run_jax(inputs, **static)
    # The get_rnnt_logprobs* functions eagerly (they double the XLA compile time).
    tf_out["logprobs"] = logprobs(xt, *inputs, tf_out["ranges"], **static)
    tf_out = jax.tree_util.tree_map(lambda x: x.numpy(), tf_out)
    assert_same(tf_out, jax_out, tol)
    assert_same([g.numpy() for g in tf_grads], list(jax_grads), tol)
    assert all(np.any(np.asarray(g) != 0) for g in jax_grads)


def test_tf_eager_matches_oracle(rng):
    """Eager TF, each rnnt_type, boundary given and None, against the float64 oracle."""
    B, S, T, C = sizes(rng)
    symbols, blank = symbols_and_blank(rng, B, S, C)
    lm, am = simple_inputs(rng, B, S, T, C)
    logits = rng.standard_normal((B, T, S + 1, C))
    for rnnt_type in TYPES:
        boundary = length_boundary(rng, B, S, T, rnnt_type)
        delay = float(rng.choice([0.0, 0.3]))
        for bnd in (None, boundary):
            got = (
                xt.rnnt_loss_simple(lm, am, symbols, blank, bnd, rnnt_type, delay, "none"),
                xt.rnnt_loss_smoothed(
                    lm, am, symbols, blank, 0.1, 0.2, bnd, rnnt_type, delay, "none"
                ),
                xt.rnnt_loss(logits, symbols, blank, bnd, rnnt_type, delay, "none"),
            )
            want = (
                ref.loss_from_lps(ref.lps_simple(lm, am), symbols, blank, bnd, rnnt_type, delay),
                ref.loss_from_lps(
                    ref.lps_smoothed(lm, am, 0.1, 0.2), symbols, blank, bnd, rnnt_type, delay
                ),
                ref.loss_from_lps(ref.lps_joint(logits), symbols, blank, bnd, rnnt_type, delay),
            )
            for g, w in zip(got, want):
                assert g.dtype == tf.float64 and relative_error(g.numpy(), w) < 1e-10


def test_unknown_batch_one_trace(rng):
    S, T, C = int(rng.integers(1, 4)), int(rng.integers(3, 6)), 4
    blank = 0

    def step(lm, am, symbols, boundary):
        with tf.GradientTape() as tape:
            tape.watch([lm, am])
            simple, (gx, gy) = xt.rnnt_loss_simple(
                lm, am, symbols, blank, boundary, delay_penalty=0.1, return_grad=True
            )
            ranges = xt.get_rnnt_prune_ranges(gx, gy, boundary, 2)
            am_p, lm_p = xt.do_rnnt_pruning(am, lm, ranges)
            pruned = xt.rnnt_loss_pruned(
                tf.tanh(am_p + lm_p),
                symbols,
                ranges,
                blank,
                boundary,
                rnnt_type="constrained",
                delay_penalty=0.1,
            )
            loss = simple + pruned
        return loss, tape.gradient(loss, [lm, am])

    traces = []

    @tf.function(
        jit_compile=True,
        input_signature=[
            tf.TensorSpec([None, S + 1, C], tf.float32),
            tf.TensorSpec([None, T, C], tf.float32),
            tf.TensorSpec([None, S], tf.int64),
            tf.TensorSpec([None, 4], tf.int64),
        ],
    )
    def train_step(*args):
        traces.append(args[0].shape[0])
        return step(*args)

    for B in (int(rng.integers(1, 3)), int(rng.integers(3, 5))):
        lm, am = (tf.constant(x, tf.float32) for x in simple_inputs(rng, B, S, T, C))
        symbols, _ = symbols_and_blank(rng, B, S, C)
        symbols = tf.constant(np.where(symbols == blank, 1, symbols))
        boundary = tf.constant(length_boundary(rng, B, S, T, "modified"))
        loss, grads = train_step(lm, am, symbols, boundary)
        want, want_grads = step(lm, am, symbols, boundary)  # eager
        assert np.isfinite(loss.numpy()) and relative_error(loss.numpy(), want.numpy()) < 1e-5
        for g, w in zip(grads, want_grads):
            assert g.shape == (B,) + tuple(w.shape[1:])
            assert relative_error(g.numpy(), w.numpy()) < 1e-4
    assert traces == [None]


def test_tf_eager_half_precision_and_errors(rng):
    B, S, T, C = 2, 2, 3, 4
    symbols, blank = symbols_and_blank(rng, B, S, C)
    lm, am = simple_inputs(rng, B, S, T, C)
    logits = rng.standard_normal((B, T, S + 1, C))
    for dtype in (tf.float16, tf.bfloat16):
        half = tf.constant(logits, dtype)
        loss = xt.rnnt_loss(half, symbols, blank, reduction="none")
        assert loss.dtype == tf.float32
        want = ref.loss_from_lps(ref.lps_joint(tf.cast(half, tf.float64).numpy()), symbols, blank)
        assert relative_error(loss.numpy(), want) < 1e-5
    with pytest.raises(ValueError, match=r"symbols must have shape \[B, S\] = \[2, 2\]"):
        xt.rnnt_loss_simple(lm, am, symbols[:, :1], blank)
    with pytest.raises(ValueError, match=r"lm .*same C"):
        xt.rnnt_loss_simple(lm, am[:, :, :2], symbols, blank)

    @tf.function(input_signature=[tf.TensorSpec([None, T, None, C], tf.float64)])
    def unknown_s(logits):
        return xt.rnnt_loss(logits, symbols, blank)

    with pytest.raises(ValueError, match="every axis but B known at trace time"):
        unknown_s(logits)
