"""GPU time per kernel of the simple and pruned losses, from a JAX profiler trace.

Unlike benchmarks/ncu_breakdown.py (hardware counters, but no autotuning and
serialised kernels), this reads the CUPTI kernel records of jax.profiler at
full speed: N calls of each loss (forward + backward, after warm-up), kernel
times summed by name and divided by N. Prints a table per case, writes JSON.

  python benchmarks/trace_breakdown.py --shape 32,500,100,500 --json trace.json
"""
import argparse
import collections
import glob
import gzip
import json
import os
import tempfile

import jax
import jax.numpy as jnp

import xla_rnnt.jax as xj
from benchmark_losses import make_inputs


def cases(B, T, S, V):
    x = {k: jnp.asarray(v) for k, v in make_inputs(B, T, S, V).items()}
    kw = dict(symbols=x["symbols"], termination_symbol=0, boundary=x["boundary"],
              reduction="sum")
    simple = jax.jit(jax.value_and_grad(
        lambda am, lm: xj.rnnt_loss_simple(lm=lm, am=am, **kw), argnums=(0, 1)))
    _, (gx, gy) = xj.rnnt_loss_simple(lm=x["lm"], am=x["am"], return_grad=True, **kw)
    ranges = xj.get_rnnt_prune_ranges(gx, gy, x["boundary"], 5)
    am_p, lm_p = xj.do_rnnt_pruning(x["am"], x["lm"], ranges)
    pruned = jax.jit(jax.value_and_grad(
        lambda lg: xj.rnnt_loss_pruned(logits=lg, ranges=ranges, **kw)))
    return {"simple": (simple, (x["am"], x["lm"])), "pruned": (pruned, (am_p + lm_p,))}


def kernel_times(trace_dir, calls):
    """{kernel name: us per call} from the trace's GPU stream events."""
    path = glob.glob(os.path.join(trace_dir, "**", "*.trace.json.gz"), recursive=True)
    with gzip.open(path[0]) as f:
        trace = json.load(f)
    events = trace["traceEvents"]
    gpu_pids = {e["pid"] for e in events if e.get("ph") == "M" and e.get("name") == "process_name"
                and "/device:GPU" in e.get("args", {}).get("name", "")}
    totals = collections.Counter()
    for e in events:
        if e.get("ph") == "X" and e.get("pid") in gpu_pids and "dur" in e:
            totals[e["name"]] += e["dur"]
    return {name: us / calls for name, us in totals.most_common()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", default="32,500,100,500")
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--json", default="trace_breakdown.json")
    args = parser.parse_args()
    B, T, S, V = (int(v) for v in args.shape.split(","))
    out = {"device": jax.devices()[0].device_kind, "shape": [B, T, S, V], "cases": {}}
    for name, (fn, fn_args) in cases(B, T, S, V).items():
        for _ in range(3):
            jax.block_until_ready(fn(*fn_args))
        with tempfile.TemporaryDirectory() as d:
            with jax.profiler.trace(d):
                for _ in range(args.calls):
                    result = fn(*fn_args)
                jax.block_until_ready(result)
            times = kernel_times(d, args.calls)
        out["cases"][name] = times
        print(f"{name} at {(B, T, S, V)} on {out['device']}: {sum(times.values()):.1f} us "
              f"of kernels per call")
        for kernel, us in times.items():
            print(f"  {us:8.1f}  {kernel[:90]}")
    with open(args.json, "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
