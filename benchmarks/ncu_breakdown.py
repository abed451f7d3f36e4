"""Per-kernel GPU time of one loss call, read by Nsight Compute (ncu).

Run under ncu, one case per process (the script brackets exactly one
forward + backward call, after warm-up, with cuProfilerStart/Stop):

  ncu --clock-control none --profile-from-start off --csv --log-file simple.csv \\
      --metrics gpu__time_duration.sum,dram__bytes_read.sum,dram__bytes_write.sum,\\
lts__t_bytes.sum,sm__throughput.avg.pct_of_peak_sustained_elapsed \\
      python3 benchmarks/ncu_breakdown.py --case simple --shape 32,500,100,500
  python3 benchmarks/ncu_breakdown.py --parse simple.csv --json simple.json

The parse step prints one row per kernel (time, DRAM bytes, the time those
bytes need at --bandwidth, and measured/floor) and the totals; ncu serialises
kernels, so the total is the sum of kernel times without overlap or launch
gaps. tools/gpu_check.sh runs it for every case.
"""

import argparse
import csv
import ctypes
import json
import sys

CASES = ("simple", "pruned", "full", "recursion")


def build_case(case, B, T, S, V):
    """(jitted forward + backward, its arguments) of one case, on the inputs of
    benchmark_losses.py (also used by trace_breakdown.py)."""
    import jax
    import jax.numpy as jnp
    from benchmark_losses import make_inputs

    import xla_rnnt.jax as xj

    x = {k: jnp.asarray(v) for k, v in make_inputs(B, T, S, V).items()}
    kw = dict(symbols=x["symbols"], termination_symbol=0, boundary=x["boundary"], reduction="sum")
    if case == "simple":
        fn = jax.jit(
            jax.value_and_grad(
                lambda am, lm: xj.rnnt_loss_simple(lm=lm, am=am, **kw), argnums=(0, 1)
            )
        )
        args = (x["am"], x["lm"])
    elif case == "recursion":
        px, py = xj.get_rnnt_logprobs(x["lm"], x["am"], x["symbols"], 0, boundary=x["boundary"])
        fn = jax.jit(
            jax.value_and_grad(
                lambda a, b: jnp.sum(xj.mutual_information_recursion(a, b, x["boundary"])),
                argnums=(0, 1),
            )
        )
        args = (px, py)
    else:
        _, (gx, gy) = xj.rnnt_loss_simple(lm=x["lm"], am=x["am"], return_grad=True, **kw)
        if case == "pruned":
            ranges = xj.get_rnnt_prune_ranges(gx, gy, x["boundary"], 5)
            am_p, lm_p = xj.do_rnnt_pruning(x["am"], x["lm"], ranges)
            logits = am_p + lm_p
            fn = jax.jit(
                jax.value_and_grad(lambda lg: xj.rnnt_loss_pruned(logits=lg, ranges=ranges, **kw))
            )
        else:
            logits = x["am"][:, :, None, :] + x["lm"][:, None, :, :]
            fn = jax.jit(jax.value_and_grad(lambda lg: xj.rnnt_loss(logits=lg, **kw)))
        args = (logits,)
    return fn, args


def run_case(case, B, T, S, V):
    import jax

    fn, args = build_case(case, B, T, S, V)
    for _ in range(3):
        jax.block_until_ready(fn(*args))
    try:
        cuda = ctypes.CDLL("libcuda.so.1")
    except OSError:  # no GPU driver: a dry run of the script
        cuda = None
    if cuda is not None:
        cuda.cuProfilerStart()
    jax.block_until_ready(fn(*args))
    if cuda is not None:
        cuda.cuProfilerStop()
    print(f"profiled one call of {case} at {(B, T, S, V)} on {jax.devices()[0].device_kind}")


def _number(text):
    return float(text.replace(",", ""))


def parse(path, bandwidth_tb_s):
    """Rows of ncu's --csv (one row per kernel and metric) -> per-kernel table."""
    with open(path) as f:
        lines = [l for l in f if l.startswith('"')]  # ncu's own messages start with ==
    kernels = {}
    for row in csv.DictReader(lines):
        key = (int(row["ID"]), row["Kernel Name"])
        unit, value = row["Metric Unit"], _number(row["Metric Value"])
        scale = {
            "ns": 1e-3,
            "nsecond": 1e-3,
            "us": 1.0,
            "usecond": 1.0,
            "ms": 1e3,
            "msecond": 1e3,
            "byte": 1.0,
            "Kbyte": 1e3,
            "Mbyte": 1e6,
            "Gbyte": 1e9,
            "%": 1.0,
        }[unit]
        kernels.setdefault(key, {})[row["Metric Name"]] = value * scale
    rows = []
    for (kid, name), m in sorted(kernels.items()):
        us = m.get("gpu__time_duration.sum", 0.0)
        dram = m.get("dram__bytes_read.sum", 0.0) + m.get("dram__bytes_write.sum", 0.0)
        # Every byte a kernel reads or writes passes L2; writes that stay
        # there (and reads of data still there) never reach DRAM during the
        # kernel, so L2 bytes at DRAM bandwidth are the floor used here.
        l2 = m.get("lts__t_bytes.sum", dram)
        floor_us = max(dram, l2) / (bandwidth_tb_s * 1e12) * 1e6
        rows.append(
            {
                "id": kid,
                "kernel": name,
                "us": us,
                "dram_mb": dram / 1e6,
                "l2_mb": l2 / 1e6,
                "floor_us": floor_us,
                "sm_pct": m.get("sm__throughput.avg.pct_of_peak_sustained_elapsed"),
            }
        )
    total = sum(r["us"] for r in rows)
    total_floor = sum(r["floor_us"] for r in rows)
    print(
        f"{'kernel':<60} {'us':>8} {'DRAM MB':>8} {'L2 MB':>8} {'floor us':>8} "
        f"{'x floor':>7} {'SM %':>5}"
    )
    for r in rows:
        ratio = r["us"] / r["floor_us"] if r["floor_us"] else float("inf")
        sm = "-" if r["sm_pct"] is None else f"{r['sm_pct']:.0f}"
        print(
            f"{r['kernel'][:60]:<60} {r['us']:>8.1f} {r['dram_mb']:>8.1f} {r['l2_mb']:>8.1f} "
            f"{r['floor_us']:>8.1f} {ratio:>7.1f} {sm:>5}"
        )
    print(
        f"{'total (' + str(len(rows)) + ' kernels)':<60} {total:>8.1f} "
        f"{sum(r['dram_mb'] for r in rows):>8.1f} {sum(r['l2_mb'] for r in rows):>8.1f} "
        f"{total_floor:>8.1f} "
        f"{total / total_floor if total_floor else float('inf'):>7.1f}"
    )
    return {
        "kernels": rows,
        "total_us": total,
        "floor_us": total_floor,
        "bandwidth_tb_s": bandwidth_tb_s,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--case", choices=CASES)
    parser.add_argument("--shape", default="32,500,100,500")
    parser.add_argument("--parse", help="an ncu --csv log to summarise")
    parser.add_argument(
        "--bandwidth",
        type=float,
        default=3.35,
        help="TB/s for the floor (nominal HBM: H100 SXM 3.35, H200 4.8)",
    )
    parser.add_argument("--json")
    args = parser.parse_args()
    if args.parse:
        out = parse(args.parse, args.bandwidth)
        if args.json:
            with open(args.json, "w") as f:
                json.dump(out, f, indent=1)
        return
    if not args.case:
        sys.exit("--case or --parse is required")
    run_case(args.case, *(int(v) for v in args.shape.split(",")))


if __name__ == "__main__":
    main()
