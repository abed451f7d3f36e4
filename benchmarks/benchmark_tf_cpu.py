"""CPU benchmark for TensorFlow users: xla_rnnt vs TensorFlowASR's pure-TF RNN-T loss.

For each (B, T, S, V) it builds identical seeded NumPy inputs and times
forward + backward (median wall time after warm-up) of:

  tfasr_fn      TensorFlowASR ``rnnt_loss_tf`` under ``tf.function``
  tfasr_xla     the same under ``tf.function(jit_compile=True)``
  ours_full     ``xla_rnnt.rnnt_loss`` on the full logits, jit_compile=True
  ours_pruned   the pruned pipeline from am/lm, jit_compile=True:
                rnnt_loss_simple -> get_rnnt_prune_ranges -> do_rnnt_pruning
                -> additive joiner (am + lm) -> rnnt_loss_pruned (s_range 5),
                loss = 0.5 * simple + pruned

The full-logits cases take logits [B, T, S+1, V] = am[:, :, None] + lm[:, None]
as their input and differentiate w.r.t. them; the pruned pipeline takes am
[B, T, V] and lm [B, S+1, V] (it never builds the full logits) and
differentiates w.r.t. both. Losses are summed over the batch before the
gradient. Before timing, the per-utterance losses (and gradients w.r.t. the
logits) of ours_full and TensorFlowASR are compared and the maximum relative
differences printed.

Conventions: both sides use the standard ("regular") RNN-T lattice with blank
= 0 = termination_symbol, so the same quantity is compared without adapting
inputs. TensorFlowASR takes labels [B, U] padded with 0 and lengths
(logit_length = frames, label_length = symbols); we take the same labels as
``symbols`` and boundary rows (0, 0, label_length, logit_length). Its loss is
per utterance (no reduction): ours uses reduction="none" for the check.

TensorFlowASR is never installed here (its wheel pins TF 2.19 and its package
__init__ imports its whole dependency tree): ``--tfasr-rnnt-py`` names its
``tensorflow_asr/losses/impl/rnnt.py`` (e.g. from an unzipped wheel:
``pip download --no-deps tensorflowasr -d /tmp/tfasr``) and that file alone is
loaded, with stub ``tensorflow_asr``, ``tensorflow_asr.schemas`` and
``tensorflow_asr.utils.shape_util`` modules for its three imports. Without the
flag the TensorFlowASR columns are skipped.

  XLA_RNNT_LIBRARY=build/dev/libxla_rnnt.so PYTHONPATH=. \\
    python benchmarks/benchmark_tf_cpu.py \\
    --tfasr-rnnt-py /tmp/tfasr/x/tensorflow_asr/losses/impl/rnnt.py \\
    --json benchmarks/results/cpu_tf_DATE.json
"""

import argparse
import importlib.util
import json
import os
import platform
import sys
import time
import types
import typing

import numpy as np

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("CUDA_VISIBLE_DEVICES", "")

CONFIGS = [(4, 100, 20, 64), (8, 200, 40, 128), (16, 150, 30, 256)]
S_RANGE = 5
TERM = 0  # blank / termination symbol on both sides
CASES = ["tfasr_fn", "tfasr_xla", "ours_full", "ours_pruned"]


def make_inputs(B, T, S, V, seed=0):
    """Seeded inputs; lengths 70-100% of the max, item 0 at the max."""
    rng = np.random.default_rng(seed)
    t_len = rng.integers(int(0.7 * T), T + 1, B)
    t_len[0] = T
    s_len = np.minimum(rng.integers(int(0.7 * S), S + 1, B), t_len)
    s_len[0] = S
    symbols = rng.integers(1, V, (B, S)).astype(np.int32)
    symbols[np.arange(S)[None, :] >= s_len[:, None]] = 0  # padding = blank, as TFASR expects
    am = rng.standard_normal((B, T, V)).astype(np.float32)
    lm = rng.standard_normal((B, S + 1, V)).astype(np.float32)
    return {
        "am": am,
        "lm": lm,
        "logits": am[:, :, None, :] + lm[:, None, :, :],  # [B, T, S+1, V]
        "symbols": symbols,
        "t_len": t_len.astype(np.int32),
        "s_len": s_len.astype(np.int32),
        "boundary": np.stack([np.zeros(B), np.zeros(B), s_len, t_len], 1).astype(np.int64),
    }


def load_tfasr_rnnt(path):
    """TensorFlowASR's losses/impl/rnnt.py alone, with its package imports stubbed."""
    import tensorflow as tf

    def get_dim(tensor, i):  # tensorflow_asr.utils.shape_util.get_dim, verbatim
        return tf.compat.dimension_value(tensor.shape[i]) or tf.shape(tensor)[i]

    class TrainOutput(typing.NamedTuple):  # tensorflow_asr.schemas.TrainOutput
        logits: typing.Any
        logits_length: typing.Any

    pkg = types.ModuleType("tensorflow_asr")
    pkg.__path__ = []
    pkg.tf = tf
    schemas = types.ModuleType("tensorflow_asr.schemas")
    schemas.TrainOutput = TrainOutput
    utils = types.ModuleType("tensorflow_asr.utils")
    utils.__path__ = []
    shape_util = types.ModuleType("tensorflow_asr.utils.shape_util")
    shape_util.get_dim = get_dim
    pkg.schemas, pkg.utils, utils.shape_util = schemas, utils, shape_util
    stubs = {
        "tensorflow_asr": pkg,
        "tensorflow_asr.schemas": schemas,
        "tensorflow_asr.utils": utils,
        "tensorflow_asr.utils.shape_util": shape_util,
    }
    saved = {k: sys.modules.get(k) for k in stubs}
    sys.modules.update(stubs)
    try:
        spec = importlib.util.spec_from_file_location("tfasr_rnnt_impl", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
    finally:
        for k, v in saved.items():
            if v is None:
                sys.modules.pop(k, None)
            else:
                sys.modules[k] = v
    return mod.rnnt_loss_tf


def time_fn(fn, args, reps, warmup):
    """Median wall ms of fn(*args) (outputs pulled to NumPy); fn already called once."""
    for _ in range(warmup):
        [o.numpy() for o in fn(*args)]
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        [o.numpy() for o in fn(*args)]
        times.append(1e3 * (time.perf_counter() - start))
    return {"ms": float(np.median(times)), "min_ms": float(np.min(times)), "reps": reps}


def first_call(fn, args):
    """(NumPy outputs, ms) of the first call: tracing + compilation + one run."""
    start = time.perf_counter()
    out = [o.numpy() for o in fn(*args)]
    return out, 1e3 * (time.perf_counter() - start)


def rel_diff(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b) / np.maximum(np.abs(b), 1e-30)))


def grad_rel_diff(a, b):
    """max |a - b| / max |b| (elementwise relative is meaningless near zero)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))


def run(configs, reps, warmup, tfasr_path, tfasr_modes, tfasr_xla_configs=-1):
    import tensorflow as tf

    import xla_rnnt

    rnnt_loss_tf = load_tfasr_rnnt(tfasr_path) if tfasr_path else None

    # ---- the functions timed (loss summed over the batch, then its gradient)

    def tfasr_fwd_bwd(logits, labels, t_len, s_len):
        with tf.GradientTape() as tape:
            tape.watch(logits)
            losses = rnnt_loss_tf(
                logits=logits, labels=labels, label_length=s_len, logit_length=t_len, use_cpu=True
            )
            loss = tf.reduce_sum(losses)
        return losses, tape.gradient(loss, logits)

    def ours_full_fwd_bwd(logits, symbols, boundary):
        with tf.GradientTape() as tape:
            tape.watch(logits)
            losses = xla_rnnt.rnnt_loss(
                logits=logits,
                symbols=symbols,
                termination_symbol=TERM,
                boundary=boundary,
                reduction="none",
            )
            loss = tf.reduce_sum(losses)
        return losses, tape.gradient(loss, logits)

    def ours_pruned_fwd_bwd(am, lm, symbols, boundary):
        with tf.GradientTape() as tape:
            tape.watch([am, lm])
            simple, (px_grad, py_grad) = xla_rnnt.rnnt_loss_simple(
                lm=lm,
                am=am,
                symbols=symbols,
                termination_symbol=TERM,
                boundary=boundary,
                reduction="none",
                return_grad=True,
            )
            ranges = xla_rnnt.get_rnnt_prune_ranges(
                px_grad=px_grad, py_grad=py_grad, boundary=boundary, s_range=S_RANGE
            )
            am_p, lm_p = xla_rnnt.do_rnnt_pruning(am=am, lm=lm, ranges=ranges)
            pruned = xla_rnnt.rnnt_loss_pruned(
                logits=am_p + lm_p,
                symbols=symbols,
                ranges=ranges,
                termination_symbol=TERM,
                boundary=boundary,
                reduction="none",
            )
            loss = tf.reduce_sum(0.5 * simple + pruned)
        g_am, g_lm = tape.gradient(loss, [am, lm])
        return simple, pruned, g_am, g_lm

    fns = {
        "ours_full": tf.function(ours_full_fwd_bwd, jit_compile=True),
        "ours_pruned": tf.function(ours_pruned_fwd_bwd, jit_compile=True),
    }
    if rnnt_loss_tf is not None:
        modes = {"tfasr_eager": None, "tfasr_fn": False, "tfasr_xla": True}
        for name in tfasr_modes:
            jit = modes[name]
            fns[name] = (
                tfasr_fwd_bwd if jit is None else tf.function(tfasr_fwd_bwd, jit_compile=jit)
            )

    out = {}
    for i, (B, T, S, V) in enumerate(configs):
        key = f"{B},{T},{S},{V}"
        print(
            f"\n== (B,T,S,V) = ({key})  logits {B * T * (S + 1) * V * 4 / 2**20:.1f} MiB",
            flush=True,
        )
        x = make_inputs(B, T, S, V)
        t = {k: tf.constant(v) for k, v in x.items()}
        args = {
            "ours_full": (t["logits"], t["symbols"], t["boundary"]),
            "ours_pruned": (t["am"], t["lm"], t["symbols"], t["boundary"]),
        }
        res = {"timings": {}, "check": {}, "first_call_ms": {}}
        for name in fns:
            if name.startswith("tfasr"):
                args[name] = (t["logits"], t["symbols"], t["t_len"], t["s_len"])
        if "tfasr_xla" in fns and 0 <= tfasr_xla_configs <= i:
            msg = "skipped (--tfasr-xla-configs)"
            print(f"  tfasr_xla: {msg}")
            res["check"]["tfasr_xla_error"] = msg
        # ---- agreement (the first calls: tracing and compilation included)
        (loss_full, grad_full), res["first_call_ms"]["ours_full"] = first_call(
            fns["ours_full"], args["ours_full"]
        )
        (simple, pruned, _, _), res["first_call_ms"]["ours_pruned"] = first_call(
            fns["ours_pruned"], args["ours_pruned"]
        )
        res["check"]["ours_loss_full"] = loss_full.tolist()
        res["check"]["ours_loss_pruned"] = pruned.tolist()
        res["check"]["ours_loss_simple"] = simple.tolist()
        res["check"]["pruned_vs_full_max_rel"] = rel_diff(pruned, loss_full)
        print(f"  ours full-logits loss per utt: {np.array2string(loss_full, precision=3)}")
        print(
            f"  pruned (s_range {S_RANGE}) vs full loss, max rel diff: "
            f"{res['check']['pruned_vs_full_max_rel']:.2e} (pruning is an approximation)"
        )
        for name in [n for n in fns if n.startswith("tfasr")]:
            if f"{name}_error" in res["check"]:
                continue
            try:
                (l_t, g_t), res["first_call_ms"][name] = first_call(fns[name], args[name])
            except Exception as e:  # a mode that fails is recorded, not fatal
                msg = f"{type(e).__name__}: {str(e).splitlines()[0][:200]}"
                print(f"  {name}: FAILED {msg}")
                res["check"][f"{name}_error"] = msg
                continue
            ld, gd = rel_diff(loss_full, l_t), grad_rel_diff(grad_full, g_t)
            res["check"][f"{name}_loss"] = l_t.tolist()
            res["check"][f"{name}_loss_max_rel"] = ld
            res["check"][f"{name}_grad_max_abs_over_max"] = gd
            print(
                f"  {name}: per-utterance loss max rel diff vs ours {ld:.2e}; "
                f"grad max|diff|/max|grad| {gd:.2e}"
            )

        # ---- timings
        for name, fn in fns.items():
            if f"{name}_error" in res["check"]:
                res["timings"][name] = {"ms": None, "error": res["check"][f"{name}_error"]}
                continue
            r = time_fn(fn, args[name], reps, warmup)
            res["timings"][name] = r
            print(
                f"  {name:12s} {r['ms']:9.2f} ms  (min {r['min_ms']:.2f}, "
                f"first call {res['first_call_ms'][name]:.0f} ms)",
                flush=True,
            )
        out[key] = res
    return out


def table(results, names):
    head = f"{'(B,T,S,V)':>18s} " + " ".join(f"{n:>12s}" for n in names)
    head += f" {'tfasr_best/ours_full':>21s} {'tfasr_best/ours_pruned':>23s} {'loss max rel':>13s}"
    lines = [head, "-" * len(head)]
    for key, res in results.items():
        tm = res["timings"]
        row = f"{'(' + key + ')':>18s} "
        row += " ".join(
            f"{tm[n]['ms']:12.2f}" if n in tm and tm[n].get("ms") is not None else f"{'-':>12s}"
            for n in names
        )
        tf_ms = [
            tm[n]["ms"]
            for n in ("tfasr_eager", "tfasr_fn", "tfasr_xla")
            if n in tm and tm[n].get("ms") is not None
        ]
        if tf_ms:
            best = min(tf_ms)
            row += (
                f" {best / tm['ours_full']['ms']:20.1f}x {best / tm['ours_pruned']['ms']:22.1f}x"
            )
            lds = [v for k, v in res["check"].items() if k.endswith("_loss_max_rel")]
            row += f" {max(lds):13.1e}" if lds else f" {'-':>13s}"
        else:
            row += f" {'-':>21s} {'-':>23s} {'-':>13s}"
        lines.append(row)
    return "\n".join(lines)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument(
        "--tfasr-rnnt-py",
        default=None,
        help="path of TensorFlowASR's tensorflow_asr/losses/impl/rnnt.py "
        "(loaded alone); without it the TensorFlowASR columns are skipped",
    )
    p.add_argument(
        "--tfasr-modes",
        default="tfasr_fn,tfasr_xla",
        help="comma list of tfasr_eager, tfasr_fn, tfasr_xla",
    )
    p.add_argument(
        "--tfasr-xla-configs",
        type=int,
        default=-1,
        help="run tfasr_xla on the first N configs only (its XLA compilation "
        "takes 30-100 s per shape on 2 cores); -1: all",
    )
    p.add_argument(
        "--configs",
        default=None,
        help="semicolon list of B,T,S,V (default: %s)"
        % ";".join(",".join(map(str, c)) for c in CONFIGS),
    )
    p.add_argument("--reps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--json", default=None, help="write the results here")
    a = p.parse_args()

    configs = (
        CONFIGS
        if a.configs is None
        else [tuple(int(v) for v in c.split(",")) for c in a.configs.split(";")]
    )
    tfasr_modes = [m for m in a.tfasr_modes.split(",") if m]
    if a.tfasr_rnnt_py is None:
        print(
            "TensorFlowASR: --tfasr-rnnt-py not given; skipping its columns "
            "(get it with `pip download --no-deps tensorflowasr`, unzip, and pass "
            "tensorflow_asr/losses/impl/rnnt.py)"
        )
        tfasr_modes = []
    elif not os.path.isfile(a.tfasr_rnnt_py):
        sys.exit(f"--tfasr-rnnt-py: no such file {a.tfasr_rnnt_py}")

    import tensorflow as tf

    load_start = os.getloadavg()
    t0 = time.perf_counter()
    results = run(configs, a.reps, a.warmup, a.tfasr_rnnt_py, tfasr_modes, a.tfasr_xla_configs)
    names = tfasr_modes + ["ours_full", "ours_pruned"]
    meta = {
        "what": "forward+backward wall ms (median), CPU, TF; see benchmark_tf_cpu.py docstring",
        "tensorflow": tf.__version__,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "processor": platform.processor(),
        "cpu_count": os.cpu_count(),
        "s_range": S_RANGE,
        "reps": a.reps,
        "tfasr_xla_configs": a.tfasr_xla_configs,
        "warmup": a.warmup,
        "tfasr_rnnt_py": a.tfasr_rnnt_py,
        "total_s": time.perf_counter() - t0,
        "loadavg_1_5_15_start": load_start,
        "loadavg_1_5_15_end": os.getloadavg(),
    }
    print(
        "\nforward+backward, median wall ms (CPU, %d cores, TF %s)"
        % (os.cpu_count(), tf.__version__)
    )
    print(table(results, names))
    if a.json:
        with open(a.json, "w") as f:
            json.dump({"meta": meta, "results": results}, f, indent=1)
        print(f"wrote {a.json}")


if __name__ == "__main__":
    main()
