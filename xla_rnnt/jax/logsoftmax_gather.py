"""Fused log-softmax + gather of the joiner logits for JAX (cc/logsoftmax_gather.h)."""

import functools

import jax

from . import _ffi


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def logsoftmax_gather(logits, symbols, blank):
    """(px, py) [...] from logits [..., C] (float32/float64) and int32 symbols
    [...]: px = log_softmax(logits)[..., symbols] (-inf for a symbol outside
    [0, C)), py = log_softmax(logits)[..., blank]. Differentiable in logits;
    nothing of the logits' size is kept between forward and backward."""
    px, py, _ = _ffi.logsoftmax_gather(logits, symbols, blank)
    return px, py


def _fwd(logits, symbols, blank):
    px, py, normalizers = _ffi.logsoftmax_gather(logits, symbols, blank)
    return (px, py), (logits, symbols, normalizers)


def _bwd(blank, residuals, cotangents):
    logits, symbols, normalizers = residuals
    px_grad, py_grad = cotangents
    return _ffi.logsoftmax_gather_grad(logits, symbols, normalizers, px_grad, py_grad, blank), None


logsoftmax_gather.defvjp(_fwd, _bwd)
