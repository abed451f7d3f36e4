"""mutual_information_recursion for JAX: the custom calls behind a custom_vjp."""
from typing import Optional

import jax
import jax.numpy as jnp

from .. import _checks
from . import _ffi


def _scale(grad, g):
    return grad * g[..., None, None].astype(grad.dtype)


@jax.custom_vjp
def _scores(px, py, boundary):
    return _ffi.mi_forward(px, py, boundary)


def _scores_fwd(px, py, boundary):
    # Like fast_rnnt, the forward pass also computes d scores / d (px, py) for a
    # unit cotangent; the backward pass only scales them.
    scores, px_grad, py_grad = _ffi.mi_forward_backward(px, py, boundary)
    return scores, (px_grad, py_grad)


def _scores_bwd(residuals, g):
    px_grad, py_grad = residuals
    return _scale(px_grad, g), _scale(py_grad, g), None


_scores.defvjp(_scores_fwd, _scores_bwd)


@jax.custom_vjp
def _scores_and_grads(px, py, boundary):
    return _ffi.mi_forward_backward(px, py, boundary)


def _scores_and_grads_fwd(px, py, boundary):
    out = _ffi.mi_forward_backward(px, py, boundary)
    return out, out[1:]


def _scores_and_grads_bwd(residuals, cotangents):
    # The returned occupations are constants for differentiation (as in
    # fast_rnnt); only the scores carry a gradient.
    px_grad, py_grad = residuals
    g = cotangents[0]
    return _scale(px_grad, g), _scale(py_grad, g), None


_scores_and_grads.defvjp(_scores_and_grads_fwd, _scores_and_grads_bwd)


def prepare_inputs(px, py, boundary):
    """Checks shapes/dtypes; returns float32/64 px, py and an int32 boundary."""
    px, py = jnp.asarray(px), jnp.asarray(py)
    B, S, T, _ = _checks.check_mutual_information(
        px.shape, px.dtype.name, py.shape, py.dtype.name,
        None if boundary is None else jnp.shape(boundary),
        None if boundary is None else jnp.asarray(boundary).dtype.name)
    if px.dtype.name in ("float16", "bfloat16"):
        # Half precision diverges in the recursion: compute in float32.
        px, py = px.astype(jnp.float32), py.astype(jnp.float32)
    if boundary is None:
        boundary = _ffi.full_boundary(B, S, T)
    # Saturate before narrowing, so that 2**32 + 1 cannot wrap into a valid row.
    boundary = jnp.clip(jnp.asarray(boundary), -1, 2**31 - 1).astype(jnp.int32)
    return px, py, boundary


def mutual_information_recursion(px, py, boundary: Optional[jax.Array] = None,
                                 return_grad: bool = False):
    """The recursion under every RNN-T loss here (fast_rnnt's API).

    Args:
      px: [B, S, T+1] (regular) or [B, S, T] (modified) log-weights of the
        transitions that emit symbol s (from (s, t) to (s+1, t), or to
        (s+1, t+1) when modified).
      py: [B, S+1, T], log-weights of the transitions from (s, t) to (s, t+1).
      boundary: optional [B, 4] integer rows (s_begin, t_begin, s_end, t_end)
        with 0 <= s_begin <= s_end <= S and 0 <= t_begin <= t_end <= T; None
        means (0, 0, S, T) for every item. S = 0 or T = 0 items are valid.
      return_grad: also return (px_grad, py_grad), the gradients of the scores
        (occupation probabilities), treated as constants by autodiff.

    Returns:
      scores [B] = p[b, s_end, t_end] of the recursion
        p[b, s_begin, t_begin] = 0,
        p[b,s,t] = logaddexp(p[b,s-1,t] + px[b,s-1,t], p[b,s,t-1] + py[b,s,t-1])
      (p[b,s-1,t-1] + px[b,s-1,t-1] in the modified case), and with
      return_grad, (scores, (px_grad, py_grad)). float16/bfloat16 inputs are
      computed in float32 and the scores are float32. An impossible lattice
      gives -inf and zero gradients. Invalid boundary rows raise an error on
      CPU; on GPU (no host sync possible) they give a NaN score and zero
      gradients.
    """
    px, py, boundary = prepare_inputs(px, py, boundary)
    if return_grad:
        scores, px_grad, py_grad = _scores_and_grads(px, py, boundary)
        return scores, (px_grad, py_grad)
    return _scores(px, py, boundary)
