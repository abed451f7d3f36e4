"""The backward passes of the pipeline's three gathers alone, JAX (jit), in
their candidate formulations: the number a GPU run must redo
(notes/scatter_free_gradients.md). ms, min and median over rounds of the
median of back-to-back calls (benchmarks/timing.py), float32, s_range 5,
J = V:

  (a) lm [B, S+1, J] at the windows [B, T, R] (do_rnnt_pruning): scatter
      (autodiff) | the gather-rows custom call (the adapter's, float32/64) |
      one-hot matmul [S+1, T*R] @ [T*R, J]
  (b) lm [B, S, V] at the symbols (take_along_last): scatter | select (adapter)
  (c) am [B, T, V] at the symbols [B, S] (gather_batched): scatter | equal-
      symbol sums + gather (adapter) | one-hot matmul [V, S] @ [S, T]

  XLA_RNNT_LIBRARY=build/dev/libxla_rnnt.so PYTHONPATH=. \\
    python benchmarks/benchmark_gather_grads.py --shapes 32,500,100,500
"""

import argparse

import jax
import jax.numpy as jnp
import numpy as np
import timing

from xla_rnnt.jax import _ops

R = 5


def _vjp(gather):
    """(x, cotangent) -> d <gather(x), cotangent> / d x, jitted."""
    return jax.jit(lambda x, g: jax.vjp(gather, x)[1](g)[0])


def _one_hot(idx, n, dtype):
    """[B, n, I] 0/1 rows of idx [B, I]."""
    return (idx[:, None, :] == jnp.arange(n, dtype=idx.dtype)[None, :, None]).astype(dtype)


def window_cases(rng, B, T, S, V):
    start = np.sort(rng.integers(0, S + 2 - R, (B, T)), axis=1)
    start[:, 0] = 0
    ranges = jnp.asarray(start[:, :, None] + np.arange(R), jnp.int32)
    lm = jnp.asarray(rng.standard_normal((B, S + 1, V)), jnp.float32)
    g = jnp.asarray(rng.standard_normal((B, T, R, V)), jnp.float32)

    def one_hot_matmul(lm, g):
        flat = jnp.reshape(g, (B, T * R, V))
        return _ops.matmul(_one_hot(jnp.reshape(ranges, (B, -1)), S + 1, g.dtype), flat)

    return {
        "scatter": _vjp(lambda x: _ops._gather_batched_plain(x, ranges, 1)),
        "gather-rows call": _vjp(lambda x: _ops._gather_rows(x, ranges)),
        "one-hot matmul": jax.jit(one_hot_matmul),
    }, (lm, g)


def lm_symbol_cases(rng, B, T, S, V, symbols):
    lm = jnp.asarray(rng.standard_normal((B, S, V)), jnp.float32)
    g = jnp.asarray(rng.standard_normal((B, S, 1)), jnp.float32)
    idx = symbols[:, :, None]
    return {
        "scatter": _vjp(lambda x: jnp.take_along_axis(x, idx, axis=-1)),
        "select": _vjp(lambda x: _ops.take_along_last(x, idx)),
    }, (lm, g)


def am_symbol_cases(rng, B, T, S, V, symbols):
    am = jnp.asarray(rng.standard_normal((B, T, V)), jnp.float32)
    g = jnp.asarray(rng.standard_normal((B, T, S)), jnp.float32)

    def one_hot_matmul(am, g):
        dx = _ops.matmul(_one_hot(symbols, V, g.dtype), jnp.transpose(g, (0, 2, 1)))
        return jnp.transpose(dx, (0, 2, 1))

    return {
        "scatter": _vjp(lambda x: _ops._gather_batched_plain(x, symbols, 2)),
        "sums + gather": _vjp(lambda x: _ops.gather_batched(x, symbols, 2)),
        "one-hot matmul": jax.jit(one_hot_matmul),
    }, (am, g)


def compare(fns, args, rounds):
    want = np.asarray(next(iter(fns.values()))(*args))
    medians = {name: [] for name in fns}
    for name, fn in fns.items():
        got = np.asarray(fn(*args))
        err = np.abs(got - want).max() / max(np.abs(want).max(), 1e-30)
        assert err < 1e-5, (name, err)
    for _ in range(rounds):
        for name, fn in fns.items():
            medians[name].append(timing.median_ms(fn, args, warmup=1, reps=10))
    return {name: (min(m), float(np.median(m))) for name, m in medians.items()}


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--shapes", nargs="+", default=["4,100,20,64", "8,200,40,128", "16,150,30,256"]
    )
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    print(f"backend {jax.default_backend()}")
    print(f"{'(B,T,S,V)':>18} {'gather':>10} {'formulation':>16} {'min ms':>9} {'median':>9}")
    for text in args.shapes:
        B, T, S, V = (int(v) for v in text.split(","))
        rng = np.random.default_rng(0)
        symbols = jnp.asarray(rng.integers(1, V, (B, S)), jnp.int32)
        for gather, (fns, inputs) in (
            ("(a) window", window_cases(rng, B, T, S, V)),
            ("(b) lm sym", lm_symbol_cases(rng, B, T, S, V, symbols)),
            ("(c) am sym", am_symbol_cases(rng, B, T, S, V, symbols)),
        ):
            for name, (best, median) in compare(fns, inputs, args.rounds).items():
                print(f"{str((B, T, S, V)):>18} {gather:>10} {name:>16} {best:9.3f} {median:9.3f}")


if __name__ == "__main__":
    main()
