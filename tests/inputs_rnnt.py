"""Random inputs of the RNN-T loss tests, framework-free (NumPy only), shared
by the TF and JAX test files."""

import numpy as np


def sizes(rng, max_b=3, max_s=4, max_t=5, max_c=5):
    B = int(rng.integers(1, max_b + 1))
    S = int(rng.integers(0, max_s + 1))
    T = int(rng.integers(max(S, 1), max(S, 1) + max_t))  # T >= S: every type is feasible
    C = int(rng.integers(2, max_c + 1))
    return B, S, T, C


def symbols_and_blank(rng, B, S, C):
    blank = int(rng.integers(0, C))
    symbols = rng.integers(0, C - 1, (B, S))
    symbols = symbols + (symbols >= blank)  # never the blank
    return symbols.astype(np.int64), blank


def simple_inputs(rng, B, S, T, C, scale=1.0):
    lm = scale * rng.standard_normal((B, S + 1, C))
    am = scale * rng.standard_normal((B, T, C))
    return lm, am


def length_boundary(rng, B, S, T, rnnt_type):
    """(0, 0, s_end, t_end) rows with s_end <= t_end (feasible for every type)."""
    t_end = rng.integers(0, T + 1, B)
    s_end = np.array([rng.integers(0, min(S, t) + 1) for t in t_end])
    s_end[0], t_end[0] = S, T  # one item uses the whole lattice
    return np.stack([np.zeros(B), np.zeros(B), s_end, t_end], 1).astype(np.int64)


def box_boundary(rng, B, S, T):
    """General boxes (s_begin, t_begin, s_end, t_end), feasible for every type."""
    out = []
    for _ in range(B):
        t0 = int(rng.integers(0, T + 1))
        t1 = int(rng.integers(t0, T + 1))
        s0 = int(rng.integers(0, S + 1))
        s1 = int(rng.integers(s0, min(S, s0 + t1 - t0) + 1))
        out.append((s0, t0, s1, t1))
    return np.array(out, np.int64)


def any_boundary(rng, B, S, T, rnnt_type):
    kind = int(rng.integers(0, 3))
    return [None, length_boundary(rng, B, S, T, rnnt_type), box_boundary(rng, B, S, T)][kind]


def pruning_inputs(rng, B, S, T, C):
    """Logits [B, T, R, C] on consecutive windows of R positions (valid ranges)."""
    R = int(rng.integers(min(2, S + 1), S + 2))
    begin = np.sort(rng.integers(0, S + 2 - R, (B, T)), axis=1)
    begin[:, 0] = 0
    ranges = (begin[:, :, None] + np.arange(R)).astype(np.int32)
    return 2.0 * rng.standard_normal((B, T, R, C)), ranges


def loss_case(rng, variant, rnnt_type):
    """Random inputs of one loss variant ("simple", "smoothed", "joint",
    "pruned"): dict(symbols, blank, boundary, ranges, arrays)."""
    B, S, T, C = sizes(rng)
    symbols, blank = symbols_and_blank(rng, B, S, C)
    boundary = any_boundary(rng, B, S, T, rnnt_type)
    ranges = None
    if variant in ("simple", "smoothed"):
        arrays = simple_inputs(rng, B, S, T, C, scale=2.0)
    elif variant == "joint":
        arrays = (2.0 * rng.standard_normal((B, T, S + 1, C)),)
    else:
        logits, ranges = pruning_inputs(rng, B, S, T, C)
        arrays = (logits,)
    return dict(
        symbols=symbols, blank=blank, boundary=boundary, ranges=ranges, arrays=tuple(arrays)
    )


def band_windows(rng, B, S, T, R):
    """starts [B, T] int32 of the band recursion's windows [starts, starts + R):
    per item, a non-decreasing path (a pruned loss's windows), the same with
    random jumps back and forth, or any values in [-R - 1, S + 2] (windows
    reaching outside [0, S])."""
    out = np.zeros((B, T), np.int64)
    for b in range(B):
        kind = int(rng.integers(0, 3))
        path = np.sort(rng.integers(0, max(S + 2 - R, 1), T))
        if kind == 0:
            out[b] = path
        elif kind == 1:
            out[b] = path + rng.integers(-2, 3, T) * (rng.random(T) < 0.4)
        else:
            out[b] = rng.integers(-R - 1, S + 3, T)
    return out.astype(np.int32)


def diagonal_windows(rng, B, S, T, R):
    """starts [B, T] int32 centred on each item's diagonal s = t * S / T (where
    long lattices keep a path), jumping by -2..2 on 10% of the frames; the
    last item's are any values in [-R - 1, S + 2]; the first item's hold a
    whole path of the lattice (path_windows), where R allows one."""
    diagonal = np.round(np.arange(T) * S / max(T, 1)).astype(np.int64) - R // 2
    jumps = rng.integers(-2, 3, (B, T)) * (rng.random((B, T)) < 0.1)
    out = np.clip(diagonal[None, :] + jumps, -2, S + 2)
    out[B - 1] = rng.integers(-R - 1, S + 3, T)
    out[0] = path_windows((0, 0, S, T), T, R)
    return out.astype(np.int32)


def path_windows(row, T, R):
    """starts [T] int32 of windows that hold the path of the box row (s_begin,
    t_begin, s_end, t_end) along its diagonal: each frame's window starts at
    the row the path enters it on, so an item with a box needing at most R - 1
    emissions per frame (regular; one for modified) keeps an alignment."""
    s0, t0, s1, t1 = (int(v) for v in row)
    frames = np.arange(T)
    steps = np.clip(frames - t0, 0, max(t1 - t0, 0))
    entry = s0 + (steps * (s1 - s0)) // max(t1 - t0, 1)
    return entry.astype(np.int32)
