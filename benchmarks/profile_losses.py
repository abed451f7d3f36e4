"""Where does the time of the simple and pruned losses go? (JAX, one device)

Times forward + backward of pieces of the loss pipelines at one shape, and a
candidate rewrite of the simple loss's symbol gather as a one-hot matmul
(checked against the library's values first). Prints a table, writes JSON.

  python benchmarks/profile_losses.py --shape 32,500,100,500
"""
import argparse
import json

import jax
import jax.numpy as jnp
import numpy as np

import timing
import xla_rnnt.jax as xj


def median_ms(fn, args):
    return timing.median_ms(jax.jit(fn), args, reps=30)


def onehot_logprobs(lm, am, symbols, blank):
    """Regular-lattice px, py of the simple loss with the symbol gather as a
    matmul against one-hot rows (the candidate)."""
    B, T, V = am.shape
    S = symbols.shape[1]
    am_max = jax.lax.stop_gradient(am.max(-1, keepdims=True))
    lm_max = jax.lax.stop_gradient(lm.max(-1, keepdims=True))
    norm = (jnp.log(jnp.einsum("bsv,btv->bst", jnp.exp(lm - lm_max), jnp.exp(am - am_max),
                               precision="highest") + 1e-38)
            + lm_max + jnp.swapaxes(am_max, 1, 2))
    onehot = jax.nn.one_hot(symbols, V, dtype=am.dtype)              # [B, S, V]
    px_am = jnp.einsum("bsv,btv->bst", onehot, am, precision="highest")
    px_lm = jnp.einsum("bsv,bsv->bs", onehot, lm[:, :S])[..., None]
    px = jnp.concatenate([px_am + px_lm - norm[:, :S], jnp.full((B, S, 1), -jnp.inf)], -1)
    py = am[:, :, blank][:, None, :] + lm[:, :, blank][:, :, None] - norm
    return px, py


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--shape", default="32,500,100,500")
    parser.add_argument("--json", default="profile_losses.json")
    args = parser.parse_args()
    B, T, S, V = (int(v) for v in args.shape.split(","))
    rng = np.random.default_rng(0)
    am = jnp.asarray(rng.standard_normal((B, T, V)), jnp.float32)
    lm = jnp.asarray(rng.standard_normal((B, S + 1, V)), jnp.float32)
    symbols = jnp.asarray(rng.integers(1, V, (B, S)), jnp.int32)
    px, py = xj.get_rnnt_logprobs(lm=lm, am=am, symbols=symbols, termination_symbol=0)
    px2, py2 = onehot_logprobs(lm, am, symbols, 0)
    err = float(jnp.max(jnp.abs(jnp.where(jnp.isfinite(px), px - px2, 0))))
    _, (gx, gy) = xj.rnnt_loss_simple(lm=lm, am=am, symbols=symbols, termination_symbol=0,
                                      return_grad=True)
    ranges = xj.get_rnnt_prune_ranges(px_grad=gx, py_grad=gy, boundary=None, s_range=5)
    am_p, lm_p = xj.do_rnnt_pruning(am=am, lm=lm, ranges=ranges)
    logits = am_p + lm_p

    def simple(am, lm):
        return xj.rnnt_loss_simple(lm=lm, am=am, symbols=symbols, termination_symbol=0,
                                   reduction="sum")

    def recursion(px, py):
        return jnp.sum(xj.mutual_information_recursion(px, py))

    def logprobs_only(am, lm):
        px, py = xj.get_rnnt_logprobs(lm=lm, am=am, symbols=symbols, termination_symbol=0)
        return jnp.sum(jnp.where(jnp.isfinite(px), px, 0)) + jnp.sum(py)

    def onehot_only(am, lm):
        px, py = onehot_logprobs(lm, am, symbols, 0)
        return jnp.sum(jnp.where(jnp.isfinite(px), px, 0)) + jnp.sum(py)

    def simple_onehot(am, lm):
        px, py = onehot_logprobs(lm, am, symbols, 0)
        return -jnp.sum(xj.mutual_information_recursion(px, py))

    def pruned(lg):
        return xj.rnnt_loss_pruned(logits=lg, symbols=symbols, ranges=ranges,
                                   termination_symbol=0, reduction="sum")

    def pruned_logprobs_only(lg):
        px, py = xj.get_rnnt_logprobs_pruned(logits=lg, symbols=symbols, ranges=ranges,
                                             termination_symbol=0)
        return jnp.sum(jnp.where(jnp.isfinite(px), px, 0)) + jnp.sum(jnp.where(
            jnp.isfinite(py), py, 0))

    def log_softmax_only(lg):
        return jnp.sum(jax.nn.log_softmax(lg, -1)[..., 0])

    g2 = lambda f: jax.value_and_grad(f, argnums=(0, 1))  # noqa: E731
    rows = {
        "simple loss fwd+bwd": median_ms(g2(simple), (am, lm)),
        "  recursion alone fwd+bwd": median_ms(g2(recursion), (px, py)),
        "  logprobs alone fwd+bwd (gather)": median_ms(g2(logprobs_only), (am, lm)),
        "  logprobs alone fwd+bwd (one-hot matmul)": median_ms(g2(onehot_only), (am, lm)),
        "simple loss with one-hot logprobs": median_ms(g2(simple_onehot), (am, lm)),
        "pruned loss fwd+bwd": median_ms(jax.value_and_grad(pruned), (logits,)),
        "  pruned logprobs alone fwd+bwd": median_ms(jax.value_and_grad(pruned_logprobs_only),
                                                     (logits,)),
        "  log_softmax alone fwd+bwd": median_ms(jax.value_and_grad(log_softmax_only),
                                                 (logits,)),
        "prune ranges": median_ms(lambda a, b: xj.get_rnnt_prune_ranges(
            px_grad=a, py_grad=b, boundary=None, s_range=5), (gx, gy)),
    }
    print(f"{jax.devices()[0].device_kind}, jax {jax.__version__}, B,T,S,V = {B},{T},{S},{V}; "
          f"one-hot px max abs diff {err:.2e}")
    for name, ms in rows.items():
        print(f"{name:<45} {ms:8.3f} ms")
    with open(args.json, "w") as f:
        json.dump({"device": jax.devices()[0].device_kind, "shape": [B, T, S, V],
                   "onehot_max_abs_diff": err, "ms": rows}, f, indent=1)


if __name__ == "__main__":
    main()
