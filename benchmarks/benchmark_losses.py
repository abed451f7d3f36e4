"""Side-by-side GPU benchmark: xla_rnnt (JAX and TF) vs fast_rnnt and torchaudio (torch).

For each (B, T, S, V) it times forward + backward (median after warm-up,
synchronised) and records peak device memory of: the simple loss, the prune
ranges, the pruned loss, the full-logits loss, and a whole pruned training
step (encoder/decoder outputs of dim 512, joiner tanh(enc + dec) @ W). Each
framework runs in its own process (`--part jax`, `--part tf`, `--part torch`)
on identical NumPy inputs; the driver merges them and prints a table (--json
writes it too). TF (when importable) times the same cases under
tf.function(jit_compile=True) with a GradientTape, plus `keras_fit_pruned`:
one step of Keras `fit` (jit_compile=True) of a model holding
PrunedTransducerLoss on the same encoder/decoder outputs; its peak memory is
TF's allocator peak during the timed calls (live benchmark tensors included).
fast_rnnt is built from its sdist into --fast-rnnt-build-dir (default: a
temporary directory, removed at exit).

  python benchmarks/benchmark_losses.py --fast-rnnt-sdist .gpu_inputs/fast_rnnt-1.3.tar.gz \
    --json losses.json
"""

import argparse
import json
import os
import subprocess
import sys
import time

import numpy as np

CONFIGS = [(32, 500, 100, 500), (16, 1000, 200, 500), (64, 200, 50, 1024), (8, 2000, 400, 500)]
S_RANGE = 5
JOINER_DIM = 512
# Calls per timing sample, issued back to back and synchronised once (both
# frameworks alike), so that one host round trip per call is not counted.
INNER = 5
CASES = [
    "simple",
    "ranges",
    "pruned",
    "full",
    "train_step_pruned",
    "train_step_full",
    "keras_fit_pruned",
]


def make_inputs(B, T, S, V, seed=0):
    """Identical NumPy inputs for both frameworks; lengths 70-100% of the max."""
    rng = np.random.default_rng(seed)
    t_len = rng.integers(int(0.7 * T), T + 1, B)
    t_len[0] = T
    s_len = np.minimum(rng.integers(int(0.7 * S), S + 1, B), t_len)
    s_len[0] = S
    boundary = np.stack([np.zeros(B), np.zeros(B), s_len, t_len], 1).astype(np.int64)
    symbols = rng.integers(1, V, (B, S)).astype(np.int64)
    return {
        "am": rng.standard_normal((B, T, V)).astype(np.float32),
        "lm": rng.standard_normal((B, S + 1, V)).astype(np.float32),
        "symbols": symbols,
        "boundary": boundary,
        "enc": (0.1 * rng.standard_normal((B, T, JOINER_DIM))).astype(np.float32),
        "dec": (0.1 * rng.standard_normal((B, S + 1, JOINER_DIM))).astype(np.float32),
        "w_am": (rng.standard_normal((JOINER_DIM, V)) / np.sqrt(JOINER_DIM)).astype(np.float32),
        "w_lm": (rng.standard_normal((JOINER_DIM, V)) / np.sqrt(JOINER_DIM)).astype(np.float32),
        "w_out": (rng.standard_normal((JOINER_DIM, V)) / np.sqrt(JOINER_DIM)).astype(np.float32),
    }


# ----------------------------------------------------------------------------- JAX


def _loss_value(result):
    """The loss of a timed call's result (value_and_grad: (loss, grads)), if a scalar."""
    import jax

    leaf = jax.tree_util.tree_leaves(result)[0]
    return float(leaf) if getattr(leaf, "shape", None) == () else None


def run_jax(configs, reps, skip_full):
    import jax
    import jax.numpy as jnp

    import xla_rnnt.jax as xj

    def timed(fn, args):
        compiled = jax.jit(fn).lower(*args).compile()
        mem = compiled.memory_analysis()
        peak = None
        if mem is not None:
            peak = (
                mem.temp_size_in_bytes
                + mem.argument_size_in_bytes
                + mem.output_size_in_bytes
                - mem.alias_size_in_bytes
            ) / 2**20
        for _ in range(3):
            result = jax.block_until_ready(compiled(*args))
        times = []
        for _ in range(reps):
            start = time.perf_counter()
            for _ in range(INNER):
                outs = compiled(*args)
            jax.block_until_ready(outs)
            times.append(1e3 * (time.perf_counter() - start) / INNER)
        return {"ms": float(np.median(times)), "peak_mb": peak, "loss": _loss_value(result)}

    term = 0
    out = {}
    for B, T, S, V in configs:
        x = {k: jnp.asarray(v) for k, v in make_inputs(B, T, S, V).items()}
        res = {}

        def simple(am, lm):
            return xj.rnnt_loss_simple(
                lm=lm,
                am=am,
                symbols=x["symbols"],
                termination_symbol=term,
                boundary=x["boundary"],
                reduction="sum",
            )

        res["simple"] = timed(jax.value_and_grad(simple, argnums=(0, 1)), (x["am"], x["lm"]))

        _, (px_grad, py_grad) = xj.rnnt_loss_simple(
            lm=x["lm"],
            am=x["am"],
            symbols=x["symbols"],
            termination_symbol=term,
            boundary=x["boundary"],
            reduction="sum",
            return_grad=True,
        )
        res["ranges"] = timed(
            lambda gx, gy: xj.get_rnnt_prune_ranges(
                px_grad=gx, py_grad=gy, boundary=x["boundary"], s_range=S_RANGE
            ),
            (px_grad, py_grad),
        )
        ranges = xj.get_rnnt_prune_ranges(
            px_grad=px_grad, py_grad=py_grad, boundary=x["boundary"], s_range=S_RANGE
        )
        am_p, lm_p = xj.do_rnnt_pruning(am=x["am"], lm=x["lm"], ranges=ranges)
        logits = am_p + lm_p  # [B, T, s_range, V]

        def pruned(lg):
            return xj.rnnt_loss_pruned(
                logits=lg,
                symbols=x["symbols"],
                ranges=ranges,
                termination_symbol=term,
                boundary=x["boundary"],
                reduction="sum",
            )

        res["pruned"] = timed(jax.value_and_grad(pruned), (logits,))
        res["pruned"]["logits_mb"] = logits.size * 4 / 2**20

        def train_step_pruned(enc, dec, w_am, w_lm, w_out):
            def loss(enc, dec, w_am, w_lm, w_out):
                simple_loss, (gx, gy) = xj.rnnt_loss_simple(
                    lm=dec @ w_lm,
                    am=enc @ w_am,
                    symbols=x["symbols"],
                    termination_symbol=term,
                    boundary=x["boundary"],
                    reduction="sum",
                    return_grad=True,
                )
                rng_ = xj.get_rnnt_prune_ranges(
                    px_grad=gx, py_grad=gy, boundary=x["boundary"], s_range=S_RANGE
                )
                e, d = xj.do_rnnt_pruning(am=enc, lm=dec, ranges=rng_)
                lg = jnp.tanh(e + d) @ w_out
                pruned_loss = xj.rnnt_loss_pruned(
                    logits=lg,
                    symbols=x["symbols"],
                    ranges=rng_,
                    termination_symbol=term,
                    boundary=x["boundary"],
                    reduction="sum",
                )
                return 0.5 * simple_loss + pruned_loss

            return jax.value_and_grad(loss, argnums=(0, 1, 2, 3, 4))(enc, dec, w_am, w_lm, w_out)

        args = (x["enc"], x["dec"], x["w_am"], x["w_lm"], x["w_out"])
        res["train_step_pruned"] = timed(train_step_pruned, args)

        if not skip_full:
            full_logits = x["am"][:, :, None, :] + x["lm"][:, None, :, :]

            def full(lg):
                return xj.rnnt_loss(
                    logits=lg,
                    symbols=x["symbols"],
                    termination_symbol=term,
                    boundary=x["boundary"],
                    reduction="sum",
                )

            res["full"] = timed(jax.value_and_grad(full), (full_logits,))
            res["full"]["logits_mb"] = full_logits.size * 4 / 2**20
            del full_logits

            def train_step_full(enc, dec, w_out):
                def loss(enc, dec, w_out):
                    lg = jnp.tanh(enc[:, :, None, :] + dec[:, None, :, :]) @ w_out
                    return xj.rnnt_loss(
                        logits=lg,
                        symbols=x["symbols"],
                        termination_symbol=term,
                        boundary=x["boundary"],
                        reduction="sum",
                    )

                return jax.value_and_grad(loss, argnums=(0, 1, 2))(enc, dec, w_out)

            res["train_step_full"] = timed(train_step_full, (x["enc"], x["dec"], x["w_out"]))
        out[f"{B},{T},{S},{V}"] = res
    dev = jax.devices()[0]
    return {"device": dev.device_kind, "jax": jax.__version__, "results": out}


# ------------------------------------------------------------------------------ TF


def run_tf(configs, reps, skip_full):
    import tensorflow as tf

    import xla_rnnt.tf as xt

    gpu = "GPU:0" if tf.config.list_logical_devices("GPU") else None

    def timed(fn, args):
        for _ in range(3):
            result = fn(*args)
        tf.nest.flatten(result)[0].numpy()
        if gpu:
            tf.config.experimental.reset_memory_stats(gpu)
        times = []
        for _ in range(reps):
            start = time.perf_counter()
            for _ in range(INNER):
                outs = fn(*args)
            tf.nest.flatten(outs)[0].numpy()  # one sync per sample (a loss or the ranges)
            times.append(1e3 * (time.perf_counter() - start) / INNER)
        peak = tf.config.experimental.get_memory_info(gpu)["peak"] / 2**20 if gpu else None
        leaf = tf.nest.flatten(result)[0]
        return {
            "ms": float(np.median(times)),
            "peak_mb": peak,
            "loss": float(leaf) if leaf.shape.rank == 0 else None,
        }

    def value_and_grad(loss_fn):
        @tf.function(jit_compile=True)
        def step(*args):
            with tf.GradientTape() as tape:
                tape.watch(args)
                loss = loss_fn(*args)
            return loss, tape.gradient(loss, args)

        return step

    term = 0
    out = {}
    for B, T, S, V in configs:
        x = {k: tf.constant(v) for k, v in make_inputs(B, T, S, V).items()}
        res = {}
        common = dict(
            symbols=x["symbols"], termination_symbol=term, boundary=x["boundary"], reduction="sum"
        )
        res["simple"] = timed(
            value_and_grad(lambda am, lm: xt.rnnt_loss_simple(lm=lm, am=am, **common)),
            (x["am"], x["lm"]),
        )
        _, (px_grad, py_grad) = xt.rnnt_loss_simple(
            lm=x["lm"], am=x["am"], return_grad=True, **common
        )
        res["ranges"] = timed(
            tf.function(jit_compile=True)(
                lambda gx, gy: xt.get_rnnt_prune_ranges(
                    px_grad=gx, py_grad=gy, boundary=x["boundary"], s_range=S_RANGE
                )
            ),
            (px_grad, py_grad),
        )
        ranges = xt.get_rnnt_prune_ranges(
            px_grad=px_grad, py_grad=py_grad, boundary=x["boundary"], s_range=S_RANGE
        )
        am_p, lm_p = xt.do_rnnt_pruning(am=x["am"], lm=x["lm"], ranges=ranges)
        logits = am_p + lm_p
        res["pruned"] = timed(
            value_and_grad(lambda lg: xt.rnnt_loss_pruned(logits=lg, ranges=ranges, **common)),
            (logits,),
        )
        del am_p, lm_p, logits

        def pruned_loss(enc, dec, w_am, w_lm, w_out):
            simple_loss, (gx, gy) = xt.rnnt_loss_simple(
                lm=dec @ w_lm, am=enc @ w_am, return_grad=True, **common
            )
            rng_ = xt.get_rnnt_prune_ranges(
                px_grad=gx, py_grad=gy, boundary=x["boundary"], s_range=S_RANGE
            )
            e, d = xt.do_rnnt_pruning(am=enc, lm=dec, ranges=rng_)
            # tensordot (as keras.layers.Dense does): a rank-4 @ rank-2 matmul
            # would broadcast w_out to [B, T, J, V] (16 GB at 32,500,100,500).
            lg = tf.tensordot(tf.tanh(e + d), w_out, 1)
            return 0.5 * simple_loss + xt.rnnt_loss_pruned(logits=lg, ranges=rng_, **common)

        res["train_step_pruned"] = timed(
            value_and_grad(pruned_loss),
            tuple(x[k] for k in ("enc", "dec", "w_am", "w_lm", "w_out")),
        )
        res["keras_fit_pruned"] = _keras_fit_step(x, B, T, S, V, reps)
        if not skip_full:
            full_logits = x["am"][:, :, None, :] + x["lm"][:, None, :, :]
            res["full"] = timed(
                value_and_grad(lambda lg: xt.rnnt_loss(logits=lg, **common)), (full_logits,)
            )
            del full_logits

            def full_loss(enc, dec, w_out):
                lg = tf.tensordot(tf.tanh(enc[:, :, None, :] + dec[:, None, :, :]), w_out, 1)
                return xt.rnnt_loss(logits=lg, **common)

            res["train_step_full"] = timed(
                value_and_grad(full_loss), (x["enc"], x["dec"], x["w_out"])
            )
        out[f"{B},{T},{S},{V}"] = res
    device = (
        tf.config.experimental.get_device_details(tf.config.list_physical_devices("GPU")[0]).get(
            "device_name"
        )
        if gpu
        else "CPU"
    )
    return {"device": device, "tf": tf.__version__, "results": out}


def _keras_fit_step(x, B, T, S, V, reps):
    """ms per step of Keras fit (jit_compile=True) with PrunedTransducerLoss."""
    import keras
    import tensorflow as tf

    from xla_rnnt.keras import PrunedTransducerLoss

    enc = keras.Input((T, JOINER_DIM))
    dec = keras.Input((S + 1, JOINER_DIM))
    symbols = keras.Input((S,), dtype="int64")
    t_len, s_len = keras.Input((), dtype="int64"), keras.Input((), dtype="int64")
    loss = PrunedTransducerLoss(V, joiner_dim=JOINER_DIM, s_range=S_RANGE, reduction="sum")(
        enc, dec, symbols, t_len, s_len
    )
    model = keras.Model([enc, dec, symbols, t_len, s_len], loss)
    model.compile(keras.optimizers.SGD(1e-6), jit_compile=True)
    batch = (x["enc"], x["dec"], x["symbols"], x["boundary"][:, 3], x["boundary"][:, 2])
    steps = reps * INNER
    data = tf.data.Dataset.from_tensors((batch,)).repeat(steps)
    model.fit(data.take(3), verbose=0, shuffle=False)  # trace + compile
    gpu = "GPU:0" if tf.config.list_logical_devices("GPU") else None
    if gpu:
        tf.config.experimental.reset_memory_stats(gpu)
    start = time.perf_counter()
    history = model.fit(data, verbose=0, shuffle=False)
    ms = 1e3 * (time.perf_counter() - start) / steps
    peak = tf.config.experimental.get_memory_info(gpu)["peak"] / 2**20 if gpu else None
    return {
        "ms": ms,
        "peak_mb": peak,
        "loss": None,
        "note": f"mean over one fit of {steps} steps (final loss "
        f"{history.history['loss'][-1]:.4g}; weights change, so no loss check)",
    }


# --------------------------------------------------------------------------- torch


def run_torch(configs, reps, skip_full, sdist, libs=("fast_rnnt", "torchaudio"), build_dir=None):
    import torch

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    from fast_rnnt_build import load_fast_rnnt

    fast_rnnt = load_fast_rnnt(sdist, build_dir) if sdist and "fast_rnnt" in libs else None
    taf = None
    if "torchaudio" in libs:
        try:
            import torchaudio.functional as taf
        except Exception:  # torchaudio missing: its column stays empty
            taf = None
    dev = torch.device("cuda")

    def timed(fn):
        try:
            return _timed(fn)
        except torch.OutOfMemoryError:
            # Recorded, not fatal: the other cases and configurations still run.
            torch.cuda.empty_cache()
            return {"ms": None, "peak_mb": None, "error": "out of memory"}
        except RuntimeError as e:  # torchaudio's illegal memory access: notes/measurements.md
            return {"ms": None, "peak_mb": None, "error": str(e)[:300]}

    def _timed(fn):
        torch.cuda.empty_cache()
        for _ in range(3):
            value = fn()
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        times = []
        for _ in range(reps):
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(INNER):
                fn()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end) / INNER)
        return {
            "ms": float(np.median(times)),
            "peak_mb": torch.cuda.max_memory_allocated() / 2**20,
            "loss": None if value is None else float(value),
        }

    term = 0
    out = {}
    for B, T, S, V in configs:
        x = {k: torch.from_numpy(v).to(dev) for k, v in make_inputs(B, T, S, V).items()}
        fr, ta = {}, {}
        if fast_rnnt is not None:

            def simple():
                am = x["am"].detach().requires_grad_()
                lm = x["lm"].detach().requires_grad_()
                loss = fast_rnnt.rnnt_loss_simple(
                    lm=lm,
                    am=am,
                    symbols=x["symbols"],
                    termination_symbol=term,
                    boundary=x["boundary"],
                    reduction="sum",
                )
                loss.backward()
                return loss.detach()

            fr["simple"] = timed(simple)
            with torch.no_grad():
                _, (px_grad, py_grad) = fast_rnnt.rnnt_loss_simple(
                    lm=x["lm"],
                    am=x["am"],
                    symbols=x["symbols"],
                    termination_symbol=term,
                    boundary=x["boundary"],
                    reduction="sum",
                    return_grad=True,
                )

            def ranges_only():
                fast_rnnt.get_rnnt_prune_ranges(
                    px_grad=px_grad, py_grad=py_grad, boundary=x["boundary"], s_range=S_RANGE
                )

            fr["ranges"] = timed(ranges_only)
            ranges = fast_rnnt.get_rnnt_prune_ranges(
                px_grad=px_grad, py_grad=py_grad, boundary=x["boundary"], s_range=S_RANGE
            )
            am_p, lm_p = fast_rnnt.do_rnnt_pruning(am=x["am"], lm=x["lm"], ranges=ranges)
            logits0 = (am_p + lm_p).contiguous()

            def pruned():
                lg = logits0.detach().requires_grad_()
                loss = fast_rnnt.rnnt_loss_pruned(
                    logits=lg,
                    symbols=x["symbols"],
                    ranges=ranges,
                    termination_symbol=term,
                    boundary=x["boundary"],
                    reduction="sum",
                )
                loss.backward()
                return loss.detach()

            fr["pruned"] = timed(pruned)
            del logits0, am_p, lm_p

            def train_step_pruned():
                enc = x["enc"].detach().requires_grad_()
                dec = x["dec"].detach().requires_grad_()
                w_am, w_lm, w_out = (
                    x[k].detach().requires_grad_() for k in ("w_am", "w_lm", "w_out")
                )
                simple_loss, (gx, gy) = fast_rnnt.rnnt_loss_simple(
                    lm=dec @ w_lm,
                    am=enc @ w_am,
                    symbols=x["symbols"],
                    termination_symbol=term,
                    boundary=x["boundary"],
                    reduction="sum",
                    return_grad=True,
                )
                rng_ = fast_rnnt.get_rnnt_prune_ranges(
                    px_grad=gx, py_grad=gy, boundary=x["boundary"], s_range=S_RANGE
                )
                e, d = fast_rnnt.do_rnnt_pruning(am=enc, lm=dec, ranges=rng_)
                lg = torch.tanh(e + d) @ w_out
                pruned_loss = fast_rnnt.rnnt_loss_pruned(
                    logits=lg,
                    symbols=x["symbols"],
                    ranges=rng_,
                    termination_symbol=term,
                    boundary=x["boundary"],
                    reduction="sum",
                )
                total = 0.5 * simple_loss + pruned_loss
                total.backward()
                return total.detach()

            fr["train_step_pruned"] = timed(train_step_pruned)
        if not skip_full:
            full_logits = (x["am"][:, :, None, :] + x["lm"][:, None, :, :]).contiguous()
            if fast_rnnt is not None:

                def full():
                    lg = full_logits.detach().requires_grad_()
                    loss = fast_rnnt.rnnt_loss(
                        logits=lg,
                        symbols=x["symbols"],
                        termination_symbol=term,
                        boundary=x["boundary"],
                        reduction="sum",
                    )
                    loss.backward()
                    return loss.detach()

                fr["full"] = timed(full)

                def train_step_full():
                    enc = x["enc"].detach().requires_grad_()
                    dec = x["dec"].detach().requires_grad_()
                    w_out = x["w_out"].detach().requires_grad_()
                    lg = torch.tanh(enc[:, :, None, :] + dec[:, None, :, :]) @ w_out
                    loss = fast_rnnt.rnnt_loss(
                        logits=lg,
                        symbols=x["symbols"],
                        termination_symbol=term,
                        boundary=x["boundary"],
                        reduction="sum",
                    )
                    loss.backward()
                    return loss.detach()

                fr["train_step_full"] = timed(train_step_full)
            if taf is not None:
                targets = x["symbols"].int()
                t_len = x["boundary"][:, 3].int()
                s_len = x["boundary"][:, 2].int()

                def ta_full():
                    lg = full_logits.detach().requires_grad_()
                    loss = taf.rnnt_loss(lg, targets, t_len, s_len, blank=term, reduction="sum")
                    loss.backward()
                    return loss.detach()

                ta["full"] = timed(ta_full)

                def ta_train_step_full():
                    enc = x["enc"].detach().requires_grad_()
                    dec = x["dec"].detach().requires_grad_()
                    w_out = x["w_out"].detach().requires_grad_()
                    lg = torch.tanh(enc[:, :, None, :] + dec[:, None, :, :]) @ w_out
                    loss = taf.rnnt_loss(lg, targets, t_len, s_len, blank=term, reduction="sum")
                    loss.backward()
                    return loss.detach()

                ta["train_step_full"] = timed(ta_train_step_full)
            del full_logits
        torch.cuda.empty_cache()
        out[f"{B},{T},{S},{V}"] = {"fast_rnnt": fr, "torchaudio": ta}
    return {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "results": out}


# -------------------------------------------------------------------------- driver


def _fmt(entry):
    if entry and entry.get("error"):
        return "OOM" if entry["error"] == "out of memory" else "ERR"
    return "-" if not entry or entry.get("ms") is None else f"{entry['ms']:.3f}"


def _mem(entry):
    return "-" if not entry or entry.get("peak_mb") is None else f"{entry['peak_mb']:.0f}"


def _rel(mine, other):
    """Relative difference of the two loss values (same inputs), if both exist."""
    a, b = (mine or {}).get("loss"), (other or {}).get("loss")
    return "-" if a is None or b is None else f"{abs(a - b) / max(abs(b), 1e-30):.1e}"


def _speedup(mine, theirs):
    ok = mine and theirs and mine.get("ms") and theirs.get("ms")
    return f"{theirs['ms'] / mine['ms']:.2f}x" if ok else "-"


def report(ours, theirs, path, ours_tf=None):
    ours_tf = ours_tf or {"results": {}}
    print(
        f"device: {ours['device']} | jax {ours['jax']} | tf {ours_tf.get('tf', '-')} | "
        f"torch {theirs.get('torch')}"
    )
    print(f"timing: median over samples of {INNER} back-to-back calls, synchronised once")
    print(
        f"{'B,T,S,V':>16} {'case':>18} {'jax ms':>9} {'tf ms':>9} {'fast_rnnt':>10} "
        f"{'jax x':>7} {'tf x':>7} {'torchaudio':>10} {'jax MB':>8} {'tf MB':>7} {'fr MB':>7} "
        f"{'ta MB':>7} {'loss vs fr':>10} {'tf vs fr':>8} {'vs ta':>8}"
    )
    for cfg, res in ours["results"].items():
        other = theirs["results"].get(cfg, {})
        mine_tf = ours_tf["results"].get(cfg, {})
        for case in CASES:
            mine, tfc = res.get(case), mine_tf.get(case)
            fr = other.get("fast_rnnt", {}).get(case)
            ta = other.get("torchaudio", {}).get(case)
            if not (mine or tfc or fr or ta):
                continue
            print(
                f"{cfg:>16} {case:>18} {_fmt(mine):>9} {_fmt(tfc):>9} {_fmt(fr):>10} "
                f"{_speedup(mine, fr):>7} {_speedup(tfc, fr):>7} {_fmt(ta):>10} "
                f"{_mem(mine):>8} {_mem(tfc):>7} {_mem(fr):>7} {_mem(ta):>7} "
                f"{_rel(mine, fr):>10} {_rel(tfc, fr):>8} {_rel(mine, ta):>8}"
            )
    if path:
        with open(path, "w") as f:
            json.dump(
                {"s_range": S_RANGE, "ours": ours, "ours_tf": ours_tf, "theirs": theirs},
                f,
                indent=1,
            )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", choices=["jax", "tf", "torch", "all"], default="all")
    parser.add_argument("--fast-rnnt-sdist", default=None)
    parser.add_argument(
        "--fast-rnnt-build-dir",
        default=None,
        help="where fast_rnnt is compiled (default: a temporary directory)",
    )
    parser.add_argument("--reps", type=int, default=20)
    parser.add_argument("--skip-full", action="store_true")
    parser.add_argument(
        "--torch-libs",
        default="fast_rnnt,torchaudio",
        help="which torch losses to time (comma-separated)",
    )
    parser.add_argument("--configs", default=None, help="e.g. '32,500,100,500;8,2000,400,500'")
    parser.add_argument("--json", help="also write the results as JSON to this path")
    parser.add_argument(
        "--merge",
        nargs="+",
        metavar="PART_JSON",
        help="only print and write the table from part outputs: jax's, torch's[, tf's]",
    )
    args = parser.parse_args()
    configs = (
        CONFIGS
        if not args.configs
        else [tuple(int(v) for v in c.split(",")) for c in args.configs.split(";")]
    )
    if args.merge:
        if len(args.merge) not in (2, 3):
            parser.error("--merge takes jax's and torch's part outputs, then optionally tf's")
        parts = []
        for path in args.merge:
            with open(path) as f:
                parts.append(json.load(f))
        ours, theirs = parts[0].get("ours", parts[0]), parts[1].get("theirs", parts[1])
        report(ours, theirs, args.json, parts[2] if len(parts) == 3 else None)
        return
    if args.part == "jax":
        json.dump(run_jax(configs, args.reps, args.skip_full), sys.stdout)
        return
    if args.part == "tf":
        json.dump(run_tf(configs, args.reps, args.skip_full), sys.stdout)
        return
    if args.part == "torch":
        json.dump(
            run_torch(
                configs,
                args.reps,
                args.skip_full,
                args.fast_rnnt_sdist,
                args.torch_libs.split(","),
                args.fast_rnnt_build_dir,
            ),
            sys.stdout,
        )
        return

    # One process per library. torchaudio 2.11 hits an illegal memory access
    # unless every launch is synchronous (CUDA_LAUNCH_BLOCKING=1), which also
    # slows it a little (its times are upper bounds), and even so at
    # (8,2000,400,500), which breaks the CUDA context: one process per
    # configuration for it (notes/measurements.md).
    def part(name, cfgs, libs="", env=None):
        cmd = [
            sys.executable,
            __file__,
            "--part",
            name,
            "--reps",
            str(args.reps),
            "--configs",
            ";".join(",".join(map(str, c)) for c in cfgs),
        ]
        if libs:
            cmd += ["--torch-libs", libs]
        if args.fast_rnnt_sdist:
            cmd += ["--fast-rnnt-sdist", args.fast_rnnt_sdist]
        if args.fast_rnnt_build_dir:
            cmd += ["--fast-rnnt-build-dir", args.fast_rnnt_build_dir]
        if args.skip_full:
            cmd.append("--skip-full")
        proc = subprocess.run(
            cmd, capture_output=True, text=True, env={**os.environ, **(env or {})}
        )
        sys.stderr.write(proc.stderr[-4000:])
        if proc.returncode == 0:
            return json.loads(proc.stdout.strip().splitlines()[-1])
        return {"device": "?", "results": {}, "error": proc.stderr[-2000:]}

    ours = part("jax", configs)
    try:
        import importlib.util

        has_tf = importlib.util.find_spec("tensorflow") is not None
    except ValueError:
        has_tf = False
    ours_tf = part("tf", configs) if has_tf else None
    theirs = part("torch", configs, "fast_rnnt")
    for cfg in configs:
        ta = part("torch", [cfg], "torchaudio", {"CUDA_LAUNCH_BLOCKING": "1"})
        key = ",".join(map(str, cfg))
        entry = ta["results"].get(key, {}).get("torchaudio") or (
            {"full": {"ms": None, "peak_mb": None, "error": "process failed"}}
            if not args.skip_full
            else {}
        )
        theirs.setdefault("results", {}).setdefault(key, {})["torchaudio"] = entry
    theirs["notes"] = "torchaudio timed with CUDA_LAUNCH_BLOCKING=1, one process per configuration"
    report(ours, theirs, args.json, ours_tf)


if __name__ == "__main__":
    main()
