"""The recursion's custom calls behind a custom_vjp (inputs prepared by
xla_rnnt._recursion): scores, and scores with their occupations."""

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
