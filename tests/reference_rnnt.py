"""Float64 NumPy oracle for the RNN-T losses (fast_rnnt 1.3 semantics).

Independent of xla_rnnt's fast path: every loss is a dynamic program over the
(s, t) lattice built from per-node log-probabilities -- log_softmax of the
joiner output at node (s, t) -- with an explicit edge list:

  blank:  (s, t) -> (s, t+1)                       lp[t, s, blank]
  symbol: (s, t) -> (s+1, t)      regular          lp[t, s, y_s]
          (s, t) -> (s+1, t+1)    modified         lp[t, s, y_s]
          (s, t) -> (s+1, t+1)    constrained      lp[t, s, y_s] + lp[t, s+1, blank]

plus delay_penalty * ((t_end - 1) / 2 - t) on every symbol edge at frame t
(when delay_penalty > 0). The loss options: node log-probabilities of the HAT
factorisation (node_logprobs_hat, k2's use_hat_loss) or taken as given
(fused_log_softmax=False); FastEmit's gradient as the exact gradient of a
modified objective (fastemit_emission_lps: the symbol edges read a separate
table whose variation is scaled by 1 + lambda); torchaudio's clamp
(clamped_gradient). Paths go from (s_begin, t_begin) to (s_end, t_end)
and stay inside that box; symbols are only emitted on frames t < t_end.
brute_force_* enumerate the alignments instead. Written for clarity, not speed.
"""

import itertools
import math

import numpy as np


def log_softmax(x, axis=-1):
    x = np.asarray(x, np.float64)
    m = np.max(x, axis=axis, keepdims=True)
    return x - m - np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True))


def logsumexp_list(values):
    values = [v for v in values if v != -np.inf]
    if not values:
        return -np.inf
    m = max(values)
    return m + math.log(sum(math.exp(v - m) for v in values))


def rows(boundary, B, S, T):
    if boundary is None:
        return [(0, 0, S, T)] * B
    return [tuple(int(v) for v in r) for r in np.asarray(boundary)]


# ---------------------------------------------------------------------------
# Per-node log-probabilities lp[t, s, c] for one item.


def node_logprobs_joint(logits_b):
    """logits_b [T, S+1, C] -> lp [T, S+1, C]."""
    return log_softmax(logits_b, axis=-1)


def log_sigmoid(x):
    x = np.asarray(x, np.float64)
    return np.minimum(x, 0.0) - np.log1p(np.exp(-np.abs(x)))


def node_logprobs_hat(logits_b, blank):
    """HAT (k2's get_hat_logprobs_pruned, blank at any index): lp[..., blank]
    = log_sigmoid(blank logit); lp[..., c != blank] = log_softmax over the
    non-blank logits at c + log_sigmoid(-blank logit) (= log(1 - sigmoid))."""
    x = np.asarray(logits_b, np.float64)
    nonblank = np.delete(x, blank, axis=-1)
    m = np.max(nonblank, axis=-1, keepdims=True)
    norm = m + np.log(np.sum(np.exp(nonblank - m), axis=-1, keepdims=True))
    lp = x - norm + log_sigmoid(-x[..., blank : blank + 1])
    lp[..., blank] = log_sigmoid(x[..., blank])
    return lp


def node_logprobs_given(logprobs_b):
    """fused_log_softmax=False: the inputs are the log-probabilities."""
    return np.asarray(logprobs_b, np.float64).copy()


NODE_LOGPROBS = {
    "softmax": lambda x, blank: log_softmax(x, axis=-1),
    "hat": node_logprobs_hat,
    "given": lambda x, blank: node_logprobs_given(x),
}


def node_logprobs_simple(lm_b, am_b):
    """lm_b [S+1, C], am_b [T, C]: joiner lm[s] + am[t]."""
    lm_b, am_b = np.asarray(lm_b, np.float64), np.asarray(am_b, np.float64)
    return log_softmax(am_b[:, None, :] + lm_b[None, :, :], axis=-1)


def unigram(lm):
    """The batch's "unigram" LM: softmax(lm) averaged over items and positions."""
    lm = np.asarray(lm, np.float64)
    probs = np.exp(log_softmax(lm, axis=-1))
    return probs.reshape(-1, probs.shape[-1]).mean(axis=0) + np.finfo(np.float64).tiny


def node_logprobs_smoothed(lm_b, am_b, uni, lm_only_scale, am_only_scale):
    """Interpolation of the joint, LM-only and AM-only (with unigram LM) log-probs."""
    lm_b, am_b = np.asarray(lm_b, np.float64), np.asarray(am_b, np.float64)
    T, S1 = am_b.shape[0], lm_b.shape[0]
    joint = node_logprobs_simple(lm_b, am_b)
    lm_only = np.broadcast_to(log_softmax(lm_b, axis=-1)[None], joint.shape)
    am_uni = am_b + np.log(uni)[None, :]  # [T, C]
    am_only = am_uni - np.log(np.sum(np.exp(am_b) * uni[None, :], axis=-1, keepdims=True))
    am_only = np.broadcast_to(am_only[:, None, :], (T, S1, am_b.shape[1]))
    combined = 1.0 - lm_only_scale - am_only_scale
    return combined * joint + lm_only_scale * lm_only + am_only_scale * am_only


def node_logprobs_pruned(logits_b, ranges_b, S, kind="softmax", blank=0):
    """logits_b [T, R, C] on the window ranges_b[t] = s_begin[t] + (0..R-1);
    lp[t, s] = the log-probabilities (NODE_LOGPROBS[kind]) of the window
    entry of s, -inf outside the window."""
    T, R, C = logits_b.shape
    lp = np.full((T, S + 1, C), -np.inf)
    for t in range(T):
        for k in range(R):
            s = int(ranges_b[t, k])
            lp[t, s] = NODE_LOGPROBS[kind](logits_b[t, k], blank)
    return lp


# ---------------------------------------------------------------------------
# The lattice for one item.


def edges(lp, symbols_b, blank, row, rnnt_type, delay_penalty, emit_lp=None):
    """{(s, t): [(next_s, next_t, log-weight, is_symbol)]} inside the box `row`.

    emit_lp: the table the symbol edges read (default lp), see
    fastemit_emission_lps."""
    emit = lp if emit_lp is None else emit_lp
    s0, t0, s1, t1 = row
    out = {}
    for s in range(s0, s1 + 1):
        for t in range(t0, t1 + 1):
            moves = []
            if t < t1:
                moves.append((s, t + 1, lp[t, s, blank], False))
            if s < s1 and t < t1:
                w = emit[t, s, int(symbols_b[s])]
                if rnnt_type == "constrained":
                    w = w + emit[t, s + 1, blank]
                if delay_penalty > 0:
                    w = w + delay_penalty * ((t1 - 1) / 2.0 - t)
                nt = t if rnnt_type == "regular" else t + 1
                moves.append((s + 1, nt, w, True))
            out[(s, t)] = moves
    return out


def lattice(lp, symbols_b, blank, row, rnnt_type, delay_penalty=0.0, emit_lp=None):
    """(log-score, px_grad, py_grad) of one item by forward-backward.

    px_grad[s, t] / py_grad[s, t] are the posterior probabilities of the
    symbol / blank edge leaving (s, t) (the occupations fast_rnnt returns);
    px_grad has T+1 columns for "regular" and T otherwise."""
    T, S1 = lp.shape[0], lp.shape[1]
    S = S1 - 1
    s0, t0, s1, t1 = row
    E = edges(lp, symbols_b, blank, row, rnnt_type, delay_penalty, emit_lp)
    order = sorted(E, key=lambda c: (c[1], c[0]))  # predecessors come first
    alpha = {c: -np.inf for c in E}
    alpha[(s0, t0)] = 0.0
    for c in order:
        for ns, nt, w, _ in E[c]:
            alpha[(ns, nt)] = logsumexp_list([alpha[(ns, nt)], alpha[c] + w])
    beta = {c: -np.inf for c in E}
    beta[(s1, t1)] = 0.0
    for c in reversed(order):
        if c != (s1, t1):
            beta[c] = logsumexp_list([w + beta[(ns, nt)] for ns, nt, w, _ in E[c]])
    total = alpha[(s1, t1)]
    px_grad = np.zeros((S, T + 1 if rnnt_type == "regular" else T))
    py_grad = np.zeros((S + 1, T))
    if total > -np.inf:
        for (s, t), moves in E.items():
            for ns, nt, w, is_symbol in moves:
                occ = (
                    math.exp(alpha[(s, t)] + w + beta[(ns, nt)] - total)
                    if alpha[(s, t)] > -np.inf and beta[(ns, nt)] > -np.inf
                    else 0.0
                )
                (px_grad if is_symbol else py_grad)[s, t] = occ
    return total, px_grad, py_grad


def brute_force(lp, symbols_b, blank, row, rnnt_type, delay_penalty=0.0):
    """log sum over every alignment (sequence of moves) of its weight."""
    s0, t0, s1, t1 = row
    n_sym = s1 - s0
    n_blank = (t1 - t0) - (0 if rnnt_type == "regular" else n_sym)
    if n_blank < 0:
        return -np.inf
    weights = []
    for picks in itertools.combinations(range(n_sym + n_blank), n_sym):
        s, t, w, ok = s0, t0, 0.0, True
        for k in range(n_sym + n_blank):
            if k in picks:
                if t >= t1:  # no symbol on the one-past-the-last frame
                    ok = False
                    break
                w += lp[t, s, int(symbols_b[s])]
                if rnnt_type == "constrained":
                    w += lp[t, s + 1, blank]
                if delay_penalty > 0:
                    w += delay_penalty * ((t1 - 1) / 2.0 - t)
                s, t = s + 1, t + (0 if rnnt_type == "regular" else 1)
            else:
                w += lp[t, s, blank]
                t += 1
        if ok:
            weights.append(w)
    return logsumexp_list(weights)


# ---------------------------------------------------------------------------
# Losses (reduction "none": -log-score per item) and occupations.


def _items(
    node_lps, symbols, blank, boundary, rnnt_type, delay_penalty, fn=lattice, emit_lps=None
):
    B, S = np.asarray(symbols).shape
    T = node_lps[0].shape[0]
    out = []
    for b, row in enumerate(rows(boundary, B, S, T)):
        extra = {} if emit_lps is None else {"emit_lp": emit_lps[b]}
        out.append(fn(node_lps[b], symbols[b], blank, row, rnnt_type, delay_penalty, **extra))
    return out


def fastemit_emission_lps(node_lps, base_lps, fastemit_lambda):
    """The table the symbol edges read for FastEmit's objective: base +
    (1 + lambda) * (lps - base), -inf where base is -inf (no arc).

    With base_lps fixed at the evaluation point, the derivative of
    loss_from_lps(node_lps, ..., emit_lps=this) w.r.t. the inputs there is
    FastEmit's gradient (emission arcs x (1 + lambda), blank arcs x 1) and its
    value the plain loss: finite differences of it are the reference."""
    out = []
    for lp, base in zip(node_lps, base_lps):
        live = np.isfinite(base)
        with np.errstate(invalid="ignore"):  # -inf - -inf where there is no arc
            change = np.where(live, lp - base, 0.0)
        out.append(np.where(live, base + (1.0 + fastemit_lambda) * change, -np.inf))
    return out


def clamped_gradient(item_gradient, clamp, weight):
    """torchaudio's clamp: each item's gradient d loss_b / d logits[b] clipped to
    [-clamp, clamp], then scaled by the reduction's weight (1/B for "mean")."""
    return weight * np.clip(item_gradient, -clamp, clamp)


def loss_from_lps(
    node_lps,
    symbols,
    blank,
    boundary=None,
    rnnt_type="regular",
    delay_penalty=0.0,
    brute=False,
    emit_lps=None,
):
    res = _items(
        node_lps,
        symbols,
        blank,
        boundary,
        rnnt_type,
        delay_penalty,
        brute_force if brute else lattice,
        emit_lps,
    )
    return -np.array([r if brute else r[0] for r in res])


def occupations_from_lps(
    node_lps, symbols, blank, boundary=None, rnnt_type="regular", delay_penalty=0.0
):
    res = _items(node_lps, symbols, blank, boundary, rnnt_type, delay_penalty)
    return np.stack([r[1] for r in res]), np.stack([r[2] for r in res])


def lps_joint(logits, kind="softmax", blank=0):
    return [NODE_LOGPROBS[kind](x, blank) for x in np.asarray(logits, np.float64)]


def lps_simple(lm, am):
    return [node_logprobs_simple(l, a) for l, a in zip(lm, am)]


def lps_smoothed(lm, am, lm_only_scale, am_only_scale):
    uni = unigram(lm)
    return [
        node_logprobs_smoothed(l, a, uni, lm_only_scale, am_only_scale) for l, a in zip(lm, am)
    ]


def lps_pruned(logits, ranges, S, kind="softmax", blank=0):
    return [
        node_logprobs_pruned(x, r, S, kind, blank)
        for x, r in zip(np.asarray(logits, np.float64), np.asarray(ranges))
    ]


def reduce(loss, reduction):
    return {"none": loss, "mean": np.mean(loss), "sum": np.sum(loss)}[reduction]


# ---------------------------------------------------------------------------
# Pruning ranges, with plain loops.


def effective_s_range(S, T, regular, s_range):
    if regular and S >= 1 and T >= 1:
        s_range = max(s_range, math.ceil(S / T) + 1)
    return min(s_range, S + 1)


def prune_ranges(px_grad, py_grad, boundary, s_range):
    px_grad, py_grad = np.asarray(px_grad, np.float64), np.asarray(py_grad, np.float64)
    B, S, T1 = px_grad.shape
    T = py_grad.shape[2]
    regular = T1 == T + 1
    R = effective_s_range(S, T, regular, s_range)
    step = R if regular else 2
    out = np.zeros((B, T, R), np.int64)
    for b, (_, _, s_end, t_end) in enumerate(rows(boundary, B, S, T)):
        begin = np.zeros(T, np.int64)
        for t in range(T):
            if t >= t_end - 1:
                begin[t] = max(s_end - R + 1, 0)
                continue
            best, best_k = None, 0
            for k in range(S + 2 - R):
                score = py_grad[b, k, t]
                for j in range(1, R):
                    score = score + py_grad[b, k + j, t]
                score = score - (px_grad[b, k - 1, t] if k > 0 else 0.0)
                if best is None or score > best:
                    best, best_k = score, k
            begin[t] = best_k
        for t in reversed(range(T - 1)):  # non-decreasing: running minimum from the end
            begin[t] = min(begin[t], begin[t + 1])
        for t in reversed(range(T - 1)):  # rise < step per frame: lift earlier frames
            begin[t] = max(begin[t], begin[t + 1] - (step - 1))
        for t in range(T):  # reachable from s = 0 at frame 0
            begin[t] = min(begin[t], (step - 1) * t)
        out[b] = begin[:, None] + np.arange(R)[None, :]
    return out
