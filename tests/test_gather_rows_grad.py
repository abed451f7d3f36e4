"""The gather-rows gradient custom call (cc/gather_rows_grad.h), JAX and TF
bindings on the default device: x_grad[b, n] = the sum of g[b, t, r] over
idx[b, t, r] == n, added r by r, t ascending; bitwise equal to that loop,
for window columns (sorted: binary search) and arbitrary ones (scanned,
indices outside [0, N) dropped)."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)

import jax.numpy as jnp  # noqa: E402

from xla_rnnt.jax import _ffi as jax_ffi  # noqa: E402


def _in_order(idx, g, N):
    """The contract's sum, in its order of additions (g's dtype)."""
    B, T, R, Q = g.shape
    out = np.zeros((B, N, Q), g.dtype)
    for b in range(B):
        for r in range(R):
            for t in range(T):
                n = idx[b, t, r]
                if 0 <= n < N:
                    out[b, n] += g[b, t, r]
    return out


def _windows(rng, B, T, R, N):
    """Pruning windows: non-decreasing starts in [0, N - R], then + r."""
    starts = np.sort(rng.integers(0, max(N - R, 0) + 1, (B, T)), axis=1)
    return (starts[:, :, None] + np.arange(R)).astype(np.int32)


def _tf_call(x, idx, g):
    tf = pytest.importorskip("tensorflow")
    from xla_rnnt.tf import _ffi as tf_ffi

    return tf_ffi.gather_rows_grad(tf.constant(x), tf.constant(idx), tf.constant(g)).numpy()


def _jax_call(x, idx, g):
    return np.asarray(jax_ffi.gather_rows_grad(jnp.asarray(x), jnp.asarray(idx), jnp.asarray(g)))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("columns", ["windows", "arbitrary"])
def test_sums_in_the_contract_order(rng, dtype, columns):
    for _ in range(3):
        B, T, R, N, Q = (int(v) for v in rng.integers(1, [4, 30, 6, 12, 70]))
        N = max(N, R)
        if columns == "windows":
            idx = _windows(rng, B, T, R, N)
        else:  # any order, some outside [0, N)
            idx = rng.integers(-2, N + 2, (B, T, R)).astype(np.int32)
        x = rng.standard_normal((B, N, Q)).astype(dtype)
        g = rng.standard_normal((B, T, R, Q)).astype(dtype)
        want = _in_order(idx, g, N)
        for call in (_jax_call, _tf_call):
            got = call(x, idx, g)
            assert got.dtype == dtype and got.shape == (B, N, Q)
            np.testing.assert_array_equal(got, want)


def test_empty_windows_give_zeros(rng):
    x = rng.standard_normal((2, 5, 3))
    for T, R in ((0, 2), (4, 0)):
        idx = np.zeros((2, T, R), np.int32)
        g = np.zeros((2, T, R, 3))
        for call in (_jax_call, _tf_call):
            np.testing.assert_array_equal(call(x, idx, g), np.zeros_like(x))


def test_pruning_gradient_of_lm_is_the_plain_gathers(rng):
    """do_rnnt_pruning's lm gradient through the custom call equals that of a
    plain gather (autodiff's scatter), float64, both frameworks."""
    tf = pytest.importorskip("tensorflow")
    import xla_rnnt
    import xla_rnnt.jax as xj

    B, T, S, R, J = 3, 11, 6, 3, 4
    am = rng.standard_normal((B, T, J))
    lm = rng.standard_normal((B, S + 1, J))
    ranges = _windows(rng, B, T, R, S + 1)
    cot = rng.standard_normal((B, T, R, J))
    want = np.zeros_like(lm)
    np.add.at(want, (np.arange(B)[:, None, None], ranges), cot)
    got_jax = jax.vjp(lambda lm: xj.do_rnnt_pruning(am, lm, ranges)[1], lm)[1](cot)[0]
    lm_t = tf.constant(lm)
    with tf.GradientTape() as tape:
        tape.watch(lm_t)
        lm_pruned = xla_rnnt.do_rnnt_pruning(tf.constant(am), lm_t, tf.constant(ranges))[1]
    got_tf = tape.gradient(lm_pruned, lm_t, tf.constant(cot)).numpy()
    for got in (np.asarray(got_jax), got_tf):
        np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-14)


def _plain_and_rows(rng, idx, dtype=np.float64):
    """(x, cotangent, plain gather's vjp, the adapter's vjp), JAX."""
    from xla_rnnt.jax import _ops as jax_ops

    B, T, R = idx.shape
    N, Q = 6, 4
    x = rng.standard_normal((B, N, Q)).astype(dtype)
    cot = rng.standard_normal((B, T, R, Q)).astype(dtype)
    want = jax.vjp(lambda x: jax_ops._gather_batched_plain(x, idx, 1), x)[1](cot)[0]
    got = jax.vjp(lambda x: jax_ops.gather_batched(x, idx, 1), x)[1](cot)[0]
    return np.asarray(got), np.asarray(want)


def test_negative_indices_follow_jnp_take(rng):
    """jnp.take reads -1 as the last row; the gradient goes there too."""
    idx = rng.integers(-6, 6, (2, 5, 3)).astype(np.int32)  # T * R = 15 >= N = 6
    got, want = _plain_and_rows(rng, idx)
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-14)


def test_as_many_indices_as_rows_takes_the_custom_call(rng):
    """T * R == N: the custom call's path (fewer would take the equal-index sums)."""
    from xla_rnnt.jax import _ops as jax_ops

    idx = _windows(rng, 2, 3, 2, 6)
    got, want = _plain_and_rows(rng, idx)
    np.testing.assert_allclose(got, want, rtol=1e-14, atol=1e-14)
    x = jnp.zeros((2, 6, 4))
    text = jax.jit(jax.grad(lambda x: jnp.sum(jax_ops.gather_batched(x, idx, 1) ** 2)))
    assert "xla_rnnt_gather_rows_grad" in text.lower(x).as_text()


def test_gradients_of_gradients_are_the_plain_gathers(rng):
    """The custom call's own gradient (a gather): second-order terms through
    it equal those of the plain gather, JAX and TF, float64."""
    tf = pytest.importorskip("tensorflow")
    from xla_rnnt.jax import _ops as jax_ops
    from xla_rnnt.tf import _ops as tf_ops

    B, T, R, N, Q = 2, 7, 3, 6, 4
    idx = _windows(rng, B, T, R, N)
    x = rng.standard_normal((B, N, Q))
    w = rng.standard_normal((B, T, R, Q))

    def penalty(gather):
        # |d/dx sum(w * tanh(gather(x)))|^2: its gradient runs through the
        # gather's gradient and that gradient's own gradient.
        def f(x):
            inner = jax.grad(lambda x: jnp.sum(w * jnp.tanh(gather(x))))(x)
            return jnp.sum(inner**2)

        return np.asarray(jax.grad(f)(x))

    want = penalty(lambda x: jax_ops._gather_batched_plain(x, idx, 1))
    np.testing.assert_allclose(
        penalty(lambda x: jax_ops.gather_batched(x, idx, 1)), want, rtol=1e-12, atol=1e-12
    )
    x_t, w_t, idx_t = tf.constant(x), tf.constant(w), tf.constant(idx)
    with tf.GradientTape() as outer:
        outer.watch(x_t)
        with tf.GradientTape() as inner:
            inner.watch(x_t)
            value = tf.reduce_sum(w_t * tf.tanh(tf_ops.gather_batched(x_t, idx_t, 1)))
        total = tf.reduce_sum(inner.gradient(value, x_t) ** 2)
    np.testing.assert_allclose(outer.gradient(total, x_t).numpy(), want, rtol=1e-12, atol=1e-12)


def test_handler_names_a_wrong_operand_shape(rng):
    x = rng.standard_normal((2, 6, 4))
    idx = np.zeros((2, 5, 3), np.int32)
    g = rng.standard_normal((2, 5, 3, 7))  # Q = 7, x's Q = 4
    with pytest.raises(Exception, match=r"expected g \[\.\.\., T, R, Q\]"):
        _jax_call(x, idx, g)
    with pytest.raises(Exception, match=r"expected g \[\.\.\., T, R, Q\]"):
        _tf_call(x, idx, g)
