"""Fused log-softmax + gather of the joiner logits for JAX (cc/logsoftmax_gather.h)."""

import functools

import jax

from . import _ffi


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def logsoftmax_gather(logits, symbols, blank, hat=False):
    """(px, py) [...] from logits [..., C] (float32/float64) and int32 symbols
    [...]: px = log_softmax(logits)[..., symbols] (-inf for a symbol outside
    [0, C)), py = log_softmax(logits)[..., blank]; with hat, the HAT
    factorisation's (the blank's log_sigmoid, the other classes' log-softmax
    over the non-blank logits plus log_sigmoid(-blank logit)). Differentiable
    in logits; nothing of the logits' size is kept between forward and
    backward."""
    px, py, _ = _ffi.logsoftmax_gather(logits, symbols, blank, hat)
    return px, py


def _fwd(logits, symbols, blank, hat):
    px, py, normalizers = _ffi.logsoftmax_gather(logits, symbols, blank, hat)
    return (px, py), (logits, symbols, normalizers)


def _bwd(blank, hat, residuals, cotangents):
    logits, symbols, normalizers = residuals
    px_grad, py_grad = cotangents
    logits_grad = _ffi.logsoftmax_gather_grad(
        logits, symbols, normalizers, px_grad, py_grad, blank, hat
    )
    return logits_grad, None


logsoftmax_gather.defvjp(_fwd, _bwd)
