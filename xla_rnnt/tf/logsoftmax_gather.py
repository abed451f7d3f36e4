"""Fused log-softmax + gather of the joiner logits for TensorFlow
(cc/logsoftmax_gather.h). Works eagerly, in tf.function and under jit_compile."""

import tensorflow as tf

from . import _ffi


def logsoftmax_gather(logits, symbols, blank, hat=False):
    """(px, py) [...] from logits [..., C] (float32/float64) and int32 symbols
    [...]: px = log_softmax(logits)[..., symbols] (-inf for a symbol outside
    [0, C)), py = log_softmax(logits)[..., blank]; with hat, the HAT
    factorisation's (the blank's log_sigmoid, the other classes' log-softmax
    over the non-blank logits plus log_sigmoid(-blank logit)). Differentiable
    in logits; nothing of the logits' size is kept between forward and
    backward."""

    @tf.custom_gradient
    def fused(logits):
        px, py, normalizers = _ffi.logsoftmax_gather(logits, symbols, blank, hat)

        def grad(px_grad, py_grad):
            # An output nobody used may come back as None.
            px_grad = tf.zeros_like(px) if px_grad is None else px_grad
            py_grad = tf.zeros_like(py) if py_grad is None else py_grad
            return _ffi.logsoftmax_gather_grad(
                logits, symbols, normalizers, px_grad, py_grad, blank, hat
            )

        return (px, py), grad

    return fused(logits)
