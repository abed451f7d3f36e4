"""Float64 NumPy oracle for the mutual-information recursion.

Written for clarity, not speed, and independently of the kernels: the forward
pass is a plain dynamic program, the gradients come from a separate backward
(beta) recursion, and brute_force_scores enumerates every monotone path.
"""

import itertools

import numpy as np


def full_boundary(B, S, T):
    return np.tile(np.array([[0, 0, S, T]], dtype=np.int64), (B, 1))


def _logsumexp(values):
    values = [v for v in values if v != -np.inf]
    if not values:
        return -np.inf
    m = max(values)
    return m + np.log(sum(np.exp(v - m) for v in values))


def _moves(px, py, modified, s, t):
    """Successors of (s, t): [(next_s, next_t, log-weight)]."""
    out = []
    if s < px.shape[0] and t < px.shape[1]:
        out.append((s + 1, t + 1 if modified else t, px[s, t]))
    if t < py.shape[1]:
        out.append((s, t + 1, py[s, t]))
    return out


def _item(px, py, row, modified):
    s0, t0, s1, t1 = (int(v) for v in row)
    inside = lambda s, t: s0 <= s <= s1 and t0 <= t <= t1  # noqa: E731
    cells = [(s, t) for s in range(s0, s1 + 1) for t in range(t0, t1 + 1)]
    alpha = {c: -np.inf for c in cells}
    alpha[(s0, t0)] = 0.0
    for s, t in sorted(cells, key=lambda c: c[0] + c[1]):
        for ns, nt, w in _moves(px, py, modified, s, t):
            if inside(ns, nt):
                alpha[(ns, nt)] = _logsumexp([alpha[(ns, nt)], alpha[(s, t)] + w])
    beta = {c: -np.inf for c in cells}
    beta[(s1, t1)] = 0.0
    for s, t in sorted(cells, key=lambda c: -(c[0] + c[1])):
        if (s, t) == (s1, t1):
            continue
        beta[(s, t)] = _logsumexp(
            [w + beta[(ns, nt)] for ns, nt, w in _moves(px, py, modified, s, t) if inside(ns, nt)]
        )
    total = alpha[(s1, t1)]
    px_grad, py_grad = np.zeros_like(px), np.zeros_like(py)
    if total != -np.inf:
        for s, t in cells:
            for ns, nt, w in _moves(px, py, modified, s, t):
                if inside(ns, nt):
                    occ = np.exp(alpha[(s, t)] + w + beta[(ns, nt)] - total)
                    if ns == s:
                        py_grad[s, t] = occ
                    else:
                        px_grad[s, t] = occ
    return total, px_grad, py_grad


def mutual_information(px, py, boundary=None):
    """Returns (scores [B], px_grad, py_grad) in float64."""
    px, py = np.asarray(px, np.float64), np.asarray(py, np.float64)
    B, S, T = py.shape[0], py.shape[1] - 1, py.shape[2]
    modified = px.shape[2] == T
    boundary = full_boundary(B, S, T) if boundary is None else np.asarray(boundary)
    scores = np.zeros(B)
    px_grad, py_grad = np.zeros_like(px), np.zeros_like(py)
    for b in range(B):
        scores[b], px_grad[b], py_grad[b] = _item(px[b], py[b], boundary[b], modified)
    return scores, px_grad, py_grad


def brute_force_scores(px, py, boundary=None):
    """log sum over all monotone paths of exp(path weight), by enumeration."""
    px, py = np.asarray(px, np.float64), np.asarray(py, np.float64)
    B, S, T = py.shape[0], py.shape[1] - 1, py.shape[2]
    modified = px.shape[2] == T
    boundary = full_boundary(B, S, T) if boundary is None else np.asarray(boundary)
    out = np.zeros(B)
    for b in range(B):
        s0, t0, s1, t1 = (int(v) for v in boundary[b])
        n_x = s1 - s0
        n_y = (t1 - t0) - (n_x if modified else 0)
        weights = []
        if n_y >= 0:
            for xs in itertools.combinations(range(n_x + n_y), n_x):
                s, t, w = s0, t0, 0.0
                for k in range(n_x + n_y):
                    if k in xs:
                        w += px[b, s, t]
                        s, t = s + 1, t + (1 if modified else 0)
                    else:
                        w += py[b, s, t]
                        t += 1
                weights.append(w)
        out[b] = _logsumexp(weights)
    return out


def random_boundary(rng, B, S, T, modified=False):
    """Ragged rows with random begins and ends inside [S+1, T+1]."""
    rows = []
    for _ in range(B):
        s0 = int(rng.integers(0, S + 1))
        s1 = int(rng.integers(s0, S + 1))
        t0 = int(rng.integers(0, T + 1))
        t1 = int(rng.integers(t0, T + 1))
        if modified and s1 - s0 > t1 - t0:  # keep most items feasible
            s1 = s0 + (t1 - t0)
        rows.append((s0, t0, s1, t1))
    return np.array(rows, dtype=np.int64)


def logsoftmax_gather(logits, symbols, blank):
    """float64 oracle of cc/logsoftmax_gather.h: (px, py, logits_grad_fn)."""
    x = np.asarray(logits, np.float64)
    C = x.shape[-1]
    m = x.max(axis=-1, keepdims=True) if C else np.zeros(x.shape[:-1] + (1,))
    m = np.where(np.isfinite(m), m, 0.0)  # all -inf rows: normalizer 0
    with np.errstate(divide="ignore"):
        norm = np.log(np.exp(x - m).sum(axis=-1)) + m[..., 0]
    norm = np.where(np.isfinite(norm), norm, 0.0)
    sym = np.asarray(symbols)
    valid = (sym >= 0) & (sym < C)
    px = np.where(
        valid,
        np.take_along_axis(x, np.where(valid, sym, 0)[..., None], -1)[..., 0] - norm,
        -np.inf,
    )
    py = x[..., blank] - norm

    def grad(px_grad, py_grad):
        gx, gy = np.asarray(px_grad, np.float64), np.asarray(py_grad, np.float64)
        out = -(gx + gy)[..., None] * np.exp(x - norm[..., None])
        classes = np.arange(C)
        out += np.where(classes == sym[..., None], gx[..., None], 0.0)
        out += np.where(classes == blank, gy[..., None], 0.0)
        return out

    return px, py, grad


def _log_sigmoid(x):
    return np.minimum(x, 0.0) - np.log1p(np.exp(-np.abs(x)))


def hat_logsoftmax_gather(logits, symbols, blank):
    """float64 oracle of the hat variant of cc/logsoftmax_gather.h: (px, py,
    normalizers, logits_grad_fn). py = log_sigmoid(blank logit); px = the
    symbol's log-softmax over the non-blank logits + log_sigmoid(-blank
    logit), py for a symbol equal to the blank, -inf outside [0, C); rows
    whose non-blank logits are all -inf have normalizer 0. The gradient is
    built from the Jacobian rows of the node log-probabilities."""
    x = np.asarray(logits, np.float64)
    C = x.shape[-1]
    is_blank = np.arange(C) == blank
    nonblank = np.where(is_blank, -np.inf, x)
    m = nonblank.max(axis=-1, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        norm = np.log(np.exp(nonblank - m).sum(axis=-1)) + m[..., 0]
    norm = np.where(np.isfinite(norm), norm, 0.0)
    blank_logit = x[..., blank]
    sym = np.asarray(symbols)
    valid = (sym >= 0) & (sym < C)
    gathered = np.take_along_axis(x, np.where(valid, sym, 0)[..., None], -1)[..., 0]
    py = _log_sigmoid(blank_logit)
    px = np.where(valid, gathered - norm + _log_sigmoid(-blank_logit), -np.inf)
    px = np.where(sym == blank, py, px)

    def grad(px_grad, py_grad):
        gx, gy = np.asarray(px_grad, np.float64), np.asarray(py_grad, np.float64)
        probs = np.exp(nonblank - norm[..., None])  # the non-blank softmax, 0 at the blank
        sigmoid = np.exp(_log_sigmoid(blank_logit))[..., None]
        # d py / d x: sigmoid(-blank logit) at the blank, 0 elsewhere.
        d_py = np.where(is_blank, np.exp(_log_sigmoid(-blank_logit))[..., None], 0.0)
        # d px / d x for a non-blank symbol: one-hot - softmax, -sigmoid at the blank.
        one_hot = np.arange(C) == sym[..., None]
        d_symbol = np.where(is_blank, -sigmoid, one_hot - probs)
        d_px = np.where((sym == blank)[..., None], d_py, d_symbol)
        return gx[..., None] * d_px + gy[..., None] * d_py

    return px, py, norm, grad
