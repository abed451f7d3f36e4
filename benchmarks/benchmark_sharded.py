"""Data-parallel check on several GPUs through JAX: the pruned pipeline with
the batch sharded over all local devices (NamedSharding) against one device.

Checks that the compiled program has no all-gather of the big operands and
that losses and gradients equal the single-device ones, then times both.
Prints a table; --json writes the results too.

  python benchmarks/benchmark_sharded.py --json sharded.json
"""

import argparse
import json
import re

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P
from timing import median_ms

import xla_rnnt.jax as xj


def loss_fn(am, lm, symbols, boundary):
    simple, (px_grad, py_grad) = xj.rnnt_loss_simple(
        lm=lm,
        am=am,
        symbols=symbols,
        termination_symbol=0,
        boundary=boundary,
        reduction="sum",
        return_grad=True,
    )
    ranges = xj.get_rnnt_prune_ranges(
        px_grad=px_grad, py_grad=py_grad, boundary=boundary, s_range=5
    )
    am_p, lm_p = xj.do_rnnt_pruning(am=am, lm=lm, ranges=ranges)
    pruned = xj.rnnt_loss_pruned(
        logits=jnp.tanh(am_p + lm_p),
        symbols=symbols,
        ranges=ranges,
        termination_symbol=0,
        boundary=boundary,
        reduction="sum",
    )
    return 0.5 * simple + pruned


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", default="64,500,100,500")
    parser.add_argument("--json", help="also write the results as JSON to this path")
    args = parser.parse_args()
    B, T, S, V = (int(v) for v in args.shape.split(","))
    devices = jax.devices()
    n = len(devices)
    rng = np.random.default_rng(0)
    am = rng.standard_normal((B, T, V)).astype(np.float32)
    lm = rng.standard_normal((B, S + 1, V)).astype(np.float32)
    symbols = rng.integers(1, V, (B, S)).astype(np.int32)
    t_len = rng.integers(int(0.7 * T), T + 1, B)
    s_len = np.minimum(rng.integers(int(0.7 * S), S + 1, B), t_len)
    boundary = np.stack([np.zeros(B), np.zeros(B), s_len, t_len], 1).astype(np.int32)
    grad_fn = jax.jit(jax.value_and_grad(loss_fn, argnums=(0, 1)))

    one = jax.device_put((am, lm, symbols, boundary), devices[0])
    loss1, (g_am1, g_lm1) = grad_fn(*one)
    mesh = Mesh(np.array(devices), ("data",))
    batch = NamedSharding(mesh, P("data"))
    sharded = tuple(jax.device_put(x, batch) for x in (am, lm, symbols, boundary))
    lossn, (g_amn, g_lmn) = grad_fn(*sharded)
    hlo = grad_fn.lower(*sharded).compile().as_text()
    gathers = re.findall(r"all-gather[^\n]*", hlo)
    big_gathers = [g for g in gathers if re.search(r"f32\[\d+,\d+,\d+\]", g)]
    rel = lambda a, b: float(
        np.linalg.norm(np.asarray(a) - np.asarray(b))  # noqa: E731
        / max(np.linalg.norm(np.asarray(b)), 1e-30)
    )
    result = {
        "devices": [d.device_kind for d in devices],
        "shape": [B, T, S, V],
        "loss_rel_diff": rel(lossn, loss1),
        "grad_am_rel_diff": rel(g_amn, g_am1),
        "grad_lm_rel_diff": rel(g_lmn, g_lm1),
        "all_gathers": len(gathers),
        "big_all_gathers": big_gathers[:5],
        "grad_sharding": str(g_amn.sharding.spec),
        "one_device_ms": median_ms(grad_fn, one),
        f"{n}_devices_ms": median_ms(grad_fn, sharded),
    }
    print(f"{n} x {devices[0].device_kind}, jax {jax.__version__}, B,T,S,V = {B},{T},{S},{V}")
    for key, value in result.items():
        print(f"  {key}: {value}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=1)
    ok = result["loss_rel_diff"] < 1e-5 and result["grad_am_rel_diff"] < 1e-4 and not big_gathers
    print("OK" if ok else "MISMATCH OR GATHER")
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
