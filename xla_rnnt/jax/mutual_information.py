"""The recursion's custom calls behind a custom_vjp (inputs prepared by
xla_rnnt._recursion): scores, and scores with their occupations, on the
lattice and on the band of the pruned loss's windows."""

import functools

import jax

from . import _ffi


def _scale(grad, g):
    return grad * g[..., None, None].astype(grad.dtype)


@jax.custom_vjp
def scores(px, py, boundary):
    return _ffi.mi_forward(px, py, boundary)


def _scores_fwd(px, py, boundary):
    # Like fast_rnnt, the forward pass also computes d scores / d (px, py) for a
    # unit cotangent; the backward pass only scales them.
    scores, px_grad, py_grad = _ffi.mi_forward_backward(px, py, boundary)
    return scores, (px_grad, py_grad)


def _scores_bwd(residuals, g):
    px_grad, py_grad = residuals
    return _scale(px_grad, g), _scale(py_grad, g), None


scores.defvjp(_scores_fwd, _scores_bwd)


@jax.custom_vjp
def scores_and_grads(px, py, boundary):
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


scores_and_grads.defvjp(_scores_and_grads_fwd, _scores_and_grads_bwd)


# The band recursion (cc/band_recursion.h): px, py [B, T, R] on the windows
# starts [B, T]; S (the lattice's) and modified are static. No gradient for
# the integer starts and boundary.


@functools.partial(jax.custom_vjp, nondiff_argnums=(4, 5))
def band_scores(px, py, starts, boundary, S, modified):
    scores, _split, _final = _ffi.band_forward(px, py, starts, boundary, S, modified)
    return scores


def _band_scores_fwd(px, py, starts, boundary, S, modified):
    # As for the lattice: the forward also computes the unit-cotangent gradients.
    scores, px_grad, py_grad = _ffi.band_forward_backward(px, py, starts, boundary, S, modified)
    return scores, (px_grad, py_grad)


def _band_scores_bwd(S, modified, residuals, g):
    px_grad, py_grad = residuals
    return _scale(px_grad, g), _scale(py_grad, g), None, None


band_scores.defvjp(_band_scores_fwd, _band_scores_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(4, 5))
def band_scores_and_grads(px, py, starts, boundary, S, modified):
    return _ffi.band_forward_backward(px, py, starts, boundary, S, modified)


def _band_scores_and_grads_fwd(px, py, starts, boundary, S, modified):
    out = _ffi.band_forward_backward(px, py, starts, boundary, S, modified)
    return out, out[1:]


def _band_scores_and_grads_bwd(S, modified, residuals, cotangents):
    # The returned gradients are constants for differentiation, as above.
    px_grad, py_grad = residuals
    g = cotangents[0]
    return _scale(px_grad, g), _scale(py_grad, g), None, None


band_scores_and_grads.defvjp(_band_scores_and_grads_fwd, _band_scores_and_grads_bwd)
