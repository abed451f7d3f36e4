"""+inf and NaN log-probabilities inside a lattice: inputs and the contract.

The contract (README, "What is defined for odd input"): an item whose px or py
holds +inf or NaN inside its boundary box has a non-finite score (NaN, or +inf
where the value only ever adds up) and zero gradients; the other items are as
if the bad ones were not there. Every recursion kernel keeps it: the CPU's
log-domain one and, on GPUs, the wavefront and the row scan (whose composed
maps turn inf * 0 into NaN where a sequential walk would stay at +inf; hence
"NaN, or +inf").
"""

import numpy as np
import reference


def inputs(rng, B, S, T, modified, dtype):
    """(px, py, boundary, bad): items 0 .. B-2 get one +inf or NaN entry each,
    in px or py, on some path of their lattice; the last item stays clean."""
    px = rng.standard_normal((B, S, T if modified else T + 1)).astype(dtype)
    py = rng.standard_normal((B, S + 1, T)).astype(dtype)
    s_end = rng.integers(0, S + 1, B)
    t_end = rng.integers(1, T + 1, B)
    if modified:
        s_end = np.minimum(s_end, t_end)  # feasible
    boundary = np.stack([np.zeros(B, np.int64), np.zeros(B, np.int64), s_end, t_end], 1)
    # With finite inputs an entry is on a path exactly where its occupation
    # (the oracle's gradient) is non-zero; others (e.g. modified lattices'
    # cells above the diagonal) are never read into the score.
    _, on_px, on_py = reference.mutual_information(px, py, boundary)
    bad = np.arange(B) < B - 1
    for b in np.flatnonzero(bad):
        value = np.inf if b % 2 == 0 else np.nan
        cells = [(px, i) for i in np.argwhere(on_px[b] != 0)]
        cells += [(py, i) for i in np.argwhere(on_py[b] != 0)]
        array, (s, t) = cells[rng.integers(len(cells))]
        array[b, s, t] = value
    return px, py, boundary, bad


def check(scores, px_grad, py_grad, bad, px, py, boundary):
    """The contract on one run's results (gradients of sum(scores)); the clean
    items' scores and gradients are the float64 oracle's."""
    scores, px_grad, py_grad = (np.asarray(a, np.float64) for a in (scores, px_grad, py_grad))
    assert not np.isfinite(scores[bad]).any(), scores
    assert not np.isneginf(scores[bad]).any(), scores
    assert not px_grad[bad].any() and not py_grad[bad].any()
    ok = ~bad
    want, want_gx, want_gy = reference.mutual_information(px[ok], py[ok], boundary[ok])
    np.testing.assert_allclose(scores[ok], want, rtol=1e-5, atol=1e-5)
    scale = max(1.0, np.abs(want_gx).max(initial=0), np.abs(want_gy).max(initial=0))
    np.testing.assert_allclose(px_grad[ok], want_gx, rtol=0, atol=1e-5 * scale)
    np.testing.assert_allclose(py_grad[ok], want_gy, rtol=0, atol=1e-5 * scale)
