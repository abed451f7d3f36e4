"""First-call cost of the pruned pipeline with its gradient, TF beside JAX.

Each framework runs in a fresh process (nothing traced or compiled before),
on the default device of that process (CPU here; a GPU on a GPU machine), for
the README's pipeline: rnnt_loss_simple(return_grad) -> get_rnnt_prune_ranges
-> do_rnnt_pruning -> joiner tanh(am + lm) @ W -> rnnt_loss_pruned, loss =
0.5 * simple + pruned, gradient w.r.t. am, lm and W.

  TF  (tf.function(jit_compile=True), gradient by GradientTape inside):
      trace   = get_concrete_function (Python tracing, AutoGraph included),
                split into the forward and tape.gradient (fwd / grad)
      bridge  = tf2xla: the graph (XlaCallModule modules included) to HLO
      xla     = XLA's compilation of that HLO, HLO passes on (bridge and xla
                are read from the timestamps of TF's log lines; "-" where
                none came)
      compile = the first call minus a steady-state call (bridge + xla + the
                runtime's one-time set-up)
      ops     = graph ops of the trace (XlaCallModule ops / distinct modules)
  JAX (jax.jit(jax.value_and_grad)):
      trace   = jit(...).trace(...)
      bridge  = .lower() (jaxpr to StableHLO)
      xla     = compile = .compile()
      ops     = equations of the traced jaxpr
  first call = from nothing to the first result, as a user sees it; steady =
  median of 5 later calls. Prints a table and writes JSON (--json).
  --tf-tape outside|both: a TF row whose tape is outside the jit-compiled
  loss; TF then compiles a forward and a backward function, and "grad" is the
  first tape.gradient (the backward's trace, compile and run).
  Where the time goes inside XLA: XLA_FLAGS=--xla_dump_to=DIR (the modules
  and their sizes), TF_CPP_VMODULE=gpu_compiler=1 (GPU: HLO passes with
  autotuning vs LLVM/ptxas).

  PYTHONPATH=. python benchmarks/first_call.py \
    --json benchmarks/results/DEVICE_DATE_first_call.json
"""

import argparse
import json
import os
import re
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
    split = {{}}

    def loss_fn(am, lm, w, symbols, boundary):
        start = time.perf_counter()
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
        split.setdefault("trace_fwd_s", time.perf_counter() - start)
        return 0.5 * simple + pruned

    def value_and_grad(loss_fn, am, lm, w, symbols, boundary):
        with tf.GradientTape() as tape:
            tape.watch([am, lm, w])
            loss = loss_fn(am, lm, w, symbols, boundary)
        start = time.perf_counter()
        grads = tape.gradient(loss, [am, lm, w])
        split.setdefault("trace_grad_s", time.perf_counter() - start)
        return loss, grads

    args = [tf.constant(x) for x in (am, lm, w, symbols, boundary)]
    if {tape_outside}:  # eager tape around the jit-compiled loss
        traced = tf.function(loss_fn, jit_compile=True)
        step = lambda *args: value_and_grad(traced, *args)
    else:
        traced = step = tf.function(lambda *args: value_and_grad(loss_fn, *args),
                                    jit_compile=True)
    start = time.perf_counter()
    graph = traced.get_concrete_function(*args).graph
    trace = time.perf_counter() - start
    modules = [op.get_attr("module") for op in graph.get_operations()
               if op.type == "XlaCallModule"]
    start = time.perf_counter()
    loss, _ = step(*args); loss.numpy()
    first = time.perf_counter() - start
    warm = steady(lambda: step(*args)[0].numpy())
    device = (tf.config.list_logical_devices("GPU") or tf.config.list_logical_devices("CPU"))[0]
    print(json.dumps(dict(framework="tf " + tf.__version__, device=device.name,
                          import_s=imported, trace_s=trace, **split, compile_s=first - warm,
                          first_call_s=trace + first, steady_ms=1e3 * warm,
                          ops=len(graph.get_operations()), call_module_ops=len(modules),
                          distinct_modules=len(set(modules)), loss=float(loss))))
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
    lowered = traced.lower()
    lower = time.perf_counter() - start
    start = time.perf_counter()
    compiled = lowered.compile()
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    loss, _ = compiled(*args); float(loss)
    run = time.perf_counter() - start
    warm = steady(lambda: float(compiled(*args)[0]))
    print(json.dumps(dict(framework="jax " + jax.__version__, device=str(jax.devices()[0]),
                          import_s=imported, trace_s=trace, bridge_s=lower, xla_s=compile_s,
                          compile_s=lower + compile_s,
                          first_call_s=trace + lower + compile_s + run, steady_ms=1e3 * warm,
                          ops=len(traced.jaxpr.eqns), loss=float(loss))))
""")


# TF's log lines (VLOG 1) that split a cluster's compilation: the cluster's
# total (tf2xla bridge + XLA) ends at its profiler line; XLA starts with its
# first HLO pass pipeline (CPU and GPU alike).
_TF_VMODULE = "device_compilation_profiler=1,hlo_pass_pipeline=1"
_LOG = re.compile(r"^[IWE]\d{4} [\d:]*:(\d+\.\d+) +\d+ [\w.]+:\d+\] (.*)$", re.M)
_CLUSTER = re.compile(r"Compiled \S+ 1 times, compile time: (\d+) us")


def _tf_log_times(stderr):
    """{bridge_s, xla_s} summed over the compiled clusters; {} without the lines."""
    lines = [(float(t), text) for t, text in _LOG.findall(stderr)]
    passes = [t for t, text in lines if text.startswith("Running HLO pass pipeline")]
    bridge = xla = 0.0
    for end, text in lines:
        match = _CLUSTER.search(text)
        if not match:
            continue
        begin = end - int(match.group(1)) / 1e6
        first_pass = min((t for t in passes if begin <= t <= end), default=None)
        if first_pass is None:
            return {}
        bridge, xla = bridge + first_pass - begin, xla + end - first_pass
    return dict(bridge_s=bridge, xla_s=xla) if xla else {}


def _run(script, shape, log=None, **fields):
    # Only TF's process logs its compile phases (jaxlib would log them too).
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    if script is _TF:
        extra = os.environ.get("TF_CPP_VMODULE")  # e.g. gpu_compiler=1
        env.update(
            TF_CPP_MIN_LOG_LEVEL="0",
            TF_CPP_VMODULE=_TF_VMODULE + ("," + extra if extra else ""),
        )
    out = subprocess.run(
        [sys.executable, "-c", script.format(shape=repr(shape), **fields)],
        capture_output=True,
        text=True,
        env=env,
        timeout=1800,
    )
    if log:  # warnings included, e.g. a PTX compilation falling back to the driver
        with open(log, "w") as f:
            f.write(out.stderr)
    if out.returncode:
        raise RuntimeError(out.stderr[-3000:])
    row = json.loads(out.stdout.strip().splitlines()[-1])
    if row["framework"].startswith("tf"):
        row.update(_tf_log_times(out.stderr))
    return row


def _cell(row, key, fmt):
    return format(row[key], fmt) if row.get(key) is not None else "-"


_HEADER = (
    f"{'B,T,S,V':>16} {'framework':>20} {'device':>14} {'import s':>8} {'trace s':>7} "
    f"{'fwd/grad s':>10} {'bridge s':>8} {'xla s':>6} {'compile s':>9} "
    f"{'first call s':>12} {'steady ms':>10} {'ops':>11}"
)


def _line(row):
    name = row["framework"] + (" (tape out)" if row.get("tape") == "outside" else "")
    split = ""
    if row["framework"].startswith("tf"):
        split = f"{_cell(row, 'trace_fwd_s', '.2f')}/{_cell(row, 'trace_grad_s', '.2f')}"
    ops = str(row["ops"])
    if "call_module_ops" in row:
        ops += f" ({row['call_module_ops']}/{row['distinct_modules']})"
    return (
        f"{','.join(map(str, row['shape'])):>16} {name:>20} {row['device'][-14:]:>14} "
        f"{row['import_s']:8.2f} {row['trace_s']:7.2f} {split:>10} "
        f"{_cell(row, 'bridge_s', '8.2f'):>8} {_cell(row, 'xla_s', '6.2f'):>6} "
        f"{row['compile_s']:9.2f} {row['first_call_s']:12.2f} {row['steady_ms']:10.2f} {ops:>11}"
    )


def _runs(frameworks, tf_tape):
    """(script, its fields, tape placement) per row of a shape."""
    tapes = ["inside", "outside"] if tf_tape == "both" else [tf_tape]
    runs = []
    if "tf" in frameworks:
        runs += [(_TF, dict(tape_outside=tape == "outside"), tape) for tape in tapes]
    if "jax" in frameworks:
        runs.append((_JAX, {}, None))
    return runs


def _log_path(logs, script, tape, shape):
    if not logs:
        return None
    os.makedirs(logs, exist_ok=True)
    name = "tf" + ("_tape_" + tape if tape else "") if script is _TF else "jax"
    return os.path.join(logs, f"{name}_{'_'.join(map(str, shape))}.log")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", help="write the rows to this file")
    parser.add_argument(
        "--shapes",
        default=";".join(",".join(map(str, s)) for s in SHAPES),
        help="B,T,S,V;B,T,S,V...",
    )
    parser.add_argument(
        "--tf-tape",
        default="inside",
        choices=["inside", "outside", "both"],
        help="TF's GradientTape inside the jit-compiled function, outside it, or both rows",
    )
    parser.add_argument("--frameworks", default="tf,jax", help="tf,jax or one of them")
    parser.add_argument("--logs", help="write each process's stderr into this directory")
    args = parser.parse_args()
    shapes = [tuple(int(v) for v in s.split(",")) for s in args.shapes.split(";")]
    rows = []
    print(_HEADER)
    for shape in shapes:
        for script, fields, tape in _runs(args.frameworks.split(","), args.tf_tape):
            log = _log_path(args.logs, script, tape, shape)
            row = dict(shape=list(shape), **_run(script, shape, log, **fields))
            if tape:
                row["tape"] = tape
            rows.append(row)
            print(_line(row), flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
