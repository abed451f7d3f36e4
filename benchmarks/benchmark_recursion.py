"""Times the mutual-information recursion (forward + backward) through JAX.

Prints a table (--json writes the results too). Inputs are random px/py with ragged lengths
(70-100% of the maximum), as in benchmarks/benchmark_losses.py.
"""

import argparse
import json

import jax
import jax.numpy as jnp
import numpy as np
from timing import median_ms

import xla_rnnt.jax as xj

CONFIGS = [(32, 500, 100), (16, 1000, 200), (64, 200, 50), (8, 2000, 400)]


def ragged_boundary(rng, B, S, T):
    s_len = rng.integers(int(0.7 * S), S + 1, B)
    t_len = rng.integers(int(0.7 * T), T + 1, B)
    return np.stack([np.zeros(B), np.zeros(B), s_len, t_len], 1).astype(np.int32)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--json", help="also write the results as JSON to this path")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    device = jax.devices()[0]
    rows = []
    for B, T, S in CONFIGS:
        px = jnp.asarray(rng.standard_normal((B, S, T + 1)), jnp.float32)
        py = jnp.asarray(rng.standard_normal((B, S + 1, T)), jnp.float32)
        boundary = jnp.asarray(ragged_boundary(rng, B, S, T))
        fwd = jax.jit(lambda a, b, c: xj.mutual_information_recursion(a, b, c))
        fwd_bwd = jax.jit(
            jax.grad(
                lambda a, b, c: jnp.sum(xj.mutual_information_recursion(a, b, c)), argnums=(0, 1)
            )
        )
        row = {
            "B": B,
            "T": T,
            "S": S,
            "forward_ms": median_ms(fwd, (px, py, boundary)),
            "forward_backward_ms": median_ms(fwd_bwd, (px, py, boundary)),
        }
        rows.append(row)
    print(f"device: {device.device_kind} ({device.platform}), jax {jax.__version__}")
    print(f"{'B':>4} {'T':>5} {'S':>4} {'fwd ms':>8} {'fwd+bwd ms':>11}")
    for r in rows:
        print(
            f"{r['B']:>4} {r['T']:>5} {r['S']:>4} {r['forward_ms']:>8.3f} "
            f"{r['forward_backward_ms']:>11.3f}"
        )
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {"device": device.device_kind, "jax": jax.__version__, "rows": rows}, f, indent=1
            )


if __name__ == "__main__":
    main()
