"""The RNN-T loss family of fast_rnnt 1.3, written once for TF and JAX.

Every function takes a backend adapter ``ops`` first (``xla_rnnt.jax._ops`` or
``xla_rnnt.tf._ops``, both of the protocol ``xla_rnnt._ops_protocol.Ops``): a
small set of array operations plus the differentiable custom calls,
``ops.mi_scores`` / ``ops.mi_scores_and_grads`` (via ``_recursion``), their
band twins ``ops.band_scores`` / ``ops.band_scores_and_grads`` (the pruned
loss's recursion on its windows) and ``ops.logsoftmax_gather``
(the log-probabilities of the full and pruned losses, log-softmax or HAT,
from float32/float64 logits, one fused pass over them). Nothing here imports
a framework, and nothing loops in Python over T or B: the graphs are
closed-form (gathers, matmuls, reductions, log2(T) doubling steps for the
running minima), so they lower well under ``jax.jit`` and
``tf.function(jit_compile=True)``. S, T and the vocabulary size C must be
static; B may be unknown (TF), read through ``ops.batch_size``.

Conventions shared by every function (see fast_rnnt's ``rnnt_loss.py`` for the
method; these are its semantics, with the differences the README lists under
"What is defined for odd input"):

* the lattice has nodes (s, t), 0 <= s <= S, 0 <= t <= T; ``px[b, s, t]`` is the
  log-probability of emitting symbols[b, s] at node (s, t) and ``py[b, s, t]``
  that of the termination (blank) symbol; see ``mutual_information_recursion``.
* half-precision inputs (float16, bfloat16) are computed in float32: the
  normalizers, px/py and the recursion are float32 and so is the loss.
"""

import functools
import inspect
import warnings
from typing import Any, NamedTuple

import numpy as np

from . import _checks, _recursion, _targets
from ._ops_protocol import Ops

NEG_INF = float("-inf")
_HALF = _checks.HALF_DTYPES
_BIG = 2**30  # larger than any symbol index; padding for running minima


# --------------------------------------------------------------------------
# small helpers


def _compute(ops: Ops, x):
    """x in its compute dtype: float32 for half precision, else unchanged."""
    return ops.cast(x, "float32") if ops.dtype_name(x) in _HALF else x


def _tiny(ops: Ops, x):
    return float(np.finfo(np.dtype(ops.dtype_name(x))).tiny)


def _opt_shape(ops: Ops, x):
    return None if x is None else ops.shape(x)


def _opt_dtype(ops: Ops, x):
    return None if x is None else ops.dtype_name(x)


def _asarray(ops: Ops, x):
    return None if x is None else ops.asarray(x)


def _same_batch(ops: Ops, **named):
    """The named arrays (None passes through), which the backend checks at run
    time to share their batch size where it is unknown at trace time (the
    trace-time checks compared the known ones), naming them in its error."""
    names = [name for name, x in named.items() if x is not None]
    checked = iter(ops.same_batch(names, [named[name] for name in names]))
    return [None if x is None else next(checked) for x in named.values()]


def _check_lattice_sizes(S, T, rnnt_type, boundary):
    if boundary is None and rnnt_type != "regular" and T < S:
        raise ValueError(
            f"rnnt_type={rnnt_type!r} emits at most one symbol per frame, so it "
            f"needs T >= S when boundary is None, got S={S} and T={T}"
        )


def _first_argmax(ops: Ops, x, axis_len):
    """Index of the first maximum along axis 1 of x [B, K, T], int32 [B, T].

    Explicit first-occurrence rule, so TF and JAX agree on ties (fast_rnnt's
    torch.argmax returns the first maximum too)."""
    m = ops.max(x, axis=1, keepdims=True)
    k = ops.arange(axis_len, "int32")[None, :, None]
    cand = ops.where(x == m, k, axis_len - 1)
    return ops.min(cand, axis=1)


def _suffix_min(ops: Ops, x, T):
    """y[.., t] = min(x[.., t:]) along the last axis (length T), int32 [B, T].

    log2(T) doubling steps of shift-and-minimum instead of a loop over T."""
    k = 1
    while k < T:
        shifted = ops.concat([x[:, k:], ops.full_like(x[:, :k], _BIG)], axis=1)
        x = ops.minimum(x, shifted)
        k *= 2
    return x


def _safe_max(ops: Ops, x, axis):
    """Gradient-free max over `axis` (kept), 0 where a row is all -inf, so that
    x - max is -inf there instead of NaN (-inf - -inf)."""
    m = ops.stop_gradient(ops.max(x, axis=axis, keepdims=True))
    return ops.where(m > NEG_INF, m, 0.0)


def _log_normalizer(ops: Ops, x):
    """logsumexp over the last axis (dropped), with rows that are all -inf
    (no probability mass, e.g. padding filled with -inf) normalized by 0: their
    log-probabilities stay -inf and their gradients are 0, not NaN."""
    m = _safe_max(ops, x, -1)
    total = ops.sum(ops.exp(x - m), axis=-1)  # >= 1 unless the row is all -inf
    return ops.log(ops.where(total > 0, total, 1.0)) + m[..., 0]


def _node_logprobs(ops: Ops, logits, index, blank, use_hat_loss, fused_log_softmax):
    """(px, py) [B, T, K] each, in the compute dtype: the log-probabilities of
    logits [B, T, K, C] at index [B, T, K] (in range) and at blank, by the
    options of the full and pruned losses.

    fused_log_softmax=False: logits are log-probabilities already, px and py
    are plain gathers. Otherwise the log-softmax, or with use_hat_loss the
    HAT factorisation: the fused custom call where _uses_fused_gather, else
    XLA's own ops (_logsoftmax_gather, _hat_gather)."""
    if not fused_log_softmax:
        x = _compute(ops, logits)
        px = ops.take_along_last(x, index[:, :, :, None])[:, :, :, 0]
        return px, x[:, :, :, blank]
    if _uses_fused_gather(ops, logits):
        return ops.logsoftmax_gather(logits, index, blank, use_hat_loss)
    if use_hat_loss:
        return _hat_gather(ops, logits, index, blank)
    return _logsoftmax_gather(ops, logits, index, blank)


def _uses_fused_gather(ops: Ops, logits):
    """Whether the fused custom call computes the node log-probabilities (one
    pass over the logits forward, one backward): for float32/float64 where
    the framework's default device is a GPU. Otherwise XLA's own ops: on CPUs
    its fusions are vectorised and multi-threaded and beat the
    single-threaded CPU kernel (benchmarks/benchmark_tf_cpu.py), and for
    float16/bfloat16 XLA fuses the float32 upcast into its reductions, so no
    float32 copy of the logits is materialised (the custom call would need
    one, and a float32 gradient)."""
    return ops.dtype_name(logits) not in _HALF and ops.default_device_is_gpu()


def _hat_gather(ops: Ops, logits, index, blank):
    """(px, py) of the Hybrid Autoregressive Transducer (k2's
    get_hat_logprobs_pruned, with the blank at any index): the blank's
    log-probability is log_sigmoid(logits[..., blank]); symbol c != blank has
    log_softmax over the non-blank logits at c plus log_sigmoid(-logits[...,
    blank]) (= log(1 - sigmoid)). An index equal to blank gets the blank's
    log-probability (k2 applies the non-blank formula to it). XLA's own ops:
    the path where the fused custom call (its hat variant) is not used, and
    the reference the tests hold that call to."""
    x = _compute(ops, logits)
    C = ops.shape(x)[3]
    blank_logit = x[:, :, :, blank]
    nonblank = ops.where(ops.arange(C, "int32") == blank, NEG_INF, x)
    normalizers = _log_normalizer(ops, nonblank)
    symbol = ops.take_along_last(x, index[:, :, :, None])[:, :, :, 0]
    py = ops.log_sigmoid(blank_logit)
    px = ops.where(index == blank, py, symbol - normalizers + ops.log_sigmoid(-blank_logit))
    return px, py


def _logsoftmax_gather(ops: Ops, logits, index, blank):
    """(px, py) = log_softmax(logits) [B, T, K, C] at index [B, T, K] (in
    range) and at blank, [B, T, K] each, in the compute dtype, on XLA's own
    ops (the fused custom call's reference)."""
    x = _compute(ops, logits)
    normalizers = _log_normalizer(ops, x)
    px = ops.take_along_last(x, index[:, :, :, None])[:, :, :, 0] - normalizers
    return px, x[:, :, :, blank] - normalizers


def _valid_symbols(ops: Ops, symbols, C):
    """(symbols as int32 with entries outside [0, C) replaced by 0, valid [B, S]).

    The validity is decided before the cast, so int64 values do not wrap."""
    valid = (symbols >= 0) & (symbols < C)
    return ops.where(valid, ops.cast(symbols, "int32"), 0), valid


def _with_blank(ops: Ops, symbols, termination_symbol):
    """symbols [B, S] int32 followed by termination_symbol: [B, S+1], so that
    position S (after the last symbol) has an index too."""
    blank = ops.full((ops.batch_size(symbols), 1), termination_symbol, "int32")
    return ops.concat([symbols, blank], axis=1)


def _prepared_boundary(ops: Ops, boundary):
    """A checked boundary as the recursion takes it (int32, saturated), once
    per public call; None stays None (the whole lattice)."""
    return None if boundary is None else _recursion.prepare_boundary(ops, boundary, None, 0, 0)


def _boundary_ends(boundary):
    """(s_end, t_end) int32 [B] of a prepared boundary."""
    return boundary[:, 2], boundary[:, 3]


def _finish_logprobs(ops: Ops, px, py, boundary, rnnt_type, valid):
    """px [B, S, T] of emissions -> the recursion's px for rnnt_type, in the
    lattice layout: regular appends a -inf column T (no emission on the
    one-past-the-last frame), then _emission_masks (frames on axis 2, the
    blank of context s+1 is py[:, 1:])."""
    if rnnt_type == "regular":
        B, S = ops.batch_size(px), ops.shape(px)[1]
        px = ops.concat([px, ops.full((B, S, 1), NEG_INF, ops.dtype_name(px))], axis=2)
    py_next = py[:, 1:, :] if rnnt_type == "constrained" else None
    return _emission_masks(ops, px, py_next, boundary, rnnt_type, valid[:, :, None], 2), py


def _emission_masks(ops: Ops, px, py_next, boundary, rnnt_type, valid, frame_axis):
    """The emissions' log-weights for rnnt_type, in the lattice layout (px
    [B, S, T'], frames on axis 2) or the band's (px [B, T, R], frames on axis
    1), valid and py_next (constrained only) in px's layout.

    -inf where valid is false: rows whose symbol is outside [0, C) (such a
    symbol has probability 0, so an item that must emit it, s_begin <= s <
    s_end, has no alignment: score -inf, zero gradients), and in the band,
    rows outside the lattice. regular, with a boundary: frame t_end[b] is
    -inf (no emission on the one-past-the-last frame). constrained: the
    emission of symbol s also takes the blank of context s+1 on the same
    frame, px += py_next."""
    px = ops.where(valid, px, NEG_INF)
    if rnnt_type == "regular" and boundary is not None:
        _, t_end = _boundary_ends(boundary)
        frames = _frames(ops, ops.shape(px)[frame_axis], frame_axis, "int32")
        px = ops.where(frames == t_end[:, None, None], NEG_INF, px)
    elif rnnt_type == "constrained":
        px = px + py_next
    return px


def _frames(ops: Ops, n, axis, dtype):
    """0 .. n-1 along axis 1 or 2 of a rank-3 array."""
    frames = ops.arange(n, dtype)
    return frames[None, :, None] if axis == 1 else frames[None, None, :]


def _delay_penalty(ops: Ops, px, boundary, T, delay_penalty, frame_axis):
    """Adds delay_penalty * ((t_end - 1) / 2 - t) to every emission at frame t
    (t_end = T without boundary; frames on axis frame_axis of px); no-op
    unless delay_penalty > 0 (fast_rnnt)."""
    if not delay_penalty > 0.0:
        return px
    dtype = ops.dtype_name(px)
    frames = _frames(ops, ops.shape(px)[frame_axis], frame_axis, dtype)
    if boundary is None:
        penalty = (T - 1) / 2.0 - frames
    else:
        _, t_end = _boundary_ends(boundary)
        offset = (ops.cast(t_end, dtype) - 1.0) / 2.0
        penalty = offset[:, None, None] - frames
    return px + penalty * delay_penalty


def _fastemit(ops: Ops, px, fastemit_lambda):
    """px with its value unchanged and its gradient scaled by 1 + lambda
    (FastEmit): px + lambda * (px - stop_gradient(px)), with the -inf entries
    (no arc) left alone (-inf - -inf would be NaN); no-op for lambda = 0."""
    if not fastemit_lambda > 0.0:
        return px
    live = px > NEG_INF
    return px + ops.where(live, px - ops.stop_gradient(px), 0.0) * fastemit_lambda


def _loss(ops: Ops, px, py, boundary, T, options, reduction, return_grad, band=None):
    """The loss of px, py in the lattice layout, or with band (a _Band) in
    the band layout [B, T, R] of rnnt_loss_pruned's windows (its return_grad
    occupations placed in the lattice layout)."""
    delay_penalty, fastemit_lambda = options
    px = _delay_penalty(ops, px, boundary, T, delay_penalty, 2 if band is None else 1)
    px = _fastemit(ops, px, fastemit_lambda)
    S = ops.shape(py)[1] - 1 if band is None else band.S
    if boundary is None:
        boundary = _recursion.prepare_boundary(ops, None, px, S, T)
    if band is None:
        out = _recursion.recursion(ops, px, py, boundary, return_grad)
    else:
        modified = band.rnnt_type != "regular"  # constrained: the modified recursion too
        out = _recursion.band_recursion(
            ops, px, py, band.starts, boundary, S, modified, return_grad
        )
        if return_grad:
            out = out[0], _band_occupations(ops, out[1], band)
    scores = out[0] if return_grad else out
    if reduction == "none":
        loss = -scores
    elif reduction == "mean":
        loss = -ops.mean(scores, axis=0)
    else:
        loss = -ops.sum(scores, axis=0)
    return (loss, out[1]) if return_grad else loss


def _check_loss_args(rnnt_type, reduction, delay_penalty, return_grad, fastemit_lambda):
    """(delay_penalty, fastemit_lambda) as floats, after checking every argument."""
    _checks.check_choice("rnnt_type", rnnt_type, _checks.RNNT_TYPES)
    _checks.check_choice("reduction", reduction, _checks.REDUCTIONS)
    delay_penalty = _checks.check_real("delay_penalty", delay_penalty)
    _checks.check_bool("return_grad", return_grad)
    fastemit_lambda = _checks.check_real("fastemit_lambda", fastemit_lambda, nonnegative=True)
    return delay_penalty, fastemit_lambda


def _check_logprob_options(use_hat_loss, fused_log_softmax):
    _checks.check_bool("use_hat_loss", use_hat_loss)
    _checks.check_bool("fused_log_softmax", fused_log_softmax)
    if use_hat_loss and not fused_log_softmax:
        raise ValueError(
            "use_hat_loss=True normalises the logits itself (HAT); it cannot be combined "
            "with fused_log_softmax=False (logits that are log-probabilities already)"
        )


def _check_hat_classes(use_hat_loss, C):
    if use_hat_loss and C < 2:
        raise ValueError(f"use_hat_loss=True needs C >= 2 classes (a blank and a symbol), got {C}")


def _clamped(ops: Ops, logits, clamp, reduction):
    """logits, whose gradient is clamped (torchaudio's clamp) when clamp > 0.

    torchaudio clamps each item's gradient d loss_b / d logits[b] to [-clamp,
    clamp] before the reduction scales it; here the clamp acts on the gradient
    arriving at the logits, so its bound is clamp / B for reduction "mean"
    (the same result whenever the gradient of the returned loss is 1)."""
    if not clamp > 0.0:
        return logits
    bound = clamp
    if reduction == "mean":
        B = ops.batch_size(logits)
        if isinstance(B, int):
            bound = clamp / max(B, 1)
        else:
            B = ops.cast(ops.asarray(B), ops.dtype_name(logits))
            bound = clamp / ops.maximum(B, 1.0)
    return ops.clamp_grad(logits, bound)


# --------------------------------------------------------------------------
# simple (additive joiner) and smoothed losses


def _simple_parts(ops: Ops, lm, am, symbols, termination_symbol, boundary, rnnt_type):
    lm, am, symbols, boundary = (
        ops.asarray(lm),
        ops.asarray(am),
        ops.asarray(symbols),
        _asarray(ops, boundary),
    )
    B, S, T, C = _checks.check_simple_inputs(
        ops.shape(lm),
        ops.dtype_name(lm),
        ops.shape(am),
        ops.dtype_name(am),
        ops.shape(symbols),
        ops.dtype_name(symbols),
        _opt_shape(ops, boundary),
        _opt_dtype(ops, boundary),
    )
    _checks.check_choice("rnnt_type", rnnt_type, _checks.RNNT_TYPES)
    _checks.check_termination_symbol(termination_symbol, C)
    _check_lattice_sizes(S, T, rnnt_type, boundary)
    lm, am, symbols, boundary = _same_batch(ops, lm=lm, am=am, symbols=symbols, boundary=boundary)
    boundary = _prepared_boundary(ops, boundary)
    lm, am = _compute(ops, lm), _compute(ops, am)
    symbols, valid = _valid_symbols(ops, symbols, C)
    # Shift by the (gradient-free) maxima so exp() neither overflows nor
    # underflows; the normalizers do not depend on the shift. Rows that are
    # all -inf are not shifted (their probabilities are 0, not NaN).
    am_max = _safe_max(ops, am, 2)  # [B, T, 1]
    lm_max = _safe_max(ops, lm, 2)  # [B, S+1, 1]
    am_probs = ops.exp(am - am_max)
    lm_probs = ops.exp(lm - lm_max)
    # log sum_c exp(lm[b, s, c] + am[b, t, c]): [B, S+1, T]
    normalizers = (
        ops.log(ops.matmul(lm_probs, ops.transpose(am_probs, (0, 2, 1))) + _tiny(ops, am))
        + lm_max
        + ops.transpose(am_max, (0, 2, 1))
    )
    px_am = ops.gather_symbols(am, symbols)  # [B, S, T]
    px_lm = ops.take_along_last(lm[:, :S], symbols[:, :, None])  # [B, S, 1]
    py_am = am[:, :, termination_symbol][:, None, :]  # [B, 1, T]
    py_lm = lm[:, :, termination_symbol][:, :, None]  # [B, S+1, 1]
    return dict(
        S=S,
        T=T,
        C=C,
        symbols=symbols,
        valid=valid,
        boundary=boundary,
        am_max=am_max,
        lm_max=lm_max,
        am_probs=am_probs,
        lm_probs=lm_probs,
        normalizers=normalizers,
        px_am=px_am,
        px_lm=px_lm,
        py_am=py_am,
        py_lm=py_lm,
    )


def _simple_logprobs(ops: Ops, lm, am, symbols, termination_symbol, rnnt_type, boundary):
    """(px, py, prepared boundary) of get_rnnt_logprobs."""
    p = _simple_parts(ops, lm, am, symbols, termination_symbol, boundary, rnnt_type)
    px = p["px_am"] + p["px_lm"] - p["normalizers"][:, : p["S"]]
    py = p["py_am"] + p["py_lm"] - p["normalizers"]
    return (*_finish_logprobs(ops, px, py, p["boundary"], rnnt_type, p["valid"]), p["boundary"])


def get_rnnt_logprobs(
    ops: Ops, lm, am, symbols, termination_symbol, rnnt_type="regular", boundary=None
):
    return _simple_logprobs(ops, lm, am, symbols, termination_symbol, rnnt_type, boundary)[:2]


def rnnt_loss_simple(
    ops: Ops,
    lm,
    am,
    symbols,
    termination_symbol,
    boundary=None,
    rnnt_type="regular",
    delay_penalty=0.0,
    reduction="mean",
    return_grad=False,
    fastemit_lambda=0.0,
):
    options = _check_loss_args(rnnt_type, reduction, delay_penalty, return_grad, fastemit_lambda)
    px, py, boundary = _simple_logprobs(
        ops, lm, am, symbols, termination_symbol, rnnt_type, boundary
    )
    return _loss(ops, px, py, boundary, ops.shape(py)[2], options, reduction, return_grad)


def get_rnnt_logprobs_smoothed(
    ops: Ops,
    lm,
    am,
    symbols,
    termination_symbol,
    lm_only_scale=0.1,
    am_only_scale=0.1,
    boundary=None,
    rnnt_type="regular",
):
    return _smoothed_logprobs(
        ops, lm, am, symbols, termination_symbol, lm_only_scale, am_only_scale, boundary, rnnt_type
    )[:2]


def _smoothed_logprobs(
    ops: Ops,
    lm,
    am,
    symbols,
    termination_symbol,
    lm_only_scale,
    am_only_scale,
    boundary,
    rnnt_type,
):
    """(px, py, prepared boundary) of get_rnnt_logprobs_smoothed."""
    lm_only_scale = _checks.check_real("lm_only_scale", lm_only_scale)
    am_only_scale = _checks.check_real("am_only_scale", am_only_scale)
    p = _simple_parts(ops, lm, am, symbols, termination_symbol, boundary, rnnt_type)
    S, C = p["S"], p["C"]
    tiny = _tiny(ops, p["lm_probs"])
    # Sums of probabilities are >= 1 (>= tiny with the unigram) unless a row of
    # lm or am is all -inf; such rows count as 1 (their log-probs stay -inf,
    # their gradients 0) and add nothing to the unigram.
    lmonly = ops.sum(p["lm_probs"], axis=2, keepdims=True)  # [B, S+1, 1]
    lmonly = ops.where(lmonly > 0, lmonly, 1.0)
    # "unigram" LM: the LM distribution averaged over batch and positions.
    unigram = ops.mean(p["lm_probs"] / lmonly, axis=(0, 1), keepdims=True) + tiny  # [1, 1, C]
    amonly = ops.sum(p["am_probs"] * unigram, axis=2, keepdims=True)  # [B, T, 1]
    amonly = ops.where(amonly > 0, amonly, 1.0)
    amonly_norm = ops.transpose(ops.log(amonly) + p["am_max"], (0, 2, 1))  # [B, 1, T]
    log_unigram = ops.log(unigram)
    lmonly_norm = ops.log(lmonly) + p["lm_max"]  # [B, S+1, 1]

    px = p["px_am"] + p["px_lm"] - p["normalizers"][:, :S]  # [B, S, T]
    px_unigram = ops.take(ops.reshape(log_unigram, (C,)), p["symbols"])[:, :, None]
    px_amonly = p["px_am"] + px_unigram - amonly_norm  # [B, S, T]
    px_lmonly = p["px_lm"] - lmonly_norm[:, :S]  # [B, S, 1]
    py = p["py_am"] + p["py_lm"] - p["normalizers"]  # [B, S+1, T]
    py_amonly = p["py_am"] + log_unigram[0, 0, termination_symbol] - amonly_norm  # [B, 1, T]
    py_lmonly = p["py_lm"] - lmonly_norm  # [B, S+1, 1]

    combined_scale = 1.0 - lm_only_scale - am_only_scale
    # As fast_rnnt: no exact zero scales (0 * -inf would be NaN).
    lm_only_scale = lm_only_scale or 1.0e-20
    am_only_scale = am_only_scale or 1.0e-20
    px = px * combined_scale + px_lmonly * lm_only_scale + px_amonly * am_only_scale
    py = py * combined_scale + py_lmonly * lm_only_scale + py_amonly * am_only_scale
    # The -inf column of the regular case is appended after the interpolation
    # (fast_rnnt interpolates it, which gives NaN when combined_scale <= 0).
    return (*_finish_logprobs(ops, px, py, p["boundary"], rnnt_type, p["valid"]), p["boundary"])


def rnnt_loss_smoothed(
    ops: Ops,
    lm,
    am,
    symbols,
    termination_symbol,
    lm_only_scale=0.1,
    am_only_scale=0.1,
    boundary=None,
    rnnt_type="regular",
    delay_penalty=0.0,
    reduction="mean",
    return_grad=False,
    fastemit_lambda=0.0,
):
    options = _check_loss_args(rnnt_type, reduction, delay_penalty, return_grad, fastemit_lambda)
    px, py, boundary = _smoothed_logprobs(
        ops, lm, am, symbols, termination_symbol, lm_only_scale, am_only_scale, boundary, rnnt_type
    )
    return _loss(ops, px, py, boundary, ops.shape(py)[2], options, reduction, return_grad)


# --------------------------------------------------------------------------
# full joiner output


def get_rnnt_logprobs_joint(
    ops: Ops,
    logits,
    symbols,
    termination_symbol,
    boundary=None,
    rnnt_type="regular",
    use_hat_loss=False,
    fused_log_softmax=True,
):
    return _joint_logprobs(
        ops,
        logits,
        symbols,
        termination_symbol,
        boundary,
        rnnt_type,
        use_hat_loss,
        fused_log_softmax,
    )[:2]


def _joint_logprobs(
    ops: Ops,
    logits,
    symbols,
    termination_symbol,
    boundary,
    rnnt_type,
    use_hat_loss,
    fused_log_softmax,
    clamp=0.0,
    reduction=None,
):
    """(px, py, prepared boundary) of get_rnnt_logprobs_joint; clamp and
    reduction: the gradient clamp of rnnt_loss (_clamped)."""
    logits, symbols, boundary = ops.asarray(logits), ops.asarray(symbols), _asarray(ops, boundary)
    B, S, T, C = _checks.check_joint_inputs(
        ops.shape(logits),
        ops.dtype_name(logits),
        ops.shape(symbols),
        ops.dtype_name(symbols),
        _opt_shape(ops, boundary),
        _opt_dtype(ops, boundary),
    )
    _checks.check_choice("rnnt_type", rnnt_type, _checks.RNNT_TYPES)
    _checks.check_termination_symbol(termination_symbol, C)
    _check_logprob_options(use_hat_loss, fused_log_softmax)
    _check_hat_classes(use_hat_loss, C)
    _check_lattice_sizes(S, T, rnnt_type, boundary)
    logits, symbols, boundary = _same_batch(ops, logits=logits, symbols=symbols, boundary=boundary)
    logits = _clamped(ops, logits, clamp, reduction)
    boundary = _prepared_boundary(ops, boundary)
    symbols, valid = _valid_symbols(ops, symbols, C)
    # Row s of frame t emits symbols[s]; row S emits nothing (its px is dropped).
    index = ops.broadcast_to(
        _with_blank(ops, symbols, termination_symbol)[:, None, :],
        (ops.batch_size(logits), T, S + 1),
    )
    px, py = _node_logprobs(
        ops, logits, index, termination_symbol, use_hat_loss, fused_log_softmax
    )  # [B, T, S+1]
    px = ops.transpose(px[:, :, :S], (0, 2, 1))
    py = ops.transpose(py, (0, 2, 1))
    return (*_finish_logprobs(ops, px, py, boundary, rnnt_type, valid), boundary)


def rnnt_loss(
    ops: Ops,
    logits,
    symbols,
    termination_symbol,
    boundary=None,
    rnnt_type="regular",
    delay_penalty=0.0,
    reduction="mean",
    return_grad=False,
    fastemit_lambda=0.0,
    use_hat_loss=False,
    fused_log_softmax=True,
    clamp=0.0,
):
    options = _check_loss_args(rnnt_type, reduction, delay_penalty, return_grad, fastemit_lambda)
    clamp = _checks.check_real("clamp", clamp, nonnegative=True)
    px, py, boundary = _joint_logprobs(
        ops,
        logits,
        symbols,
        termination_symbol,
        boundary,
        rnnt_type,
        use_hat_loss,
        fused_log_softmax,
        clamp,
        reduction,
    )
    return _loss(ops, px, py, boundary, ops.shape(py)[2], options, reduction, return_grad)


# --------------------------------------------------------------------------
# pruning


def effective_s_range(S, T, regular, s_range):
    """The s_range that get_rnnt_prune_ranges uses (static).

    regular, S >= 1, T >= 1: at least ceil(S / T) + 1 = (S - 1) // T + 2, the
    smallest window that lets a path emit S symbols in T frames (each frame
    emits at most s_range - 1 symbols); fast_rnnt applies this rule to the
    per-item lengths of `boundary` at run time, we apply it to the static S, T.
    Then at most S + 1 (a window of S + 1 symbols prunes nothing)."""
    if regular and S >= 1 and T >= 1:
        needed = (S - 1) // T + 2
        if s_range < needed:
            warnings.warn(
                f"get_rnnt_prune_ranges: s_range={s_range} cannot cover S={S} "
                f"symbols in T={T} frames; using s_range={needed}",
                stacklevel=_checks.caller_stacklevel(),
            )
            s_range = needed
    return min(s_range, S + 1)


def get_rnnt_prune_ranges(ops: Ops, px_grad, py_grad, boundary, s_range):
    px_grad, py_grad, boundary = (
        ops.asarray(px_grad),
        ops.asarray(py_grad),
        _asarray(ops, boundary),
    )
    B, S, T, regular = _checks.check_occupations(
        ops.shape(px_grad),
        ops.dtype_name(px_grad),
        ops.shape(py_grad),
        ops.dtype_name(py_grad),
        _opt_shape(ops, boundary),
        _opt_dtype(ops, boundary),
    )
    s_range = effective_s_range(S, T, regular, _checks.check_static_int("s_range", s_range, 1))
    px_grad, py_grad, boundary = _same_batch(
        ops, px_grad=px_grad, py_grad=py_grad, boundary=boundary
    )
    boundary = _prepared_boundary(ops, boundary)
    K = S + 2 - s_range  # candidate window starts 0 .. S+1-s_range
    # Occupation of the blanks inside the window minus the emission that enters
    # it from below: [B, K, T]. s_range is static and small: a sum of slices.
    block = py_grad[:, 0:K]
    for j in range(1, s_range):
        block = block + py_grad[:, j : j + K]
    entering = ops.concat(
        [ops.full_like(py_grad[:, :1], 0.0), px_grad[:, :, :T]], axis=1
    )  # [B, S+1, T]: entering[s] = px_grad[s-1]
    s_begin = _first_argmax(ops, block - entering[:, :K], K)  # [B, T]
    # From the last frame of each item on, use the last window, so that the
    # final symbol is inside it.
    frames = ops.arange(T, "int32")
    if boundary is None:
        keep = frames < T - 1
        last = max(S - s_range + 1, 0)
        s_begin = ops.where(keep[None, :], s_begin, last)
    else:
        s_end, t_end = _boundary_ends(boundary)
        keep = frames[None, :] < (t_end - 1)[:, None]
        # Clamped to the lattice, so that a bad boundary row still gives ranges
        # within [0, S] (the loss then reports the row).
        last = ops.clip(s_end - s_range + 1, 0, S + 1 - s_range)
        s_begin = ops.where(keep, s_begin, last[:, None])
    # Make s_begin non-decreasing, start at 0 and rise by less than `step` per
    # frame (step = s_range; 2 when one symbol per frame at most).
    step = s_range if regular else 2
    s_begin = _suffix_min(ops, s_begin, T)
    limit = frames * (step - 1)  # the largest start reachable at frame t
    s_begin = limit - ops.maximum(_suffix_min(ops, limit - s_begin, T), 0)
    return s_begin[:, :, None] + ops.arange(s_range, "int32")[None, None, :]


def do_rnnt_pruning(ops: Ops, am, lm, ranges):
    am, lm, ranges = ops.asarray(am), ops.asarray(lm), ops.asarray(ranges)
    B, S, T, R, C = _checks.check_pruning_inputs(
        ops.shape(am),
        ops.dtype_name(am),
        ops.shape(lm),
        ops.dtype_name(lm),
        ops.shape(ranges),
        ops.dtype_name(ranges),
    )
    am, lm, ranges = _same_batch(ops, am=am, lm=lm, ranges=ranges)
    am_pruned = ops.broadcast_to(am[:, :, None, :], (ops.batch_size(am), T, R, C))
    lm_pruned = ops.gather_batched(lm, ops.cast(ranges, "int32"), axis=1)  # [B, T, R, C]
    return am_pruned, lm_pruned


def get_rnnt_logprobs_pruned(
    ops: Ops,
    logits,
    symbols,
    ranges,
    termination_symbol,
    boundary=None,
    rnnt_type="regular",
    use_hat_loss=False,
    fused_log_softmax=True,
):
    return _pruned_logprobs(
        ops,
        logits,
        symbols,
        ranges,
        termination_symbol,
        boundary,
        rnnt_type,
        use_hat_loss,
        fused_log_softmax,
    )[:2]


# Windows the band targets take on every device (_targets.BAND_MAX_ROWS).
_BAND_MAX_S_RANGE = _targets.BAND_MAX_ROWS


class _Band(NamedTuple):
    """What the loss needs of px, py in the band layout [B, T, R]."""

    starts: Any  # int32 [B, T]: the window of frame t is s in [starts, starts + R)
    S: int  # the lattice's
    rnnt_type: str


def _place(ops: Ops, bands, starts, S, fill):
    """Arrays [B, T, R] of the windows starts [B, T] in the lattice layout
    [B, S+1, T]: entry k of frame t at s = starts[b, t] + k, fill elsewhere
    (entries outside [0, S] are dropped). R selects of the small [B, R, T]
    values, which XLA fuses into one pass (and whose gradient is one fused
    reduction), not a gather + transpose of [B, T, S+1] (whose gradient is a
    scatter)."""
    R = ops.shape(bands[0])[2]
    bands = [ops.transpose(x, (0, 2, 1)) for x in bands]  # [B, R, T]
    offset = ops.arange(S + 1, "int32")[None, :, None] - starts[:, None, :]
    out = [fill] * len(bands)
    for k in range(R):
        here = offset == k  # [B, S+1, T]
        out = [ops.where(here, x[:, k : k + 1], o) for x, o in zip(bands, out)]
    return out


def _band_logprobs(ops: Ops, px, py, starts, valid, boundary, rnnt_type):
    """The band recursion's (px, py) [B, T, R] for the node log-probabilities
    px, py [B, T, R] of the windows starts [B, T]: the lattice's of
    _finish_logprobs at the band's cells. Rows s = starts + k outside the
    lattice are -inf (px: s outside [0, S), py: outside [0, S]); the blank of
    context s+1 is the next window entry (none for the last)."""
    S, R = ops.shape(valid)[1], ops.shape(px)[2]
    rows = starts[:, :, None] + ops.arange(R, "int32")[None, None, :]  # [B, T, R]
    inside = (rows >= 0) & (rows <= S)
    # valid[b, s], false for s = S (row S emits nothing): [B, T, R]
    valid_rows = ops.concat([valid, ops.full((ops.batch_size(valid), 1), False, "bool")], axis=1)
    emits = inside & ops.gather_batched(valid_rows, ops.clip(rows, 0, S), axis=1)
    py = ops.where(inside, py, NEG_INF)
    py_next = None
    if rnnt_type == "constrained":
        py_next = ops.concat([py[:, :, 1:], ops.full_like(py[:, :, :1], NEG_INF)], axis=2)
    return _emission_masks(ops, px, py_next, boundary, rnnt_type, emits, 1), py


def _band_occupations(ops: Ops, grads, band):
    """The band recursion's (px_grad, py_grad) [B, T, R] in the lattice
    layout of return_grad: px_grad [B, S, T+1] (regular) or [B, S, T], py_grad
    [B, S+1, T], 0 off the band."""
    px_grad, py_grad = _place(ops, grads, band.starts, band.S, 0.0)
    px_grad = px_grad[:, : band.S]
    if band.rnnt_type == "regular":
        # Column T (no emission there), also when T = 0.
        zeros = ops.full((ops.batch_size(px_grad), band.S, 1), 0.0, ops.dtype_name(px_grad))
        px_grad = ops.concat([px_grad, zeros], axis=2)
    return px_grad, py_grad


def _pruned_logprobs(
    ops: Ops,
    logits,
    symbols,
    ranges,
    termination_symbol,
    boundary,
    rnnt_type,
    use_hat_loss,
    fused_log_softmax,
    clamp=0.0,
    reduction=None,
    band=False,
):
    """(px, py, prepared boundary, None) of get_rnnt_logprobs_pruned; clamp
    and reduction: the gradient clamp of rnnt_loss_pruned (_clamped). band:
    where the windows are narrow enough (_BAND_MAX_S_RANGE), (px, py,
    prepared boundary, _Band) in the band layout instead."""
    logits, symbols, ranges, boundary = (
        ops.asarray(logits),
        ops.asarray(symbols),
        ops.asarray(ranges),
        _asarray(ops, boundary),
    )
    B, S, T, R, C = _checks.check_pruned_inputs(
        ops.shape(logits),
        ops.dtype_name(logits),
        ops.shape(symbols),
        ops.dtype_name(symbols),
        ops.shape(ranges),
        ops.dtype_name(ranges),
        _opt_shape(ops, boundary),
        _opt_dtype(ops, boundary),
    )
    _checks.check_choice("rnnt_type", rnnt_type, _checks.RNNT_TYPES)
    _checks.check_termination_symbol(termination_symbol, C)
    _checks.check_pruned_s_range(R, S, rnnt_type)
    _check_logprob_options(use_hat_loss, fused_log_softmax)
    _check_hat_classes(use_hat_loss, C)
    _check_lattice_sizes(S, T, rnnt_type, boundary)
    logits, symbols, ranges, boundary = _same_batch(
        ops, logits=logits, symbols=symbols, ranges=ranges, boundary=boundary
    )
    logits = _clamped(ops, logits, clamp, reduction)
    boundary = _prepared_boundary(ops, boundary)
    symbols, valid = _valid_symbols(ops, symbols, C)
    ranges = ops.cast(ranges, "int32")
    # Window positions outside [0, S] are never placed below; clip so that
    # the gather is in range on every backend.
    pruned_symbols = ops.gather_batched(
        _with_blank(ops, symbols, termination_symbol), ops.clip(ranges, 0, S), axis=1
    )  # [B, T, R]
    px, py = _node_logprobs(
        ops, logits, pruned_symbols, termination_symbol, use_hat_loss, fused_log_softmax
    )  # [B, T, R]
    # Window entry k of frame t is s = ranges[b, t, 0] + k of the lattice.
    # Never [B, T, S+1, C].
    starts = ranges[:, :, 0]
    if band and R <= _BAND_MAX_S_RANGE:
        px, py = _band_logprobs(ops, px, py, starts, valid, boundary, rnnt_type)
        return px, py, boundary, _Band(starts, S, rnnt_type)
    px, py = _place(ops, [px, py], starts, S, NEG_INF)  # [B, S+1, T]
    return (*_finish_logprobs(ops, px[:, :S], py, boundary, rnnt_type, valid), boundary, None)


def rnnt_loss_pruned(
    ops: Ops,
    logits,
    symbols,
    ranges,
    termination_symbol,
    boundary=None,
    rnnt_type="regular",
    delay_penalty=0.0,
    reduction="mean",
    return_grad=False,
    fastemit_lambda=0.0,
    use_hat_loss=False,
    fused_log_softmax=True,
    clamp=0.0,
):
    options = _check_loss_args(rnnt_type, reduction, delay_penalty, return_grad, fastemit_lambda)
    clamp = _checks.check_real("clamp", clamp, nonnegative=True)
    px, py, boundary, band = _pruned_logprobs(
        ops,
        logits,
        symbols,
        ranges,
        termination_symbol,
        boundary,
        rnnt_type,
        use_hat_loss,
        fused_log_softmax,
        clamp,
        reduction,
        band=True,
    )
    T = ops.shape(py)[2 if band is None else 1]
    return _loss(ops, px, py, boundary, T, options, reduction, return_grad, band)


# --------------------------------------------------------------------------
# Docstrings, shared by the TF and JAX front ends (``{array}`` is the framework's
# array type).

_RNNT_TYPE = """rnnt_type: "regular" (a blank moves to the next frame, a symbol does
        not), "modified" (a symbol also moves to the next frame: at most one
        symbol per frame) or "constrained" (like "modified", but the emission of
        a symbol also pays the blank of the next context on the same frame)."""

_BOUNDARY = """boundary: optional int32/int64 [B, 4] rows (s_begin, t_begin, s_end,
        t_end), usually (0, 0, symbol length, frame count); None means
        (0, 0, S, T) for every item. Items with s_end = 0 (empty transcripts)
        are valid: their loss is that of the all-blank path."""

_LOSS_TAIL_TEMPLATE = """delay_penalty: static float; when > 0, every emission at frame t gets
        delay_penalty * ((t_end - 1) / 2 - t) added to its log-probability
        (t_end = T without boundary), favouring early emissions. Values <= 0
        do nothing (as in fast_rnnt).
      reduction: "none" (loss per item, [B]), "mean" (mean over the batch) or
        "sum".
      return_grad: also return (px_grad, py_grad), the occupation probabilities
        of the lattice (the gradient of -loss per item w.r.t. px and py, as
        returned by mutual_information_recursion); constants for autodiff.
        They are what get_rnnt_prune_ranges takes. FastEmit does not
        change them.
      fastemit_lambda: static float >= 0, FastEmit regularisation (Yu et al.
        2021, as torchaudio and NeMo define it): the loss value is unchanged,
        and the gradient through every symbol-emission arc (px, after
        delay_penalty; for "constrained" the whole arc, including the blank
        of the next context it pays) is scaled by (1 + fastemit_lambda),
        while the blank arcs (py) keep theirs. 0 does nothing.{extra}

    Returns:
      loss ([B] for reduction "none", else a scalar) and, with return_grad,
      (loss, (px_grad, py_grad)), px_grad [B, S, T+1] (regular) or [B, S, T]
      and py_grad [B, S+1, T]. The loss is float32 for float16/bfloat16
      inputs, else the input dtype. An item with no alignment (e.g. S_b > T_b
      for "modified"/"constrained", or a pruned lattice that cannot reach
      (s_end, t_end), or a symbol outside [0, C) inside its box) gets loss
      +inf and zero gradients, never NaN. -inf inputs are allowed: a row of
      logits/lm/am that is all -inf (e.g. padding) has log-probabilities -inf
      and zero gradients. Boundary rows outside the lattice raise
      InvalidArgument on CPU (GPU: NaN score, zero gradients)."""

_LOGPROB_OPTIONS = """use_hat_loss: static bool (k2's), the Hybrid Autoregressive
        Transducer factorisation (Variani et al. 2020): the blank's
        log-probability is log_sigmoid(logits[..., termination_symbol]) and
        symbol c's is log_softmax over the C - 1 non-blank logits at c plus
        log_sigmoid(-logits[..., termination_symbol]) (= log(1 - sigmoid));
        needs C >= 2. As k2's get_hat_logprobs_pruned, except that any
        termination_symbol is allowed (k2 requires 0) and a transcript
        symbol equal to the blank gets the blank's log-probability. On GPUs
        (float32/float64 logits) the fused log-softmax + gather custom call
        computes it, as it does the log-softmax; elsewhere the framework's
        own ops.
      fused_log_softmax: static bool (torchaudio's): True (default) normalises
        the logits with a log-softmax over C; False takes them as
        log-probabilities already (e.g. the output of the model's own
        log_softmax): px and py are then plain gathers of them, and the
        gradient is that of the loss w.r.t. these given values. False cannot
        be combined with use_hat_loss."""

_CLAMP = """
      clamp: static float >= 0 (torchaudio's); when > 0, the gradient w.r.t.
        logits is clamped to [-clamp, clamp] element-wise (an identity with a
        clipped gradient on the logits as given, before any log-softmax).
        torchaudio clamps each item's gradient d loss_b / d logits[b] before
        the reduction; here the clip acts on the gradient arriving at the
        logits, with the bound clamp / B for reduction "mean": the same
        result whenever the gradient of the returned loss is 1 (ones for
        "none"); an upstream factor a (e.g. loss scaling) moves the clip to
        clamp / a in units of the unscaled gradient. 0 does nothing."""

_LOSS_TAIL = _LOSS_TAIL_TEMPLATE.replace("{extra}", "")
_JOINT_LOSS_TAIL = _LOSS_TAIL_TEMPLATE.replace("{extra}", "\n      " + _LOGPROB_OPTIONS + _CLAMP)

_LOGPROBS_RETURNS = """Returns:
      (px, py): px [B, S, T+1] (regular; column t_end and every column after
      it are -inf: no emission on the one-past-the-last frame) or [B, S, T],
      the log-probabilities of emitting symbols[b, s] at node (s, t), and
      py [B, S+1, T], those of the termination symbol; the inputs of
      mutual_information_recursion. float32 for half-precision inputs."""

_SYMBOL_RANGE = """(checked where read: entries outside an item's box, s < s_begin or
        s >= s_end, e.g. -1 padding, are never used; a symbol outside [0, C)
        inside the box has probability 0: its px row is -inf and the item's
        loss +inf with zero gradients). It may equal termination_symbol."""

_SIMPLE_ARGS = (
    """lm: [B, S+1, C] float {array}, the prediction-network ("LM") part of the
        unnormalized joiner logits; lm[b, s] follows the first s symbols.
      am: [B, T, C] float {array} (same dtype), the encoder ("AM") part. The
        joiner is lm[b, s] + am[b, t], normalized over the C classes by a
        matmul of exp(lm - max lm) and exp(am - max am) (as fast_rnnt); where
        lm and am peak at different classes by more than ~87 (float32) or
        ~708 (float64) nats, that product underflows and the normalizer is
        clamped: the loss stays finite, but is then too large.
      symbols: [B, S] int32/int64 {array}, the transcripts, values in [0, C)
        """
    + _SYMBOL_RANGE
    + """
      termination_symbol: static int in [0, C), the blank symbol."""
)

_JOINT_ARGS = (
    """logits: [B, T, S+1, C] float {array}, unnormalized joiner output;
        logits[b, t, s] follows the first s symbols at frame t.
      symbols: [B, S] int32/int64 {array}, the transcripts, values in [0, C)
        """
    + _SYMBOL_RANGE
    + """
      termination_symbol: static int in [0, C), the blank symbol.
      """
    + _BOUNDARY
    + """
      """
    + _RNNT_TYPE
)

_PRUNED_ARGS = (
    """logits: [B, T, s_range, C] float {array}, joiner output on the pruned
        positions (e.g. joiner(*do_rnnt_pruning(am, lm, ranges))).
      symbols: [B, S] int32/int64 {array}, the transcripts, values in [0, C)
        """
    + _SYMBOL_RANGE
    + """
      ranges: [B, T, s_range] int32/int64 {array} from get_rnnt_prune_ranges;
        ranges[b, t, k] = ranges[b, t, 0] + k, within [0, S].
      termination_symbol: static int in [0, C), the blank symbol.
      """
    + _BOUNDARY
    + """
      """
    + _RNNT_TYPE
)

DOCS = {
    "mutual_information_recursion": _recursion.DOC,
    "get_rnnt_logprobs": f"""px, py of the simple (additive joiner) RNN-T loss.

    Args:
      {_SIMPLE_ARGS}
      {_RNNT_TYPE}
      {_BOUNDARY}

    {_LOGPROBS_RETURNS}
    """,
    "rnnt_loss_simple": f"""RNN-T loss with the additive joiner lm[b, s] + am[b, t].

    -log sum over alignments of the product of the normalized probabilities,
    computed without a [B, T, S+1, C] tensor (normalizers by a matmul).

    Args:
      {_SIMPLE_ARGS}
      {_BOUNDARY}
      {_RNNT_TYPE}
      {_LOSS_TAIL}
    """,
    "get_rnnt_logprobs_smoothed": f"""px, py of the smoothed simple RNN-T loss.

    The log-probabilities interpolate (1 - lm_only_scale - am_only_scale) *
    log p(k | lm + am) + lm_only_scale * log p_lm(k) + am_only_scale *
    log p_am(k), where p_lm = softmax(lm[b, s]) and p_am is am combined with
    the "unigram" LM (softmax(lm) averaged over the batch and positions).

    Args:
      {_SIMPLE_ARGS}
      lm_only_scale: static float, scale of the LM-only part.
      am_only_scale: static float, scale of the AM-only part.
      {_BOUNDARY}
      {_RNNT_TYPE}

    {_LOGPROBS_RETURNS}
    """,
    "rnnt_loss_smoothed": f"""Smoothed simple RNN-T loss (see get_rnnt_logprobs_smoothed).

    Args:
      {_SIMPLE_ARGS}
      lm_only_scale: static float, scale of the LM-only part.
      am_only_scale: static float, scale of the AM-only part.
      {_BOUNDARY}
      {_RNNT_TYPE}
      {_LOSS_TAIL}
    """,
    "get_rnnt_logprobs_joint": f"""px, py of the full RNN-T loss from joiner logits.

    Args:
      {_JOINT_ARGS}
      {_LOGPROB_OPTIONS}

    {_LOGPROBS_RETURNS}
    """,
    "rnnt_loss": f"""The full RNN-T loss from the joiner logits [B, T, S+1, C].

    Args:
      {_JOINT_ARGS}
      {_JOINT_LOSS_TAIL}
    """,
    "get_rnnt_prune_ranges": """Pruning ranges from the occupations of a simple loss.

    For every frame t, the window of s_range consecutive symbol positions
    ranges[b, t] = s_begin[b, t] + (0, .., s_range - 1) that holds the most
    occupation (fast_rnnt's rule: blank occupations inside the window minus the
    emission entering it), then made valid: s_begin[b, 0] = 0, non-decreasing,
    s_begin[b, t+1] - s_begin[b, t] < s_range (regular) or <= 1 (modified,
    constrained), s_begin[b, t] = max(s_end - s_range + 1, 0) from frame
    t_end - 1 on, and ranges within [0, S].

    s_range rule (static): regular lattices with S >= 1 and T >= 1 use at
    least ceil(S / T) + 1 = (S - 1) // T + 2 (with a warning), the smallest
    window that lets S symbols fit into T frames; then at most S + 1.
    fast_rnnt 1.3 widens from the per-item lengths of `boundary` at run time,
    which would make the output shape depend on values; we use the static S
    and T. An item whose own lengths need more (s_end > (s_range - 1) * t_end,
    possible only when t_end < T) cannot be covered: its pruned lattice does
    not reach (s_end, t_end), and rnnt_loss_pruned gives it loss +inf and
    zero gradients. Choose s_range >= ceil(max s_end / min t_end) + 1 to avoid
    that. S = 0 gives s_range 1 (all zeros). Modified and constrained
    lattices (px_grad [B, S, T]) are not widened (as in fast_rnnt): every
    item with s_end <= t_end is covered by any s_range >= 1 for "modified",
    but "constrained" needs s_range >= 2 (an emission needs s and s+1 in the
    window of its frame; rnnt_loss_pruned rejects s_range = 1 for it).

    Args:
      px_grad: [B, S, T+1] (regular) or [B, S, T] float {array}, occupations
        from rnnt_loss_simple(..., return_grad=True) or
        mutual_information_recursion(..., return_grad=True).
      py_grad: [B, S+1, T] float {array}.
      boundary: int32/int64 [B, 4] rows (s_begin, t_begin, s_end, t_end), or
        None for (0, 0, S, T); only s_end and t_end are used.
      s_range: static int >= 1, the number of symbol positions kept per frame.

    Returns:
      ranges: int32 [B, T, s_range'] with s_range' the effective s_range above.
    """,
    "do_rnnt_pruning": """Gathers the joiner inputs of the kept positions.

    Args:
      am: [B, T, C] float {array}, encoder output (any C: joiner input).
      lm: [B, S+1, C] float {array}, prediction-network output.
      ranges: [B, T, s_range] int32/int64 {array} from get_rnnt_prune_ranges.

    Returns:
      (am_pruned, lm_pruned), both [B, T, s_range, C] in the input dtype:
      am_pruned[b, t, k] = am[b, t], lm_pruned[b, t, k] = lm[b, ranges[b, t, k]].
    """,
    "get_rnnt_logprobs_pruned": f"""px, py of the pruned RNN-T loss.

    Positions outside the window of a frame get -inf; nothing of shape
    [B, T, S+1, C] is built.

    Args:
      {_PRUNED_ARGS}
      {_LOGPROB_OPTIONS}

    {_LOGPROBS_RETURNS}
    """,
    "rnnt_loss_pruned": f"""The pruned RNN-T loss from logits on the pruned positions.

    Equal to rnnt_loss when the windows cover every position (s_range = S+1).
    For s_range <= 32 the recursion runs on the windows themselves (the band
    recursion, no [B, S+1, T] arrays); wider windows take the lattice's.

    Args:
      {_PRUNED_ARGS}
      {_JOINT_LOSS_TAIL}
    """,
}

PUBLIC = tuple(DOCS)


CORE = {
    "mutual_information_recursion": _recursion.mutual_information_recursion,
    **{name: globals()[name] for name in PUBLIC if name != "mutual_information_recursion"},
}


def bind(ops: Ops, name: str, array: str, module: str):
    """Public function `name` of the framework wing `module`: the core function
    with the wing's adapter `ops` bound, the core's own signature without `ops`
    (so arguments and defaults are written once, here) and its DOCS docstring
    for a framework whose arrays are `array`. It belongs to `module` (pickle and
    other by-name references find it there, not the core function)."""
    core = CORE[name]

    @functools.wraps(core)
    def public(*args, **kwargs):
        return core(ops, *args, **kwargs)

    signature = inspect.signature(core)
    public.__signature__ = signature.replace(parameters=list(signature.parameters.values())[1:])
    public.__doc__ = DOCS[name].replace("{array}", array)
    public.__module__, public.__qualname__ = module, name
    del public.__wrapped__  # help() and inspect show the signature above
    return public
