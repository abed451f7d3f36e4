"""The symbol-gather gradient custom call (cc/gather_symbols_grad.h), JAX and TF
bindings on the default device: x_grad[b, t, v] = 0 + the g[b, s, t] over
idx[b, s] == v, s ascending, indices outside [0, V) dropped; bitwise equal to
that loop. And the simple loss's gather of am at the symbols (ops
gather_symbols), whose gradient it is: equal to a plain gather's, to second
order, and without a scatter or the equal-index product."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402

from xla_rnnt.jax import _ffi as jax_ffi  # noqa: E402
from xla_rnnt.jax import _ops as jax_ops  # noqa: E402


def _in_order(idx, g, V):
    """The contract's sum, in its order of additions (g's dtype)."""
    B, S, T = g.shape
    out = np.zeros((B, T, V), g.dtype)
    for b in range(B):
        for s in range(S):
            v = idx[b, s]
            if 0 <= v < V:
                out[b, :, v] += g[b, s]
    return out


def _tf_call(x, idx, g):
    tf = pytest.importorskip("tensorflow")
    from xla_rnnt.tf import _ffi as tf_ffi

    return tf_ffi.gather_symbols_grad(tf.constant(x), tf.constant(idx), tf.constant(g)).numpy()


def _jax_call(x, idx, g):
    return np.asarray(
        jax_ffi.gather_symbols_grad(jnp.asarray(x), jnp.asarray(idx), jnp.asarray(g))
    )


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sums_in_the_contract_order(rng, dtype):
    for _ in range(4):
        B, T, S, V = (int(v) for v in rng.integers(1, [4, 70, 40, 12]))
        # few classes: repeated symbols, chains of several; some outside [0, V)
        idx = rng.integers(-2, V + 2, (B, S)).astype(np.int32)
        x = rng.standard_normal((B, T, V)).astype(dtype)
        g = rng.standard_normal((B, S, T)).astype(dtype)
        g[rng.random(g.shape) < 0.2] = -0.0  # sums start from +0: lone -0.0 terms give +0.0
        want = _in_order(idx, g, V)
        for call in (_jax_call, _tf_call):
            got = call(x, idx, g)
            assert got.dtype == dtype and got.shape == (B, T, V)
            np.testing.assert_array_equal(got, want)
            np.testing.assert_array_equal(np.signbit(got), np.signbit(want))


def test_empty_shapes_give_zeros(rng):
    for T, S, V in ((0, 3, 4), (5, 0, 4), (5, 3, 0)):
        x = rng.standard_normal((2, T, V))
        idx = np.zeros((2, S), np.int32)
        g = np.zeros((2, S, T))
        for call in (_jax_call, _tf_call):
            np.testing.assert_array_equal(call(x, idx, g), np.zeros_like(x))


def _jax_second_order(gather, x, w):
    """(gradient, gradient of |gradient|^2) of sum(w * tanh(gather(x)))."""

    def first(x):
        return jax.grad(lambda x: jnp.sum(w * jnp.tanh(gather(x))))(x)

    return np.asarray(first(x)), np.asarray(jax.grad(lambda x: jnp.sum(first(x) ** 2))(x))


def _tf_second_order(gather, x, w):
    tf = pytest.importorskip("tensorflow")
    x_t, w_t = tf.constant(x), tf.constant(w)
    with tf.GradientTape() as outer:
        outer.watch(x_t)
        with tf.GradientTape() as inner:
            inner.watch(x_t)
            value = tf.reduce_sum(w_t * tf.tanh(gather(x_t)))
        first = inner.gradient(value, x_t)
        total = tf.reduce_sum(first**2)
    return first.numpy(), outer.gradient(total, x_t).numpy()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gradients_to_second_order_are_the_plain_gathers(rng, dtype):
    """S below and above V (the two paths gather_batched took before): first
    and second-order gradients through the custom call equal those of a plain
    gather, JAX and TF."""
    tf = pytest.importorskip("tensorflow")
    from xla_rnnt.tf import _ops as tf_ops

    tol = 1e-12 if dtype == np.float64 else 1e-5
    for S, V in ((4, 9), (13, 5)):
        B, T = 3, int(rng.integers(1, 20))
        idx = rng.integers(0, V, (B, S)).astype(np.int32)
        x = rng.standard_normal((B, T, V)).astype(dtype)
        w = rng.standard_normal((B, S, T)).astype(dtype)
        want = _jax_second_order(lambda x: jax_ops._take_symbols(x, idx), x, w)
        got_jax = _jax_second_order(lambda x: jax_ops.gather_symbols(x, idx), x, w)
        got_tf = _tf_second_order(lambda x: tf_ops.gather_symbols(x, tf.constant(idx)), x, w)
        for got in (got_jax, got_tf):
            for g, e in zip(got, want):
                assert g.dtype == dtype
                np.testing.assert_allclose(g, e, rtol=tol, atol=tol)


def test_negative_indices_follow_jnp_take(rng):
    """jnp.take reads -1 as the last class; the gradient goes there too."""
    B, T, S, V = 2, 6, 5, 4
    idx = rng.integers(-V, V, (B, S)).astype(np.int32)
    x = rng.standard_normal((B, T, V))
    cot = rng.standard_normal((B, S, T))
    want = jax.vjp(lambda x: jax_ops._take_symbols(x, idx), x)[1](cot)[0]
    got = jax.vjp(lambda x: jax_ops.gather_symbols(x, idx), x)[1](cot)[0]
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("gather", ["symbols", "rows"])
def test_jax_gradient_and_its_transpose_follow_the_plain_gather(rng, gather):
    """Indices in [-2n, 2n): jnp.take wraps [-n, 0) and fills the rest; the
    custom call's gradient and the gradient of that gradient (its transpose:
    the cotangent of g) equal the plain gather's, zeros where it fills."""
    B, V = 2, 4
    if gather == "symbols":
        S, T = 9, 5
        idx = rng.integers(-2 * V, 2 * V, (B, S)).astype(np.int32)
        x, g = rng.standard_normal((B, T, V)), rng.standard_normal((B, S, T))
        plain, ours = jax_ops._take_symbols, jax_ops.gather_symbols
    else:
        T, R, Q = 5, 3, 2
        idx = rng.integers(-2 * V, 2 * V, (B, T, R)).astype(np.int32)
        x, g = rng.standard_normal((B, V, Q)), rng.standard_normal((B, T, R, Q))
        plain, ours = jax_ops._take_rows, jax_ops._gather_rows

    def vjp_and_its_transpose(gather):
        vjp = jax.vjp(lambda x: gather(x, idx), x)[1]
        x_grad = vjp(g)[0]
        g_ct = jax.vjp(lambda g: vjp(g)[0], g)[1](x)[0]  # any cotangent of x's shape
        return np.asarray(x_grad), np.asarray(g_ct)

    for got, want in zip(vjp_and_its_transpose(ours), vjp_and_its_transpose(plain)):
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-14)


def test_simple_loss_gradient_takes_the_custom_call(rng):
    """The simple loss's am gradient: the custom call, no scatter, no [S, S]
    equality product (an S x S dot), in JAX's StableHLO and TF's HLO."""
    tf = pytest.importorskip("tensorflow")
    import xla_rnnt
    import xla_rnnt.jax as xj

    for S, V in ((6, 4), (3, 7)):  # S >= V took autodiff's scatter, S < V the equal-index sums
        _check_simple_loss_gradient(rng, tf, xla_rnnt, xj, 2, 9, S, V)


def _check_simple_loss_gradient(rng, tf, xla_rnnt, xj, B, T, S, V):
    lm = rng.standard_normal((B, S + 1, V)).astype(np.float32)
    am = rng.standard_normal((B, T, V)).astype(np.float32)
    symbols = rng.integers(1, V, (B, S)).astype(np.int32)

    def jax_loss(am, lm):
        return xj.rnnt_loss_simple(lm=lm, am=am, symbols=symbols, termination_symbol=0)

    text = jax.jit(jax.grad(jax_loss, argnums=(0, 1))).lower(am, lm).as_text()

    @tf.function(jit_compile=True)
    def tf_grads(am, lm):
        with tf.GradientTape() as tape:
            tape.watch([am, lm])
            loss = xla_rnnt.rnnt_loss_simple(
                lm=lm, am=am, symbols=tf.constant(symbols), termination_symbol=0
            )
        return tape.gradient(loss, [am, lm])

    hlo = tf_grads.experimental_get_compiler_ir(tf.constant(am), tf.constant(lm))(stage="hlo")
    for module in (text, hlo):
        assert "xla_rnnt_gather_symbols_grad" in module
        assert "scatter" not in module
        assert f"{B}x{S}x{S}x" not in module and f"[{B},{S},{S}]" not in module


def test_handler_names_a_wrong_operand_shape(rng):
    x = rng.standard_normal((2, 6, 4))
    idx = np.zeros((2, 5), np.int32)
    g = rng.standard_normal((2, 5, 7))  # T = 7, x's T = 6
    for call in (_jax_call, _tf_call):
        with pytest.raises(Exception, match=r"expected g \[\.\.\., S, T\]"):
            call(x, idx, g)
