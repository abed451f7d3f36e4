"""The gathers' gradients without scatters (issue #17): the gradient of the
pruned pipeline holds no scatter-add, in the StableHLO that JAX lowers and in
the HLO that TF's jit_compile builds, on both log-softmax paths (lm's at the
pruning windows is the custom call xla_rnnt_gather_rows_grad); and the
adapters' gathers have the gradients of plain gathers, equal to float
rounding (the windows' bitwise, summed in the same order)."""

import re

import numpy as np
import pytest

jax = pytest.importorskip("jax")
tf = pytest.importorskip("tensorflow")
jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402

import xla_rnnt  # noqa: E402
import xla_rnnt.jax as xj  # noqa: E402
from xla_rnnt.jax import _ops as jax_ops  # noqa: E402
from xla_rnnt.tf import _ops as tf_ops  # noqa: E402

# T * R > S + 1 (lm's window gather takes the gather-rows custom call), S < V
# (am's symbol gather takes the equal-index sums), and J != V.
B, T, S, V, J, R = 3, 7, 4, 6, 5, 2


def _inputs(rng, dtype=np.float64):
    return dict(
        am=rng.standard_normal((B, T, J)).astype(dtype),
        lm=rng.standard_normal((B, S + 1, J)).astype(dtype),
        weights=rng.standard_normal((J, V)).astype(dtype),
        symbols=rng.integers(0, V, (B, S)).astype(np.int32),
        boundary=np.array([[0, 0, S, T], [0, 0, 2, 5], [0, 0, 0, 3]], np.int32),
    )


def _pipeline(lib, tanh, matmul, rnnt_type="regular"):
    """0.5 * simple + pruned loss, the joiner tanh(am + lm) @ weights."""

    def loss(am, lm, weights, symbols, boundary):
        logits_am, logits_lm = matmul(am, weights), matmul(lm, weights)
        simple, (px_grad, py_grad) = lib.rnnt_loss_simple(
            lm=logits_lm,
            am=logits_am,
            symbols=symbols,
            termination_symbol=0,
            boundary=boundary,
            rnnt_type=rnnt_type,
            reduction="sum",
            return_grad=True,
        )
        ranges = lib.get_rnnt_prune_ranges(px_grad, py_grad, boundary, R)
        am_pruned, lm_pruned = lib.do_rnnt_pruning(am, lm, ranges)
        pruned = lib.rnnt_loss_pruned(
            logits=matmul(tanh(am_pruned + lm_pruned), weights),
            symbols=symbols,
            ranges=ranges,
            termination_symbol=0,
            boundary=boundary,
            rnnt_type=rnnt_type,
            reduction="sum",
        )
        return 0.5 * simple + pruned

    return loss


def _stablehlo_scatter_shapes(text):
    """Result shapes of the stablehlo.scatter ops in a module's text."""
    shapes = []
    for match in re.finditer(r'"stablehlo\.scatter"\(', text):
        result = re.search(r"\) -> tensor<([0-9x]+)x[a-z0-9]+>", text[match.end() :])
        shapes.append(tuple(int(d) for d in result.group(1).split("x")))
    return shapes


def _hlo_scatter_shapes(text):
    """Result shapes of the scatter ops in an HLO module's text."""
    return [
        tuple(int(d) for d in dims.split(","))
        for dims in re.findall(r"= [a-z0-9]+\[([0-9,]+)\]\{[0-9,]*\} scatter\(", text)
    ]


@pytest.fixture(params=["xla_log_softmax", "fused_gather"])
def log_softmax_path(request, monkeypatch):
    """Both paths of the pruned loss's log-softmax: XLA's ops (CPUs) and the
    fused custom call (GPUs), whatever the machine."""
    fused = request.param == "fused_gather"
    monkeypatch.setattr(jax_ops, "default_device_is_gpu", lambda: fused)
    monkeypatch.setattr(tf_ops, "default_device_is_gpu", lambda: fused)
    return request.param


@pytest.mark.parametrize("rnnt_type", ["regular", "modified"])
def test_jax_pipeline_gradient_has_no_scatter(rng, log_softmax_path, rnnt_type):
    x = _inputs(rng)
    loss = _pipeline(xj, jnp.tanh, jnp.matmul, rnnt_type)
    grad = jax.jit(jax.grad(loss, argnums=(0, 1, 2)))
    text = grad.lower(*x.values()).as_text()
    assert _stablehlo_scatter_shapes(text) == []
    assert "xla_rnnt_gather_rows_grad" in text


@pytest.mark.parametrize("rnnt_type", ["regular", "modified"])
def test_tf_pipeline_gradient_has_no_scatter(rng, log_softmax_path, rnnt_type):
    x = {k: tf.constant(v) for k, v in _inputs(rng).items()}
    loss = _pipeline(xla_rnnt, tf.tanh, tf.matmul, rnnt_type)

    @tf.function(jit_compile=True)
    def grad(am, lm, weights, symbols, boundary):
        with tf.GradientTape() as tape:
            tape.watch([am, lm, weights])
            value = loss(am, lm, weights, symbols, boundary)
        return tape.gradient(value, [am, lm, weights])

    text = grad.experimental_get_compiler_ir(*x.values())(stage="hlo")
    assert _hlo_scatter_shapes(text) == []
    assert "xla_rnnt_gather_rows_grad" in text


def test_full_loss_gradient_has_no_scatter(rng):
    logits = rng.standard_normal((B, T, S + 1, V))
    symbols = rng.integers(0, V, (B, S)).astype(np.int32)

    def loss(logits):
        return xj.rnnt_loss(logits=logits, symbols=symbols, termination_symbol=0, reduction="sum")

    assert _stablehlo_scatter_shapes(jax.jit(jax.grad(loss)).lower(logits).as_text()) == []


# ---------------------------------------------------------------------------
# the adapters' gathers: values and gradients of plain gathers


def _jax_vjp(fn, x, cotangent):
    out, vjp = jax.vjp(fn, jnp.asarray(x))
    return np.asarray(out), np.asarray(vjp(jnp.asarray(cotangent))[0])


def _tf_vjp(fn, x, cotangent):
    x = tf.constant(x)
    with tf.GradientTape() as tape:
        tape.watch(x)
        out = fn(x)
    return out.numpy(), tf.convert_to_tensor(tape.gradient(out, x, tf.constant(cotangent))).numpy()


def _symbols(rng, shape, n):
    """Indices in [0, n), the last of each item repeating its first."""
    idx = rng.integers(0, n, shape).astype(np.int32)
    flat = idx.reshape(shape[0], -1)  # a view: writes go to idx
    if flat.shape[1]:
        flat[:, -1] = flat[:, 0]
    return idx


# (x shape, idx shape, axis): am [B, T, V] at symbols [B, S] (fewer indices
# than classes: the scatter-free gradient), one symbol, none (S = 0), lm
# [B, S+1, J] at windows [B, T, R] (more indices than rows: autodiff's) and
# at windows of fewer frames than rows (scatter-free).
GATHERS = [
    ((3, 7, 6), (3, 4), 2),
    ((2, 3, 5), (2, 1), 2),
    ((2, 3, 5), (2, 0), 2),
    ((3, 5, 4), (3, 7, 2), 1),
    ((2, 9, 3), (2, 2, 2), 1),
]


@pytest.mark.parametrize("x_shape, idx_shape, axis", GATHERS)
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_gather_batched_gradient_is_that_of_a_plain_gather(rng, x_shape, idx_shape, axis, dtype):
    x = rng.standard_normal(x_shape).astype(dtype)
    idx = _symbols(rng, idx_shape, x_shape[axis])
    out_shape = x_shape[:axis] + idx_shape[1:] + x_shape[axis + 1 :]
    cotangent = rng.standard_normal(out_shape).astype(dtype)
    plain = lambda x: jax_ops._gather_batched_plain(x, idx, axis)  # noqa: E731
    want = _jax_vjp(plain, x, cotangent)
    # Sums of several cotangents in another order (a GPU's scatter adds in any
    # order): rounding relative to the sum of the terms' magnitudes.
    bound = 4 * np.finfo(dtype).eps * _jax_vjp(plain, x, np.abs(cotangent))[1]
    for got in (
        _jax_vjp(lambda x: jax_ops.gather_batched(x, idx, axis), x, cotangent),
        _tf_vjp(lambda x: tf_ops.gather_batched(x, idx, axis), x, cotangent),
    ):
        np.testing.assert_array_equal(got[0], want[0])
        assert np.all(np.abs(got[1] - want[1]) <= bound), np.max(np.abs(got[1] - want[1]) - bound)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_take_along_last_gradient_is_that_of_a_plain_gather(rng, dtype):
    x = rng.standard_normal((3, 4, 2, 6)).astype(dtype)
    idx = _symbols(rng, (3, 4, 2, 1), 6)
    cotangent = rng.standard_normal(idx.shape).astype(dtype)
    want = _jax_vjp(lambda x: jnp.take_along_axis(x, idx, axis=-1), x, cotangent)
    for got in (
        _jax_vjp(lambda x: jax_ops.take_along_last(x, idx), x, cotangent),
        _tf_vjp(lambda x: tf_ops.take_along_last(x, idx), x, cotangent),
    ):
        np.testing.assert_array_equal(got[0], want[0])
        np.testing.assert_array_equal(got[1], want[1])  # one term per element: exact


def test_tf_gather_gradients_with_an_unknown_batch_size(rng):
    am, lm = rng.standard_normal((3, 7, 6)), rng.standard_normal((3, 4, 6))
    symbols = _symbols(rng, (3, 4), 6)
    spec = [tf.TensorSpec([None, 7, 6], tf.float64), tf.TensorSpec([None, 4, 6], tf.float64)]

    @tf.function(jit_compile=True, input_signature=spec + [tf.TensorSpec([None, 4], tf.int32)])
    def grads(am, lm, symbols):
        with tf.GradientTape() as tape:
            tape.watch([am, lm])
            total = tf.reduce_sum(tf_ops.gather_batched(am, symbols, 2) ** 2) + tf.reduce_sum(
                tf_ops.take_along_last(lm, symbols[:, :, None]) ** 3
            )
        return tape.gradient(total, [am, lm])

    got_am, got_lm = (g.numpy() for g in grads(am, lm, symbols))
    want_am, want_lm = np.zeros_like(am), np.zeros_like(lm)
    for b in range(3):
        for s in range(4):
            want_am[b, :, symbols[b, s]] += 2 * am[b, :, symbols[b, s]]
            want_lm[b, s, symbols[b, s]] += 3 * lm[b, s, symbols[b, s]] ** 2
    np.testing.assert_allclose(got_am, want_am, rtol=1e-15)
    np.testing.assert_allclose(got_lm, want_lm, rtol=1e-15)
