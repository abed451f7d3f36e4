"""First-call cost of the pruned pipeline with its gradient, TF beside JAX.

Each framework runs in a fresh process (nothing traced or compiled before),
on the default device of that process (CPU here; a GPU on a GPU machine), for
the README's pipeline: rnnt_loss_simple(return_grad) -> get_rnnt_prune_ranges
-> do_rnnt_pruning -> joiner tanh(am + lm) @ W -> rnnt_loss_pruned, loss =
0.5 * simple + pruned, gradient w.r.t. am, lm and W.

  TF  (tf.function(jit_compile=True), gradient by GradientTape inside):
      trace   = get_concrete_function (Python tracing, AutoGraph included)
      compile = the first call minus a steady-state call (XLA compiles there)
  JAX (jax.jit(jax.value_and_grad)):
      trace   = jit(...).trace(...)
      compile = .lower() + .compile()
  first call = from nothing to the first result, as a user sees it; steady =
  median of 5 later calls. Prints a table and writes JSON (--json).

  PYTHONPATH=. python benchmarks/first_call.py \
    --json benchmarks/results/DEVICE_DATE_first_call.json
"""

import argparse
import json
import os
import subprocess
import sys
import textwrap

SHAPES = [(8, 100, 20, 64), (32, 500, 100, 500)]

_COMMON = textwrap.dedent("""
    import json, os, sys, time
    import numpy as np
    B, T, S, V = {shape}
    rng = np.random.default_rng(0)
    am = rng.standard_normal((B, T, V)).astype(np.float32)
    lm = rng.standard_normal((B, S + 1, V)).astype(np.float32)
    w = (rng.standard_normal((V, V)) / np.sqrt(V)).astype(np.float32)
    symbols = rng.integers(1, V, (B, S)).astype(np.int32)
    boundary = np.stack([np.zeros(B), np.zeros(B), rng.integers(S // 2, S + 1, B),
                         rng.integers(T * 7 // 10, T + 1, B)], 1).astype(np.int32)

    def steady(call):
        times = []
        for _ in range(5):
            start = time.perf_counter(); call(); times.append(time.perf_counter() - start)
        return float(np.median(times))
""")

_TF = _COMMON + textwrap.dedent("""
    start = time.perf_counter()
    import tensorflow as tf
    import xla_rnnt
    imported = time.perf_counter() - start

    @tf.function(jit_compile=True)
    def step(am, lm, w, symbols, boundary):
        with tf.GradientTape() as tape:
            tape.watch([am, lm, w])
            simple, (px_grad, py_grad) = xla_rnnt.rnnt_loss_simple(
                lm=lm, am=am, symbols=symbols, termination_symbol=0, boundary=boundary,
                reduction="sum", return_grad=True)
            ranges = xla_rnnt.get_rnnt_prune_ranges(px_grad=px_grad, py_grad=py_grad,
                                                    boundary=boundary, s_range=5)
            am_p, lm_p = xla_rnnt.do_rnnt_pruning(am=am, lm=lm, ranges=ranges)
            # tensordot, as keras.layers.Dense: TF's rank-4 @ rank-2 matmul would
            # broadcast w to [B, T, V, V] (16 GB at 32,500,100,500).
            logits = tf.tensordot(tf.tanh(am_p + lm_p), w, 1)
            pruned = xla_rnnt.rnnt_loss_pruned(logits=logits, symbols=symbols, ranges=ranges,
                                               termination_symbol=0, boundary=boundary,
                                               reduction="sum")
            loss = 0.5 * simple + pruned
        return loss, tape.gradient(loss, [am, lm, w])

    args = [tf.constant(x) for x in (am, lm, w, symbols, boundary)]
    start = time.perf_counter()
    step.get_concrete_function(*args)
    trace = time.perf_counter() - start
    start = time.perf_counter()
    loss, _ = step(*args); loss.numpy()
    first = time.perf_counter() - start
    warm = steady(lambda: step(*args)[0].numpy())
    device = (tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU"))[0]
    print(json.dumps(dict(framework="tf " + tf.__version__, device=device.name,
                          import_s=imported, trace_s=trace, compile_s=first - warm,
                          first_call_s=trace + first, steady_ms=1e3 * warm,
                          loss=float(loss))))
""")

_JAX = _COMMON + textwrap.dedent("""
    start = time.perf_counter()
    import jax, jax.numpy as jnp
    import xla_rnnt.jax as xj
    imported = time.perf_counter() - start

    def loss_fn(am, lm, w, symbols, boundary):
        simple, (px_grad, py_grad) = xj.rnnt_loss_simple(
            lm=lm, am=am, symbols=symbols, termination_symbol=0, boundary=boundary,
            reduction="sum", return_grad=True)
        ranges = xj.get_rnnt_prune_ranges(px_grad=px_grad, py_grad=py_grad,
                                          boundary=boundary, s_range=5)
        am_p, lm_p = xj.do_rnnt_pruning(am=am, lm=lm, ranges=ranges)
        pruned = xj.rnnt_loss_pruned(logits=jnp.tanh(am_p + lm_p) @ w, symbols=symbols,
                                     ranges=ranges, termination_symbol=0,
                                     boundary=boundary, reduction="sum")
        return 0.5 * simple + pruned

    step = jax.jit(jax.value_and_grad(loss_fn, argnums=(0, 1, 2)))
    args = [jnp.asarray(x) for x in (am, lm, w, symbols, boundary)]
    start = time.perf_counter()
    traced = step.trace(*args)
    trace = time.perf_counter() - start
    start = time.perf_counter()
    compiled = traced.lower().compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    loss, _ = compiled(*args); float(loss)
    run = time.perf_counter() - start
    warm = steady(lambda: float(compiled(*args)[0]))
    print(json.dumps(dict(framework="jax " + jax.__version__, device=str(jax.devices()[0]),
                          import_s=imported, trace_s=trace, compile_s=compile_s,
                          first_call_s=trace + compile_s + run, steady_ms=1e3 * warm,
                          loss=float(loss))))
""")


def _run(script, shape):
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    out = subprocess.run(
        [sys.executable, "-c", script.replace("{shape}", repr(shape))],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the rows to this file")
    parser.add_argument(
        "--shapes",
        default=";".join(",".join(map(str, s)) for s in SHAPES),
        help="B,T,S,V;B,T,S,V...",
    )
    args = parser.parse_args()
    shapes = [tuple(int(v) for v in s.split(",")) for s in args.shapes.split(";")]
    rows = []
    print(
        f"{'B,T,S,V':>16} {'framework':>12} {'device':>24} {'import s':>9} {'trace s':>8} "
        f"{'compile s':>9} {'first call s':>12} {'steady ms':>10}"
    )
    for shape in shapes:
        for script in (_TF, _JAX):
            row = dict(shape=list(shape), **_run(script, shape))
            rows.append(row)
            print(
                f"{','.join(map(str, shape)):>16} {row['framework']:>12} "
                f"{row['device'][-24:]:>24} "
                f"{row['import_s']:9.2f} {row['trace_s']:8.2f} {row['compile_s']:9.2f} "
                f"{row['first_call_s']:12.2f} {row['steady_ms']:10.2f}",
                flush=True,
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
