"""One gradient of the pruned pipeline on the GPU, small enough to run under
compute-sanitizer (README "Kernel check under compute-sanitizer"): the XLA
kernels of the whole program, ours among them, at the shape where memcheck
once stopped in an XLA scatter (B=3 T=7 S=4 V=6, float64) and at a float32 one.

  XLA_FLAGS=--xla_gpu_enable_command_buffer= compute-sanitizer --tool memcheck \\
    --error-exitcode 1 python3 tools/sanitize_pipeline.py [--frameworks jax tf]

(The sanitizer itself crashes on XLA's command buffers, hence the flag.)
Prints the losses and the number of scatters XLA compiled; the sanitizer's
summary is the verdict.
"""

import argparse
import os
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "benchmarks"))

from benchmark_pipeline_grad import (  # noqa: E402
    make_inputs,
    pipeline,
    scatters,
    tf_value_and_grad,
)

SHAPES = ((3, 7, 4, 6, "float64"), (4, 40, 10, 16, "float32"))


def run_jax(inputs, dtype):
    import jax
    import jax.numpy as jnp

    import xla_rnnt.jax as xj

    jax.config.update("jax_enable_x64", True)
    am, lm, symbols, boundary = inputs
    args = [jnp.asarray(am, dtype), jnp.asarray(lm, dtype), jnp.asarray(symbols), boundary]
    step = jax.jit(jax.value_and_grad(pipeline(xj, jnp.tanh), argnums=(0, 1)))
    compiled = step.lower(*args).compile()
    loss, grads = jax.block_until_ready(compiled(*args))
    return float(loss), [float(abs(g).max()) for g in grads], scatters(compiled.as_text())


def run_tf(inputs, dtype):
    import tensorflow as tf

    import xla_rnnt

    am, lm, symbols, boundary = inputs
    args = [tf.constant(am, dtype), tf.constant(lm, dtype), tf.constant(symbols), boundary]
    step = tf_value_and_grad(tf, xla_rnnt)
    hlo = step.experimental_get_compiler_ir(*args)(stage="optimized_hlo")
    loss, grads = step(*args)
    return float(loss), [float(tf.reduce_max(tf.abs(g))) for g in grads], scatters(hlo)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--frameworks", nargs="+", default=["jax"], choices=["jax", "tf"])
    args = parser.parse_args()
    runners = {"jax": run_jax, "tf": run_tf}
    for framework in args.frameworks:
        for B, T, S, V, dtype in SHAPES:
            loss, grad_max, n_scatters = runners[framework](make_inputs(B, T, S, V), dtype)
            print(
                f"{framework} {(B, T, S, V)} {dtype}: loss {loss:.6g}, max |grad| (am, lm) "
                f"{grad_max[0]:.3g} {grad_max[1]:.3g}, scatters {n_scatters}",
                flush=True,
            )


if __name__ == "__main__":
    main()
