"""The fused log-softmax + gather (cc/logsoftmax_gather.h) behind the full and
pruned losses, called directly: float64 oracle, finite differences, -inf rows,
out-of-range symbols, any leading axes, JAX (jit, vmap) and TF (eager,
function, XLA with an unknown batch size), and the handlers' own checks; its
HAT variant against its float64 oracle and the losses' XLA-op HAT path."""

import numpy as np
import pytest

jax = pytest.importorskip("jax")
jax.config.update("jax_enable_x64", True)
import jax.numpy as jnp  # noqa: E402
import reference  # noqa: E402
import reference_rnnt  # noqa: E402
from conftest import close, relative_error  # noqa: E402

from xla_rnnt import _rnnt  # noqa: E402
from xla_rnnt.jax import _ffi as jax_ffi  # noqa: E402
from xla_rnnt.jax.logsoftmax_gather import logsoftmax_gather as jax_gather  # noqa: E402


def random_case(rng, dtype):
    """logits [*lead, C] with some -inf entries and rows, symbols with some
    out-of-range entries, blank, cotangents."""
    lead = tuple(int(n) for n in rng.integers(0, 5, size=rng.integers(1, 4)))
    C = int(rng.choice([1, 3, 4, 8, 33, 64, 129]))
    logits = (3 * rng.standard_normal(lead + (C,))).astype(dtype)
    logits[rng.random(lead + (C,)) < 0.1] = -np.inf
    logits[rng.random(lead) < 0.1] = -np.inf  # whole rows
    symbols = rng.integers(-2, C + 2, size=lead).astype(np.int32)
    blank = int(rng.integers(0, C))
    cot = [rng.standard_normal(lead).astype(dtype) for _ in range(2)]
    return logits, symbols, blank, cot


def hat_case(rng, dtype):
    """random_case, and: some symbols equal to the blank, some rows with mass
    at the blank alone (the others -inf), some blank logits at +-40 (sigmoid
    near 0 and 1)."""
    logits, symbols, blank, cot = random_case(rng, dtype)
    lead, C = symbols.shape, logits.shape[-1]
    symbols = np.where(rng.random(lead) < 0.2, blank, symbols).astype(np.int32)
    alone = (rng.random(lead) < 0.1)[..., None] & (np.arange(C) != blank)
    logits = np.where(alone, -np.inf, logits).astype(dtype)
    saturated = np.where(rng.random(lead) < 0.5, -40.0, 40.0)
    logits[..., blank] = np.where(rng.random(lead) < 0.2, saturated, logits[..., blank])
    return logits, symbols, blank, cot


def jax_value_and_grad(logits, symbols, blank, cot, hat=False):
    def f(x):
        px, py = jax_gather(x, symbols, blank, hat)
        finite = lambda v: jnp.where(jnp.isfinite(v), v, 0)  # noqa: E731
        return jnp.sum(cot[0] * finite(px)) + jnp.sum(cot[1] * finite(py)), (px, py)

    (_, (px, py)), g = jax.jit(jax.value_and_grad(f, has_aux=True))(logits)
    return np.asarray(px), np.asarray(py), np.asarray(g)


# float32: px = x[k] - normalizer cancels to ~1e-7 absolute on values ~0.1.
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_jax_matches_reference(rng, dtype, tol):
    for _ in range(6):
        logits, symbols, blank, cot = random_case(rng, dtype)
        px, py, g = jax_value_and_grad(logits, symbols, blank, cot)
        ref_px, ref_py, ref_grad = reference.logsoftmax_gather(logits, symbols, blank)
        # The cotangent of a -inf output is what the caller passes (0 here).
        gx = np.where(np.isfinite(ref_px), cot[0], 0)
        gy = np.where(np.isfinite(ref_py), cot[1], 0)
        assert px.dtype == dtype and g.dtype == dtype
        assert close(px, ref_px, tol) and close(py, ref_py, tol)
        assert close(g, ref_grad(gx, gy), tol)
        assert not np.isnan(g).any()


def test_minus_inf_rows_and_bad_symbols(rng):
    logits = rng.standard_normal((3, 6))
    logits[1] = -np.inf
    symbols = np.array([-1, 2, 6], np.int32)  # out of range, in range, == C
    px, py = jax_gather(logits, symbols, 4)
    assert np.isneginf(px).tolist() == [True, True, True]
    assert np.isneginf(py).tolist() == [False, True, False]
    g = jax.grad(lambda x: jnp.sum(jax_gather(x, symbols, 4)[1]))(logits)
    assert np.all(np.isfinite(g))
    # A -inf row has normalizer 0: only the one-hot part of its gradient is left.
    assert np.array_equal(g[1], np.eye(6)[4])
    assert abs(g[0].sum()) < 1e-12 and abs(g[2].sum()) < 1e-12


def test_gradient_matches_finite_differences(rng):
    logits = rng.standard_normal((2, 3, 7))
    symbols = rng.integers(0, 7, size=(2, 3)).astype(np.int32)
    w = rng.standard_normal((2, 2, 3))

    def f(x):
        px, py = jax_gather(x, symbols, 0)
        return jnp.sum(w[0] * px) + jnp.sum(w[1] * py)

    g = np.asarray(jax.grad(f)(logits))
    eps = 1e-6
    for idx in [(0, 0, 0), (1, 2, 6), (0, 1, int(symbols[0, 1])), (1, 0, 3)]:
        d = np.zeros_like(logits)
        d[idx] = eps
        fd = (f(logits + d) - f(logits - d)) / (2 * eps)
        assert abs(fd - g[idx]) < 1e-7, (idx, fd, g[idx])


def test_vmap_matches_loop(rng):
    logits = rng.standard_normal((3, 4, 5, 9))
    symbols = rng.integers(0, 9, size=(3, 4, 5)).astype(np.int32)
    px, py = jax.vmap(lambda x, s: jax_gather(x, s, 2))(logits, symbols)
    for i in range(3):
        want = jax_gather(logits[i], symbols[i], 2)
        assert np.array_equal(px[i], want[0]) and np.array_equal(py[i], want[1])


# ---------------------------------------------------------------------------
# HAT


@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_jax_hat_matches_reference(rng, dtype, tol):
    for _ in range(6):
        logits, symbols, blank, cot = hat_case(rng, dtype)
        px, py, g = jax_value_and_grad(logits, symbols, blank, cot, hat=True)
        ref_px, ref_py, ref_norm, ref_grad = reference.hat_logsoftmax_gather(
            logits, symbols, blank
        )
        gx = np.where(np.isfinite(ref_px), cot[0], 0)
        gy = np.where(np.isfinite(ref_py), cot[1], 0)
        assert px.dtype == dtype and g.dtype == dtype
        assert close(px, ref_px, tol) and close(py, ref_py, tol)
        assert close(g, ref_grad(gx, gy), tol)
        assert not np.isnan(g).any()
        normalizers = jax_ffi.logsoftmax_gather(logits, symbols, blank, True)[2]
        assert close(normalizers, ref_norm, tol)


def test_hat_reference_is_k2s_factorisation(rng):
    """The gather oracle agrees with the loss oracle's HAT log-probabilities
    (reference_rnnt.node_logprobs_hat, written apart) on finite rows."""
    C, blank = 9, int(rng.integers(0, 9))
    logits = 3 * rng.standard_normal((4, 5, C))
    symbols = rng.integers(0, C, size=(4, 5)).astype(np.int32)
    px, py, _, _ = reference.hat_logsoftmax_gather(logits, symbols, blank)
    lp = reference_rnnt.node_logprobs_hat(logits, blank)
    np.testing.assert_allclose(px, np.take_along_axis(lp, symbols[..., None], -1)[..., 0])
    np.testing.assert_allclose(py, lp[..., blank])


@pytest.mark.parametrize("blank_at", ["first", "inside"])
def test_hat_gradient_matches_finite_differences(rng, blank_at):
    C = 7
    blank = 0 if blank_at == "first" else int(rng.integers(1, C))
    logits = rng.standard_normal((2, 3, C))
    logits[0, 1, blank] = 6.0  # sigmoid near 1
    symbols = rng.integers(0, C, size=(2, 3)).astype(np.int32)
    symbols[1, 2] = blank
    w = rng.standard_normal((2, 2, 3))

    def f(x):
        px, py = jax_gather(x, symbols, blank, True)
        return jnp.sum(w[0] * px) + jnp.sum(w[1] * py)

    g = np.asarray(jax.grad(f)(logits))
    eps = 1e-6
    cells = [(0, 0, 0), (1, 2, 6), (0, 1, blank), (1, 2, blank), (0, 2, int(symbols[0, 2]))]
    for idx in cells + [(1, 0, int(rng.integers(0, C)))]:
        d = np.zeros_like(logits)
        d[idx] = eps
        fd = (f(logits + d) - f(logits - d)) / (2 * eps)
        assert abs(fd - g[idx]) < 1e-7, (idx, fd, g[idx])


def test_hat_rows_without_non_blank_mass(rng):
    """Non-blank logits all -inf: normalizer 0, -inf px but for the blank,
    py = log_sigmoid(blank logit); a row all -inf has py -inf too. Gradients
    finite: only the blank's (and the one-hot part of the symbol's) is left."""
    logits = np.full((3, 5), -np.inf)
    logits[:2, 2] = [1.5, -3.0]
    symbols = np.array([4, 2, 0], np.int32)  # non-blank, the blank, non-blank
    px, py, normalizers = jax_ffi.logsoftmax_gather(logits, symbols, 2, True)
    want_py = reference_rnnt.log_sigmoid(np.array([1.5, -3.0, -np.inf]))
    np.testing.assert_array_equal(normalizers, 0.0)
    np.testing.assert_allclose(py, want_py)
    np.testing.assert_allclose(px, [-np.inf, want_py[1], -np.inf])
    g = jax.grad(lambda x: jnp.sum(jax_gather(x, symbols, 2, True)[1]))(logits)
    assert np.all(np.isfinite(g))
    np.testing.assert_allclose(g[:, 2], np.exp(reference_rnnt.log_sigmoid(-logits[:, 2])))
    assert np.all(np.delete(np.asarray(g), 2, axis=1) == 0)


@pytest.mark.parametrize(
    "logits_shape,symbols_shape,blank,message",
    [
        ((2, 5), (3,), 0, r"same leading axes, got logits \[2, 5\], symbols \[3\]"),
        ((2, 5), (2,), 5, r"blank = 5 must be in \[0, C = 5\)"),
        ((2, 5), (2, 1), 0, r"same leading axes"),
    ],
)
def test_handler_rejects_bad_operands(logits_shape, symbols_shape, blank, message):
    """The handler checks what the losses check at trace time, for other callers."""
    logits = np.zeros(logits_shape, np.float32)
    symbols = np.zeros(symbols_shape, np.int32)
    results = [jax.ShapeDtypeStruct(symbols_shape, np.float32)] * 3
    call = jax.ffi.ffi_call("xla_rnnt_logsoftmax_gather", results)
    with pytest.raises(Exception, match=message):
        jax.block_until_ready(call(logits, symbols, blank=np.int64(blank), hat=np.bool_(False)))
    with pytest.raises(Exception, match="logits must be float32 or float64, got float16"):
        jax.block_until_ready(
            jax_ffi.logsoftmax_gather(
                logits.astype(np.float16), np.zeros(logits_shape[:-1], np.int32), 0, True
            )
        )


def test_gradient_handler_names_the_bad_operand():
    logits, symbols, rows = np.zeros((2, 5), np.float32), np.zeros(2, np.int32), np.zeros(2)
    call = jax.ffi.ffi_call(
        "xla_rnnt_logsoftmax_gather_grad", jax.ShapeDtypeStruct((2, 5), np.float32)
    )
    with pytest.raises(Exception, match=r"px_grad has shape \[3\], expected 2 elements"):
        jax.block_until_ready(
            call(
                logits,
                symbols,
                rows.astype(np.float32),
                np.zeros(3, np.float32),
                rows.astype(np.float32),
                blank=np.int64(0),
                hat=np.bool_(False),
            )
        )
    with pytest.raises(
        Exception, match=r"py_grad must have the dtype of logits \(float32\), got float64"
    ):
        jax.block_until_ready(
            call(
                logits,
                symbols,
                rows.astype(np.float32),
                rows.astype(np.float32),
                rows,
                blank=np.int64(0),
                hat=np.bool_(True),
            )
        )


try:  # the GPU machine runs the JAX half of this file; it has no TensorFlow
    import tensorflow as tf
except ImportError:
    tf = None
needs_tf = pytest.mark.skipif(tf is None, reason="TensorFlow is not installed")


def tf_gather(logits, symbols, blank, hat=False):
    from xla_rnnt.tf.logsoftmax_gather import logsoftmax_gather

    return logsoftmax_gather(logits, symbols, blank, hat)


@needs_tf
@pytest.mark.parametrize("hat", [False, True])
@pytest.mark.parametrize("mode", ["eager", "function", "jit_compile"])
def test_tf_matches_jax(rng, mode, hat):
    for _ in range(3):
        logits, symbols, blank, cot = (hat_case if hat else random_case)(rng, np.float64)
        want = jax_value_and_grad(logits, symbols, blank, cot, hat)

        def run(x, s, c0, c1):
            with tf.GradientTape() as tape:
                tape.watch(x)
                px, py = tf_gather(x, s, blank, hat)
                finite = lambda v: tf.where(tf.math.is_finite(v), v, tf.zeros_like(v))  # noqa
                total = tf.reduce_sum(c0 * finite(px)) + tf.reduce_sum(c1 * finite(py))
            return px, py, tape.gradient(total, x)

        if mode != "eager":
            # Unknown leading axes: one trace for any batch size.
            spec = [
                tf.TensorSpec([None] * logits.ndim, tf.float64),
                tf.TensorSpec([None] * symbols.ndim, tf.int32),
                tf.TensorSpec([None] * symbols.ndim, tf.float64),
                tf.TensorSpec([None] * symbols.ndim, tf.float64),
            ]
            run = tf.function(run, input_signature=spec, jit_compile=mode == "jit_compile")
        got = run(
            tf.constant(logits), tf.constant(symbols), tf.constant(cot[0]), tf.constant(cot[1])
        )
        for a, b in zip(got, want):
            assert relative_error(a.numpy(), b) < 1e-12


@needs_tf
def test_tf_one_output_used(rng):
    """An unused output's cotangent arrives as None in TF: counted as zero."""
    logits = tf.constant(rng.standard_normal((4, 6)))
    symbols = tf.constant([1, 2, 3, 4], tf.int32)
    with tf.GradientTape() as tape:
        tape.watch(logits)
        _, py = tf_gather(logits, symbols, 0)
        total = tf.reduce_sum(py)
    g = tape.gradient(total, logits).numpy()
    ref = reference.logsoftmax_gather(logits.numpy(), symbols.numpy(), 0)[2]
    assert relative_error(g, ref(np.zeros(4), np.ones(4))) < 1e-12


@pytest.mark.parametrize("fw", ["jax", pytest.param("tf", marks=needs_tf)])
@pytest.mark.parametrize("use_hat_loss", [False, True])
def test_losses_equal_with_the_fused_kernel_forced_on_cpu(rng, fw, use_hat_loss, monkeypatch):
    """Where the default device is a CPU the full and pruned losses use XLA's
    log-softmax (or HAT), on a GPU the fused kernel (its hat variant): both
    paths, forced here on any machine, give the same losses and gradients (so
    the GPU path's integration is tested without a GPU too)."""
    import xla_rnnt.jax as xj
    from xla_rnnt.jax import _ops as jax_ops

    B, T, S, C = 3, 6, 4, 7
    logits = rng.standard_normal((B, T, S + 1, C))
    symbols = rng.integers(0, C, size=(B, S)).astype(np.int32)
    blank = int(rng.integers(0, C))
    s_len = rng.integers(2, S + 1, B)  # inside the last frame's window: finite losses
    boundary = np.stack([np.zeros(B), np.zeros(B), s_len, np.full(B, T)], 1).astype(np.int32)
    start = np.minimum(np.arange(T)[None, :, None] // 2, S - 2) + np.arange(3)[None, None, :]
    ranges = np.broadcast_to(start, (B, T, 3)).astype(np.int32)  # s_range 3 windows
    options = dict(use_hat_loss=use_hat_loss)
    if fw == "jax":
        ops_module, mod = jax_ops, xj

        def run():
            def total(lg, lg_pruned):
                return jnp.sum(
                    mod.rnnt_loss(lg, symbols, blank, boundary, reduction="none", **options)
                ) + jnp.sum(
                    mod.rnnt_loss_pruned(
                        lg_pruned, symbols, ranges, blank, boundary, reduction="none", **options
                    )
                )

            value, grads = jax.value_and_grad(total, argnums=(0, 1))(logits, logits[:, :, :3])
            return [np.asarray(value)] + [np.asarray(g) for g in grads]
    else:
        import xla_rnnt.tf as mod
        from xla_rnnt.tf import _ops as ops_module

        def run():
            lg, lgp = tf.constant(logits), tf.constant(logits[:, :, :3])
            with tf.GradientTape() as tape:
                tape.watch([lg, lgp])
                value = tf.reduce_sum(
                    mod.rnnt_loss(lg, symbols, blank, boundary, reduction="none", **options)
                ) + tf.reduce_sum(
                    mod.rnnt_loss_pruned(
                        lgp, symbols, ranges, blank, boundary, reduction="none", **options
                    )
                )
            return [value.numpy()] + [g.numpy() for g in tape.gradient(value, [lg, lgp])]

    monkeypatch.setattr(ops_module, "default_device_is_gpu", lambda: False)
    xla_path = run()
    assert np.isfinite(xla_path[0])
    calls = []
    monkeypatch.setattr(ops_module, "default_device_is_gpu", lambda: True)
    original = ops_module.logsoftmax_gather
    monkeypatch.setattr(
        ops_module, "logsoftmax_gather", lambda *a: calls.append(a[3]) or original(*a)
    )
    fused = run()
    assert calls == [use_hat_loss] * 2, "the fused kernel (its hat variant) was not used"
    for a, b in zip(fused, xla_path):
        assert relative_error(a, b) < 1e-12


def _loss_shaped_case(rng, dtype):
    """logits [B, T, K, C], in-range index [B, T, K] (some equal to the blank),
    blank, cotangents: what the losses hand the gather."""
    B, T, K = (int(n) for n in rng.integers(1, 5, size=3))
    C = int(rng.choice([2, 3, 8, 33, 130]))
    logits = (3 * rng.standard_normal((B, T, K, C))).astype(dtype)
    logits[rng.random((B, T, K, C)) < 0.05] = -np.inf
    logits[rng.random((B, T, K)) < 0.05] = -np.inf  # padding rows
    blank = int(rng.choice([0, int(rng.integers(0, C))]))
    index = rng.integers(0, C, size=(B, T, K)).astype(np.int32)
    cot = [rng.standard_normal((B, T, K)).astype(dtype) for _ in range(2)]
    return logits, index, blank, cot


def _hat_xla_and_fused(framework, logits, index, blank, cot):
    """[(px, py, logits_grad)] of the losses' XLA-op HAT path (_rnnt._hat_gather)
    and of the fused kernel's hat variant, under jit / jit_compile."""
    if framework == "jax":
        from xla_rnnt.jax import _ops

        def run(gather):
            def f(x):
                px, py = gather(x)
                finite = lambda v: jnp.where(jnp.isfinite(v), v, 0)  # noqa: E731
                return jnp.sum(cot[0] * finite(px)) + jnp.sum(cot[1] * finite(py)), (px, py)

            (_, (px, py)), g = jax.jit(jax.value_and_grad(f, has_aux=True))(logits)
            return [np.asarray(v) for v in (px, py, g)]
    else:
        from xla_rnnt.tf import _ops

        def run(gather):
            @tf.function(jit_compile=True)
            def f(x):
                with tf.GradientTape() as tape:
                    tape.watch(x)
                    px, py = gather(x)
                    finite = lambda v: tf.where(tf.math.is_finite(v), v, tf.zeros_like(v))  # noqa
                    total = tf.reduce_sum(cot[0] * finite(px)) + tf.reduce_sum(cot[1] * finite(py))
                return px, py, tape.gradient(total, x)

            return [v.numpy() for v in f(tf.constant(logits))]

    xla = run(lambda x: _rnnt._hat_gather(_ops, x, index, blank))
    fused = run(lambda x: _ops.logsoftmax_gather(x, index, blank, True))
    return xla, fused


@pytest.mark.parametrize("framework", ["jax", pytest.param("tf", marks=needs_tf)])
@pytest.mark.parametrize("dtype,tol", [(np.float64, 1e-12), (np.float32, 1e-5)])
def test_hat_matches_the_xla_path(rng, framework, dtype, tol):
    for _ in range(3):
        logits, index, blank, cot = _loss_shaped_case(rng, dtype)
        xla, fused = _hat_xla_and_fused(framework, logits, index, blank, cot)
        for name, got, want in zip(("px", "py", "logits_grad"), fused, xla):
            assert got.dtype == dtype, name
            assert close(got, want, tol), name
