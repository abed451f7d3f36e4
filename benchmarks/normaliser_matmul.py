"""The simple loss's three normaliser products, timed per dot algorithm.

The simple loss forms N = exp(lm - max) @ exp(am - max)^T ([B, S+1, T]) and,
backward, dN @ am_probs and dN^T @ lm_probs. This times the three products
alone (jitted, median of 20, host-synchronised) for each dot algorithm that
could serve them, with the error of log(N) and of both gradients against
float64 on the host, and each one's floor: its FLOPs at the tensor-core peak
the algorithm uses (--tf32-tflops, --bf16-tflops: dense peaks of the device,
an H200's by default) divided by the passes it makes.

  python benchmarks/normaliser_matmul.py --shape 4,4000,800,500 --json out.json
"""

import argparse
import json

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax
from timing import median_ms

# name -> (precision argument, tensor-core kind, passes)
ALGORITHMS = {
    "HIGHEST": (lax.Precision.HIGHEST, "f32", 1),
    "TF32_X3": (lax.DotAlgorithmPreset.TF32_TF32_F32_X3, "tf32", 3),
    "BF16_X6": (lax.DotAlgorithmPreset.BF16_BF16_F32_X6, "bf16", 6),
    "BF16_X9": (lax.DotAlgorithmPreset.BF16_BF16_F32_X9, "bf16", 9),
    "TF32 (1 pass, not float32-accurate)": (lax.DotAlgorithmPreset.TF32_TF32_F32, "tf32", 1),
}


def products(precision):
    def fn(lm_probs, am_probs, dn):
        mm = lambda a, b: jnp.matmul(a, b, precision=precision)  # noqa: E731
        n = mm(lm_probs, jnp.transpose(am_probs, (0, 2, 1)))
        return n, mm(dn, am_probs), mm(jnp.transpose(dn, (0, 2, 1)), lm_probs)

    return jax.jit(fn)


def inputs(B, T, S, V, seed=0):
    rng = np.random.default_rng(seed)
    am = rng.standard_normal((B, T, V)).astype(np.float32)
    lm = rng.standard_normal((B, S + 1, V)).astype(np.float32)
    am_probs = np.exp(am - am.max(axis=2, keepdims=True))
    lm_probs = np.exp(lm - lm.max(axis=2, keepdims=True))
    dn = (rng.standard_normal((B, S + 1, T)) / T).astype(np.float32)
    return lm_probs, am_probs, dn


def max_rel(x, ref):
    return float(np.max(np.abs(np.asarray(x, np.float64) - ref)) / np.max(np.abs(ref)))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", action="append", help="B,T,S,V (repeatable)")
    ap.add_argument("--tf32-tflops", type=float, default=494.7)
    ap.add_argument("--bf16-tflops", type=float, default=989.4)
    ap.add_argument("--f32-tflops", type=float, default=66.9)
    ap.add_argument("--json")
    args = ap.parse_args()
    peaks = {"tf32": args.tf32_tflops, "bf16": args.bf16_tflops, "f32": args.f32_tflops}
    device = jax.devices()[0].device_kind
    rows = []
    for shape in args.shape or ["32,500,100,500", "4,4000,800,500"]:
        B, T, S, V = map(int, shape.split(","))
        lm_probs, am_probs, dn = inputs(B, T, S, V)
        lp, ap_, d = (np.float64(x) for x in (lm_probs, am_probs, dn))
        ref = (lp @ ap_.transpose(0, 2, 1), d @ ap_, d.transpose(0, 2, 1) @ lp)
        dev = [jnp.asarray(x) for x in (lm_probs, am_probs, dn)]
        flops = 3 * 2.0 * B * (S + 1) * T * V
        for name, (precision, kind, passes) in ALGORITHMS.items():
            try:
                fn = products(precision)
                out = fn(*dev)
                ms = median_ms(fn, dev)
            except Exception as e:  # an algorithm the device or XLA lacks
                print(f"{shape:>16} {name:<36} unavailable: {type(e).__name__}")
                continue
            floor_ms = flops * passes / (peaks[kind] * 1e12) * 1e3
            row = dict(
                shape=shape,
                algorithm=name,
                ms=ms,
                tflops=flops / ms / 1e9,
                floor_ms=floor_ms,
                over_floor=ms / floor_ms,
                log_n_abs_err=float(
                    np.max(np.abs(np.log(np.asarray(out[0], np.float64)) - np.log(ref[0])))
                ),
                dlm_rel_err=max_rel(out[1], ref[1]),
                dam_rel_err=max_rel(out[2], ref[2]),
            )
            rows.append(row)
            print(
                f"{shape:>16} {name:<36} {ms:8.3f} ms {row['tflops']:6.1f} TFLOP/s"
                f"  floor {floor_ms:6.3f} ({row['over_floor']:4.1f}x)"
                f"  log N {row['log_n_abs_err']:.1e}  grads {row['dlm_rel_err']:.1e}"
                f" {row['dam_rel_err']:.1e}",
                flush=True,
            )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(dict(device=device, rows=rows), f, indent=1)


if __name__ == "__main__":
    main()
