"""GPU time per kernel of the simple and pruned losses, from a JAX profiler trace.

Unlike benchmarks/ncu_breakdown.py (hardware counters, but no autotuning and
serialised kernels), this reads the CUPTI kernel records of jax.profiler at
full speed: N calls of each loss (forward + backward, after warm-up), kernel
times summed by name and divided by N. Prints a table per case; --json
writes the results too. The trace itself goes to a temporary directory,
removed right after it is read.

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
from ncu_breakdown import build_case


def kernel_times(trace_dir, calls):
    """{kernel name: us per call} from the trace's GPU stream events."""
    path = glob.glob(os.path.join(trace_dir, "**", "*.trace.json.gz"), recursive=True)
    with gzip.open(path[0]) as f:
        trace = json.load(f)
    events = trace["traceEvents"]
    gpu_pids = {
        e["pid"]
        for e in events
        if e.get("ph") == "M"
        and e.get("name") == "process_name"
        and "/device:GPU" in e.get("args", {}).get("name", "")
    }
    totals = collections.Counter()
    for e in events:
        if e.get("ph") == "X" and e.get("pid") in gpu_pids and "dur" in e:
            totals[e["name"]] += e["dur"]
    return {name: us / calls for name, us in totals.most_common()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", default="32,500,100,500")
    parser.add_argument("--calls", type=int, default=20)
    parser.add_argument("--json", help="also write the results as JSON to this path")
    args = parser.parse_args()
    B, T, S, V = (int(v) for v in args.shape.split(","))
    out = {"device": jax.devices()[0].device_kind, "shape": [B, T, S, V], "cases": {}}
    for name in ("simple", "pruned"):
        fn, fn_args = build_case(name, B, T, S, V)
        for _ in range(3):
            jax.block_until_ready(fn(*fn_args))
        with tempfile.TemporaryDirectory() as d:
            with jax.profiler.trace(d):
                for _ in range(args.calls):
                    result = fn(*fn_args)
                jax.block_until_ready(result)
            times = kernel_times(d, args.calls)
        out["cases"][name] = times
        print(
            f"{name} at {(B, T, S, V)} on {out['device']}: {sum(times.values()):.1f} us "
            f"of kernels per call"
        )
        for kernel, us in times.items():
            print(f"  {us:8.1f}  {kernel[:90]}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
