"""Quickstart: the same custom call from TensorFlow (jit_compile) and JAX (jit).

Run: python examples/quickstart.py
"""
import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import numpy as np  # noqa: E402

import xla_rnnt  # noqa: E402

B, S, T = 2, 3, 5
rng = np.random.default_rng(0)
px = rng.standard_normal((B, S, T + 1)).astype(np.float32)  # symbol transitions
py = rng.standard_normal((B, S + 1, T)).astype(np.float32)  # blank transitions
boundary = np.array([[0, 0, 3, 5], [0, 0, 2, 4]], np.int64)  # ragged lengths

print(f"xla_rnnt {xla_rnnt.__version__}")

import tensorflow as tf  # noqa: E402


@tf.function(jit_compile=True)
def tf_scores_and_grad(px, py, boundary):
    with tf.GradientTape() as tape:
        tape.watch(px)
        scores = xla_rnnt.mutual_information_recursion(px, py, boundary)
        total = tf.reduce_sum(scores)
    return scores, tape.gradient(total, px)


tf_scores, tf_grad = tf_scores_and_grad(tf.constant(px), tf.constant(py), tf.constant(boundary))
print("TF  scores:", tf_scores.numpy())

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import xla_rnnt.jax as xj  # noqa: E402

jax_scores = jax.jit(xj.mutual_information_recursion)(px, py, boundary)
jax_grad = jax.jit(jax.grad(
    lambda a, b, c: jnp.sum(xj.mutual_information_recursion(a, b, c))))(px, py, boundary)
print("JAX scores:", np.asarray(jax_scores))
print("TF and JAX gradients agree:", np.allclose(tf_grad.numpy(), np.asarray(jax_grad), atol=1e-6))
