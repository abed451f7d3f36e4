"""Child process of the GPU determinism tests (test_gpu_jax.py, test_gpu_tf.py):
the pruned pipeline's loss and gradients w.r.t. (lm, am), three calls of one
compiled step on the GPU, printed as JSON: for each output the largest
absolute difference of a later call from the first (0.0 = bitwise equal).

A process of its own because XLA reads its determinism setting once:
  python determinism_child.py jax                    (XLA_FLAGS from the parent)
  python determinism_child.py tf [--op-determinism]  (then
      tf.config.experimental.enable_op_determinism() first)
"""

import json
import os
import subprocess
import sys

import numpy as np

B, T, S, V, S_RANGE = 16, 200, 40, 256, 4


def inputs(seed=0):
    rng = np.random.default_rng(seed)
    lm = rng.standard_normal((B, S + 1, V)).astype(np.float32)
    am = rng.standard_normal((B, T, V)).astype(np.float32)
    symbols = rng.integers(1, V, (B, S)).astype(np.int32)
    ends = np.stack([rng.integers(S // 2, S + 1, B), rng.integers(T * 7 // 10, T + 1, B)], 1)
    boundary = np.concatenate([np.zeros((B, 2), np.int64), ends], 1)
    return lm, am, symbols, boundary


def pipeline(lib, lm, am, symbols, boundary):
    simple, (px_grad, py_grad) = lib.rnnt_loss_simple(
        lm, am, symbols, 0, boundary, reduction="sum", return_grad=True
    )
    ranges = lib.get_rnnt_prune_ranges(px_grad, py_grad, boundary, S_RANGE)
    am_p, lm_p = lib.do_rnnt_pruning(am, lm, ranges)
    pruned = lib.rnnt_loss_pruned(am_p + lm_p, symbols, ranges, 0, boundary, reduction="sum")
    return 0.5 * simple + pruned


def jax_step(lm, am, symbols, boundary):
    import jax

    import xla_rnnt.jax as xj

    gpu = jax.devices("gpu")[0]
    step = jax.jit(
        jax.value_and_grad(lambda lm, am: pipeline(xj, lm, am, symbols, boundary), (0, 1))
    )
    args = jax.device_put((lm, am), gpu)

    def call():
        value, grads = step(*args)
        return [np.asarray(value)] + [np.asarray(g) for g in grads]

    return call


def tf_step(lm, am, symbols, boundary):
    import tensorflow as tf

    import xla_rnnt

    if "--op-determinism" in sys.argv:
        tf.config.experimental.enable_op_determinism()

    @tf.function(jit_compile=True)
    def step(lm, am):
        with tf.GradientTape() as tape:
            tape.watch([lm, am])
            loss = pipeline(xla_rnnt, lm, am, symbols, boundary)
        return [loss] + tape.gradient(loss, [lm, am])

    with tf.device("/GPU:0"):
        args = tf.constant(lm), tf.constant(am)

    def call():
        with tf.device("/GPU:0"):
            return [v.numpy() for v in step(*args)]

    return call


def diffs_in_child(framework, *args, **env):
    """Runs this file for `framework` with `args` in a fresh process with
    `env` added to the environment; returns its differences (dict)."""
    proc = subprocess.run(
        [sys.executable, os.path.abspath(__file__), framework, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=600,
    )
    # Not an AssertionError: the tests that expect a difference (xfail) must
    # not take a broken child for one.
    if proc.returncode != 0:
        raise RuntimeError(f"determinism child failed:\n{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main():
    call = {"jax": jax_step, "tf": tf_step}[sys.argv[1]](*inputs())
    runs = [call() for _ in range(3)]
    diffs = {
        name: max(float(np.max(np.abs(run[i] - runs[0][i]))) for run in runs[1:])
        for i, name in enumerate(("loss", "lm_grad", "am_grad"))
    }
    print(json.dumps(diffs))


ZERO = dict.fromkeys(("loss", "lm_grad", "am_grad"), 0.0)


if __name__ == "__main__":
    main()
