"""Forward + backward of the pruned pipeline (the gradient w.r.t. am and lm)
with the adapters' scatter-free gather gradients against the plain gathers
(autodiff's scatter-add gradients, the code before issue #17), TF
(jit_compile) and JAX (jit), on the CPU: notes/scatter_free_gradients.md.

Pipeline: rnnt_loss_simple -> get_rnnt_prune_ranges -> do_rnnt_pruning ->
tanh(am + lm) joiner -> rnnt_loss_pruned (s_range 5), loss = 0.5 * simple +
pruned, float32, full lengths but for a shorter last item.

Both variants are compiled in one process and timed in alternating rounds
(the median of back-to-back calls per round); the minimum over rounds is the
number to compare on a machine that others share. --cpu-time times the
process's CPU time instead of the wall clock (steadier there, with
--threads 1). Each row gives the number of scatter ops in the HLO that XLA
compiled.

  XLA_RNNT_LIBRARY=build/dev/libxla_rnnt.so PYTHONPATH=. \\
    python benchmarks/benchmark_pipeline_grad.py --cpu-time --threads 1
"""

import argparse
import contextlib
import os
import re
import time

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

S_RANGE = 5
CLOCK = time.perf_counter


def make_inputs(B, T, S, V, seed=0):
    rng = np.random.default_rng(seed)
    boundary = np.tile(np.array([[0, 0, S, T]], np.int32), (B, 1))
    boundary[-1, 2:] = (S * 3) // 4, (T * 3) // 4
    return (
        rng.standard_normal((B, T, V)).astype(np.float32),
        rng.standard_normal((B, S + 1, V)).astype(np.float32),
        rng.integers(1, V, (B, S)).astype(np.int32),
        boundary,
    )


def pipeline(lib, tanh):
    def loss(am, lm, symbols, boundary):
        simple, (px_grad, py_grad) = lib.rnnt_loss_simple(
            lm=lm,
            am=am,
            symbols=symbols,
            termination_symbol=0,
            boundary=boundary,
            reduction="sum",
            return_grad=True,
        )
        ranges = lib.get_rnnt_prune_ranges(px_grad, py_grad, boundary, S_RANGE)
        am_pruned, lm_pruned = lib.do_rnnt_pruning(am, lm, ranges)
        pruned = lib.rnnt_loss_pruned(
            logits=tanh(am_pruned + lm_pruned),
            symbols=symbols,
            ranges=ranges,
            termination_symbol=0,
            boundary=boundary,
            reduction="sum",
        )
        return 0.5 * simple + pruned

    return loss


@contextlib.contextmanager
def plain_gathers(ops, take_along_last, gather_batched):
    """The adapter `ops` with the plain gathers while a function is traced."""
    saved = ops.take_along_last, ops.gather_batched
    ops.take_along_last, ops.gather_batched = take_along_last, gather_batched
    try:
        yield
    finally:
        ops.take_along_last, ops.gather_batched = saved


def scatters(hlo_text):
    return len(re.findall(r"\bscatter\(", hlo_text))


def jax_variants(inputs):
    """{variant: (call, scatter count)} for JAX."""
    import jax
    import jax.numpy as jnp

    import xla_rnnt.jax as xj
    from xla_rnnt.jax import _ops

    args = [jnp.asarray(x) for x in inputs]
    plain = (lambda x, idx: jnp.take_along_axis(x, idx, axis=-1), _ops._gather_batched_plain)
    out = {}
    for name, context in (
        ("scatter-free", contextlib.nullcontext()),
        ("autodiff", plain_gathers(_ops, *plain)),
    ):
        with context:
            grad = jax.jit(jax.grad(pipeline(xj, jnp.tanh), argnums=(0, 1))).lower(*args).compile()
        out[name] = (lambda g=grad: jax.block_until_ready(g(*args)), scatters(grad.as_text()))
    return out


def tf_value_and_grad(tf, lib):
    """The pipeline's (loss, [d/d am, d/d lm]) in TF, jit-compiled (traced anew
    by each call of this function)."""
    loss_fn = pipeline(lib, tf.tanh)

    @tf.function(jit_compile=True)
    def step(am, lm, symbols, boundary):
        with tf.GradientTape() as tape:
            tape.watch([am, lm])
            loss = loss_fn(am, lm, symbols, boundary)
        return loss, tape.gradient(loss, [am, lm])

    return step


def tf_variants(inputs):
    """{variant: (call, scatter count)} for TF."""
    import tensorflow as tf

    import xla_rnnt
    from xla_rnnt.tf import _ops

    args = [tf.constant(x) for x in inputs]
    plain = (
        lambda x, idx: tf.gather(x, idx, axis=len(x.shape) - 1, batch_dims=len(x.shape) - 1),
        lambda x, idx, axis: tf.gather(x, idx, axis=axis, batch_dims=1),
    )

    out = {}
    for name, context in (
        ("scatter-free", contextlib.nullcontext()),
        ("autodiff", plain_gathers(_ops, *plain)),
    ):
        grad = tf_value_and_grad(tf, xla_rnnt)
        with context:
            hlo = grad.experimental_get_compiler_ir(*args)(stage="optimized_hlo")
            grad(*args)  # traced and compiled here, with the context's gathers
        # Waits for the device without copying the gradients to the host (on a
        # GPU the copy would outweigh the step).
        out[name] = (lambda g=grad: (g(*args), tf.test.experimental.sync_devices()), scatters(hlo))
    return out


def median_ms(fn, reps):
    times = []
    for _ in range(reps):
        start = CLOCK()
        fn()
        times.append(1e3 * (CLOCK() - start))
    return float(np.median(times))


def compare(variants, reps, rounds):
    """{variant: (min, median) over rounds of the median ms of reps calls}."""
    for call, _ in variants.values():
        for _ in range(3):
            call()
    medians = {name: [] for name in variants}
    for _ in range(rounds):
        for name, (call, _) in variants.items():
            medians[name].append(median_ms(call, reps))
    return {name: (min(m), float(np.median(m))) for name, m in medians.items()}


def set_threads(n):
    """n threads for XLA:CPU in both frameworks (before either starts)."""
    os.environ["XLA_FLAGS"] = (
        os.environ.get("XLA_FLAGS", "")
        + f" --xla_cpu_multi_thread_eigen={'true' if n > 1 else 'false'}"
    )
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(n)
    tf.config.threading.set_inter_op_parallelism_threads(n)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--shapes", nargs="+", default=["4,100,20,64", "8,200,40,128", "16,150,30,256"]
    )
    parser.add_argument("--frameworks", nargs="+", default=["jax", "tf"])
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--cpu-time", action="store_true", help="process CPU time, not wall")
    parser.add_argument("--threads", type=int, default=0, help="XLA CPU threads (0: default)")
    args = parser.parse_args()
    global CLOCK
    if args.cpu_time:
        CLOCK = time.process_time
    if args.threads:
        set_threads(args.threads)
    builders = {"jax": jax_variants, "tf": tf_variants}
    header = f"{'(B,T,S,V)':>18} {'fw':>4} {'variant':>13} {'min ms':>9} {'median':>9}"
    print(f"{header} {'scatters':>8}")
    for text in args.shapes:
        shape = tuple(int(v) for v in text.split(","))
        for fw in args.frameworks:
            variants = builders[fw](make_inputs(*shape))
            for name, (best, median) in compare(variants, args.reps, args.rounds).items():
                row = f"{str(shape):>18} {fw:>4} {name:>13} {best:9.2f} {median:9.2f}"
                print(f"{row} {variants[name][1]:8d}", flush=True)


if __name__ == "__main__":
    main()
