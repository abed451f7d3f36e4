"""Quickstart: the pruned RNN-T loss pipeline in TensorFlow (jit_compile) and
in JAX (jit), on the same inputs, through the same custom calls.

simple loss -> pruning ranges -> pruning -> joiner -> pruned loss

Run: python examples/quickstart.py
"""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import xla_rnnt  # noqa: E402  (imports neither TF nor JAX)

B, T, S, V = 4, 50, 10, 32  # batch, frames, symbols, vocabulary (blank = 0)
rng = np.random.default_rng(0)
am = rng.standard_normal((B, T, V)).astype(np.float32)  # encoder side, projected to V
lm = rng.standard_normal((B, S + 1, V)).astype(np.float32)  # predictor side, projected to V
symbols = rng.integers(1, V, (B, S))
lengths = np.stack(
    [np.zeros(B), np.zeros(B), rng.integers(1, S + 1, B), rng.integers(S, T + 1, B)], 1
).astype(np.int64)  # boundary rows
print(f"xla_rnnt {xla_rnnt.__version__}")

# ---- TensorFlow: the functions live at the top level of xla_rnnt.
import tensorflow as tf  # noqa: E402


@tf.function(jit_compile=True)
def tf_losses(am, lm):
    with tf.GradientTape() as tape:
        tape.watch([am, lm])
        simple, (px_grad, py_grad) = xla_rnnt.rnnt_loss_simple(
            lm=lm,
            am=am,
            symbols=symbols,
            termination_symbol=0,
            boundary=lengths,
            reduction="sum",
            return_grad=True,
        )
        ranges = xla_rnnt.get_rnnt_prune_ranges(
            px_grad=px_grad, py_grad=py_grad, boundary=lengths, s_range=5
        )
        am_pruned, lm_pruned = xla_rnnt.do_rnnt_pruning(am=am, lm=lm, ranges=ranges)
        logits = tf.tanh(am_pruned + lm_pruned)  # your joiner here
        pruned = xla_rnnt.rnnt_loss_pruned(
            logits=logits,
            symbols=symbols,
            ranges=ranges,
            termination_symbol=0,
            boundary=lengths,
            reduction="sum",
        )
        total = 0.5 * simple + pruned
    return simple, pruned, tape.gradient(total, am)


tf_simple, tf_pruned, tf_grad = tf_losses(tf.constant(am), tf.constant(lm))
print(f"TF  simple loss {float(tf_simple):.4f}  pruned loss {float(tf_pruned):.4f}")

# ---- JAX: the same names in xla_rnnt.jax.
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import xla_rnnt.jax as xj  # noqa: E402


def jax_total(am, lm):
    simple, (px_grad, py_grad) = xj.rnnt_loss_simple(
        lm=lm,
        am=am,
        symbols=symbols,
        termination_symbol=0,
        boundary=lengths,
        reduction="sum",
        return_grad=True,
    )
    ranges = xj.get_rnnt_prune_ranges(
        px_grad=px_grad, py_grad=py_grad, boundary=lengths, s_range=5
    )
    am_pruned, lm_pruned = xj.do_rnnt_pruning(am=am, lm=lm, ranges=ranges)
    pruned = xj.rnnt_loss_pruned(
        logits=jnp.tanh(am_pruned + lm_pruned),
        symbols=symbols,
        ranges=ranges,
        termination_symbol=0,
        boundary=lengths,
        reduction="sum",
    )
    return 0.5 * simple + pruned, (simple, pruned)


(_, (jax_simple, jax_pruned)), jax_grad = jax.jit(jax.value_and_grad(jax_total, has_aux=True))(
    am, lm
)
print(f"JAX simple loss {float(jax_simple):.4f}  pruned loss {float(jax_pruned):.4f}")
agree = (
    np.allclose(float(tf_simple), float(jax_simple), rtol=1e-5)
    and np.allclose(float(tf_pruned), float(jax_pruned), rtol=1e-5)
    and np.allclose(tf_grad.numpy(), np.asarray(jax_grad), atol=1e-5)
)
print("TF and JAX agree:", agree)
