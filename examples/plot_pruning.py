"""Plots the simple loss's occupation probabilities over the (t, s) lattice,
with the pruning bounds of get_rnnt_prune_ranges on top: the picture that
explains the pruned RNN-T loss. Saves a PNG.

  python examples/plot_pruning.py --out pruning.png
"""

import json
import logging

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from absl import app, flags  # noqa: E402

import xla_rnnt.jax as xj  # noqa: E402

OUT = flags.DEFINE_string("out", "pruning.png", "PNG file to write")
S_RANGE = flags.DEFINE_integer("s_range", 4, "symbols kept per frame")
JSON = flags.DEFINE_string("json", None, "write the ranges here (for tests)")


def aligned_inputs(T=60, S=20, V=30, seed=0):
    """am/lm whose most likely alignment emits symbol s around frame s*T/S,
    with blurred, noisy evidence, like a partly trained model."""
    rng = np.random.default_rng(seed)
    symbols = rng.integers(1, V, (1, S))
    am = 0.5 * rng.standard_normal((1, T, V))
    for s in range(S):
        centre = (s + 0.5) * T / S + 2.0 * np.sin(s)
        am[0, :, symbols[0, s]] += 4.0 * np.exp(-0.5 * ((np.arange(T) - centre) / 2.5) ** 2)
    am[0, :, 0] += 1.5  # blank
    lm = 0.5 * rng.standard_normal((1, S + 1, V))
    return am.astype(np.float32), lm.astype(np.float32), symbols


def main(_):
    logging.getLogger("jax").setLevel(logging.WARNING)  # absl would show JAX's INFO lines
    am, lm, symbols = aligned_inputs()
    T, S = am.shape[1], symbols.shape[1]
    _, (px_grad, py_grad) = xj.rnnt_loss_simple(
        lm=lm, am=am, symbols=symbols, termination_symbol=0, return_grad=True
    )
    ranges = np.asarray(
        xj.get_rnnt_prune_ranges(
            px_grad=px_grad, py_grad=py_grad, boundary=None, s_range=S_RANGE.value
        )
    )[0]
    occupancy = np.asarray(px_grad)[0, :, :T]
    occupancy = np.concatenate([occupancy, np.zeros((1, T))], 0) + np.asarray(py_grad)[0]

    fig, ax = plt.subplots(figsize=(10, 4))
    image = ax.imshow(
        occupancy,
        origin="lower",
        aspect="auto",
        cmap="viridis",
        extent=(-0.5, T - 0.5, -0.5, S + 0.5),
    )
    frames = np.arange(T)
    ax.step(frames, ranges[:, 0] - 0.5, where="mid", color="white", lw=1.5, label="pruning bounds")
    ax.step(frames, ranges[:, -1] + 0.5, where="mid", color="white", lw=1.5)
    ax.set_xlabel("frame t")
    ax.set_ylabel("symbol position s")
    ax.set_title(f"simple-loss occupation of the (t, s) lattice, s_range = {ranges.shape[1]}")
    fig.colorbar(image, ax=ax, label="occupation probability")
    ax.legend(loc="upper left")
    fig.tight_layout()
    fig.savefig(OUT.value, dpi=100)
    inside = sum(occupancy[ranges[t, 0] : ranges[t, -1] + 1, t].sum() for t in range(T))
    print(
        f"wrote {OUT.value}: {inside / occupancy.sum():.1%} of the occupation lies inside "
        "the pruning bounds"
    )
    if JSON.value:
        with open(JSON.value, "w") as f:
            json.dump({"ranges": ranges.tolist(), "inside": inside / occupancy.sum()}, f)


if __name__ == "__main__":
    app.run(main)
