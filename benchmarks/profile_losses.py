"""Where does the time of the simple and pruned losses go? (JAX, one device)

Times forward + backward of pieces of the loss pipelines at one shape, and the
simple loss with its normaliser matmuls at other precisions than HIGHEST (with
their error against float64). Prints a table; --json writes the results too.
(An earlier candidate, the symbol gather as a one-hot matmul, was 20-30%
slower: notes/measurements.md.)

  python benchmarks/profile_losses.py --shape 32,500,100,500
"""

import argparse
import json

import jax

jax.config.update("jax_enable_x64", True)  # for the float64 reference only
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402
import timing  # noqa: E402
from jax import lax  # noqa: E402

import xla_rnnt.jax as xj  # noqa: E402
from xla_rnnt.jax import _ops  # noqa: E402


def median_ms(fn, args):
    return timing.median_ms(jax.jit(fn), args, reps=30)


# Candidate precisions of the simple loss's normaliser matmuls (the library
# uses HIGHEST: full float32).
PRECISIONS = {
    "HIGHEST": lax.Precision.HIGHEST,
    "TF32_TF32_F32_X3": lax.DotAlgorithmPreset.TF32_TF32_F32_X3,
    "BF16_BF16_F32_X6": lax.DotAlgorithmPreset.BF16_BF16_F32_X6,
    "BF16_BF16_F32_X3": lax.DotAlgorithmPreset.BF16_BF16_F32_X3,
    "DEFAULT (TF32)": lax.Precision.DEFAULT,
}


def with_matmul_precision(precision, fn):
    """fn traced with the adapter's matmul at `precision` (restored after)."""

    def traced(*args):
        saved = _ops.matmul
        _ops.matmul = lambda a, b: jnp.matmul(a, b, precision=precision)
        try:
            return fn(*args)
        finally:
            _ops.matmul = saved

    return traced


def relative(a, b):
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.linalg.norm(a - b) / max(np.linalg.norm(b), 1e-30))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", default="32,500,100,500")
    parser.add_argument("--json", help="also write the results as JSON to this path")
    args = parser.parse_args()
    B, T, S, V = (int(v) for v in args.shape.split(","))
    rng = np.random.default_rng(0)
    am = jnp.asarray(rng.standard_normal((B, T, V)), jnp.float32)
    lm = jnp.asarray(rng.standard_normal((B, S + 1, V)), jnp.float32)
    symbols = jnp.asarray(rng.integers(1, V, (B, S)), jnp.int32)
    px, py = xj.get_rnnt_logprobs(lm=lm, am=am, symbols=symbols, termination_symbol=0)
    _, (gx, gy) = xj.rnnt_loss_simple(
        lm=lm, am=am, symbols=symbols, termination_symbol=0, return_grad=True
    )
    ranges = xj.get_rnnt_prune_ranges(px_grad=gx, py_grad=gy, boundary=None, s_range=5)
    am_p, lm_p = xj.do_rnnt_pruning(am=am, lm=lm, ranges=ranges)
    logits = am_p + lm_p

    def simple(am, lm):
        return xj.rnnt_loss_simple(
            lm=lm, am=am, symbols=symbols, termination_symbol=0, reduction="sum"
        )

    def recursion(px, py):
        return jnp.sum(xj.mutual_information_recursion(px, py))

    def logprobs_only(am, lm):
        px, py = xj.get_rnnt_logprobs(lm=lm, am=am, symbols=symbols, termination_symbol=0)
        return jnp.sum(jnp.where(jnp.isfinite(px), px, 0)) + jnp.sum(py)

    def pruned(lg):
        return xj.rnnt_loss_pruned(
            logits=lg, symbols=symbols, ranges=ranges, termination_symbol=0, reduction="sum"
        )

    def pruned_logprobs_only(lg):
        px, py = xj.get_rnnt_logprobs_pruned(
            logits=lg, symbols=symbols, ranges=ranges, termination_symbol=0
        )
        return jnp.sum(jnp.where(jnp.isfinite(px), px, 0)) + jnp.sum(
            jnp.where(jnp.isfinite(py), py, 0)
        )

    def log_softmax_only(lg):
        return jnp.sum(jax.nn.log_softmax(lg, -1)[..., 0])

    g2 = lambda f: jax.value_and_grad(f, argnums=(0, 1))  # noqa: E731
    rows = {
        "simple loss fwd+bwd": median_ms(g2(simple), (am, lm)),
        "  recursion alone fwd+bwd": median_ms(g2(recursion), (px, py)),
        "  logprobs alone fwd+bwd (gather)": median_ms(g2(logprobs_only), (am, lm)),
        "pruned loss fwd+bwd": median_ms(jax.value_and_grad(pruned), (logits,)),
        "  pruned logprobs alone fwd+bwd": median_ms(
            jax.value_and_grad(pruned_logprobs_only), (logits,)
        ),
        "  log_softmax alone fwd+bwd": median_ms(jax.value_and_grad(log_softmax_only), (logits,)),
        "prune ranges": median_ms(
            lambda a, b: xj.get_rnnt_prune_ranges(px_grad=a, py_grad=b, boundary=None, s_range=5),
            (gx, gy),
        ),
    }
    # The simple loss with other normaliser precisions: time, and the
    # relative error of loss and gradients against float64.
    exact = jax.jit(g2(simple))(am.astype(jnp.float64), lm.astype(jnp.float64))
    errors = {}
    for name, precision in PRECISIONS.items():
        fn = g2(with_matmul_precision(precision, simple))
        try:
            got = jax.jit(fn)(am, lm)
        except Exception as e:  # an algorithm this GPU/XLA does not offer
            errors[name] = f"unsupported: {type(e).__name__}"
            continue
        rows[f"simple loss, matmuls {name}"] = median_ms(fn, (am, lm))
        errors[name] = max(
            relative(got[0], exact[0]),
            relative(got[1][0], exact[1][0]),
            relative(got[1][1], exact[1][1]),
        )
    print(f"{jax.devices()[0].device_kind}, jax {jax.__version__}, B,T,S,V = {B},{T},{S},{V}")
    for name, ms in rows.items():
        print(f"{name:<45} {ms:8.3f} ms")
    for name, err in errors.items():
        print(f"matmuls {name:<25} max relative error of loss/grads vs float64: {err}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(
                {
                    "device": jax.devices()[0].device_kind,
                    "shape": [B, T, S, V],
                    "ms": rows,
                    "precision_errors": errors,
                },
                f,
                indent=1,
            )


if __name__ == "__main__":
    main()
