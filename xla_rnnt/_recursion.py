"""mutual_information_recursion, written once for TF and JAX: the input
preparation (checks, half precision to float32, the boundary's default, its
saturation and narrowing to int32) done once per public call, then the
backend's differentiable pair of custom calls (``ops.mi_scores``,
``ops.mi_scores_and_grads``: a custom_vjp / custom_gradient each); and the
same on the band of the pruned loss's windows (``ops.band_scores``,
``ops.band_scores_and_grads``)."""

from . import _checks
from ._ops_protocol import Ops

_INT32_MAX = 2**31 - 1


def prepare_boundary(ops: Ops, boundary, B_of, S, T):
    """boundary as int32 [B, 4]: (0, 0, S, T) rows for None (B read from the
    array B_of), else saturated into [-1, 2**31 - 1] before narrowing, so that
    an int64 row such as 2**32 + 4 stays invalid instead of wrapping to 4."""
    if boundary is None:
        row = ops.asarray([[0, 0, S, T]])
        return ops.broadcast_to(ops.cast(row, "int32"), (ops.batch_size(B_of), 4))
    if ops.dtype_name(boundary) == "int32":
        return boundary
    return ops.cast(ops.clip(boundary, -1, _INT32_MAX), "int32")


def recursion(ops: Ops, px, py, boundary, return_grad):
    """The recursion on prepared inputs: float32/float64 px, py, int32 boundary."""
    if return_grad:
        scores, px_grad, py_grad = ops.mi_scores_and_grads(px, py, boundary)
        return scores, (px_grad, py_grad)
    return ops.mi_scores(px, py, boundary)


def band_recursion(ops: Ops, px, py, starts, boundary, S, modified, return_grad):
    """The recursion on the band of windows (cc/band_recursion.h): px, py
    [B, T, R] (half precision computed in float32), int32 starts [B, T] and
    a prepared boundary; S: the lattice's, static. The gradients are [B, T, R]."""
    if ops.dtype_name(px) in _checks.HALF_DTYPES:
        px, py = ops.cast(px, "float32"), ops.cast(py, "float32")
    if return_grad:
        scores, px_grad, py_grad = ops.band_scores_and_grads(px, py, starts, boundary, S, modified)
        return scores, (px_grad, py_grad)
    return ops.band_scores(px, py, starts, boundary, S, modified)


def mutual_information_recursion(ops: Ops, px, py, boundary=None, return_grad=False):
    px, py = ops.asarray(px), ops.asarray(py)
    boundary = None if boundary is None else ops.asarray(boundary)
    _, S, T, _ = _checks.check_mutual_information(
        ops.shape(px),
        ops.dtype_name(px),
        ops.shape(py),
        ops.dtype_name(py),
        None if boundary is None else ops.shape(boundary),
        None if boundary is None else ops.dtype_name(boundary),
    )
    _checks.check_bool("return_grad", return_grad)
    if ops.dtype_name(px) in _checks.HALF_DTYPES:  # half precision diverges in the recursion
        px, py = ops.cast(px, "float32"), ops.cast(py, "float32")
    return recursion(ops, px, py, prepare_boundary(ops, boundary, px, S, T), return_grad)


DOC = """The recursion under every RNN-T loss here (fast_rnnt's API).

    Args:
      px: [B, S, T+1] (regular) or [B, S, T] (modified) float {array},
        log-weights of the transitions that emit symbol s (from (s, t) to
        (s+1, t), or to (s+1, t+1) when modified). B may be unknown at trace
        time (TF).
      py: [B, S+1, T] float {array} (same dtype), log-weights of the
        transitions from (s, t) to (s, t+1).
      boundary: optional [B, 4] int32/int64 rows (s_begin, t_begin, s_end,
        t_end) with 0 <= s_begin <= s_end <= S and 0 <= t_begin <= t_end <= T;
        None means (0, 0, S, T) for every item. S = 0 or T = 0 is valid.
      return_grad: also return (px_grad, py_grad), the gradients of the scores
        (occupation probabilities), treated as constants by autodiff.

    Returns:
      scores [B] = p[b, s_end, t_end] of the recursion
        p[b, s_begin, t_begin] = 0,
        p[b,s,t] = logaddexp(p[b,s-1,t] + px[b,s-1,t], p[b,s,t-1] + py[b,s,t-1])
      (p[b,s-1,t-1] + px[b,s-1,t-1] in the modified case); with return_grad,
      (scores, (px_grad, py_grad)). float16/bfloat16 inputs are computed in
      float32 and the scores are float32. An impossible lattice gives -inf
      and zero gradients. Invalid boundary rows raise InvalidArgument on
      CPU; on GPU (no host sync possible) they give a NaN score and zero
      gradients.
    """
