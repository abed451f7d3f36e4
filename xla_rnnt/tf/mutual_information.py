"""The recursion's custom calls behind tf.custom_gradient (inputs prepared by
xla_rnnt._recursion): scores, and scores with their occupations. Eager, in
tf.function and under jit_compile. The same pair for the band recursion of
the pruned loss's windows."""

import functools

import tensorflow as tf

from . import _ffi


def _scale(grad, g):
    # A reshape is two graph ops; g[:, None, None] is four.
    return grad * tf.reshape(tf.cast(g, grad.dtype), [-1, 1, 1])


@tf.custom_gradient
def scores(px, py, boundary):
    # TF cannot tell at forward time whether a gradient will be asked for, so
    # the forward keeps only p and the occupations are computed on demand.
    values, p = _ffi.mi_forward(px, py, boundary)

    def grad(g):
        px_grad, py_grad = _ffi.mi_backward(px, py, boundary, p)
        return _scale(px_grad, g), _scale(py_grad, g), None

    return values, grad


@tf.custom_gradient
def scores_and_grads(px, py, boundary):
    values, px_grad, py_grad = _ffi.mi_forward_backward(px, py, boundary)

    def grad(g_scores, _g_px_grad, _g_py_grad):
        # The occupations are constants for differentiation (as in fast_rnnt).
        return _scale(px_grad, g_scores), _scale(py_grad, g_scores), None

    return (values, px_grad, py_grad), grad


# The band recursion (cc/band_recursion.h): px, py [B, T, R] on the windows
# starts [B, T]; S (the lattice's) and modified are static. No gradient for
# the integer starts and boundary.


@functools.lru_cache(maxsize=None)
def _band_pair(S, modified):
    """(scores, scores_and_grads) of the band recursion for one S and modified."""

    @tf.custom_gradient
    def scores(px, py, starts, boundary):
        # As for the lattice: the forward keeps its workspace, the gradients
        # are computed from it on demand.
        values, split, final_split = _ffi.band_forward(px, py, starts, boundary, S, modified)

        def grad(g):
            px_grad, py_grad = _ffi.band_backward(
                starts, boundary, split, final_split, S, modified
            )
            return _scale(px_grad, g), _scale(py_grad, g), None, None

        return values, grad

    @tf.custom_gradient
    def scores_and_grads(px, py, starts, boundary):
        values, px_grad, py_grad = _ffi.band_forward_backward(
            px, py, starts, boundary, S, modified
        )

        def grad(g_scores, _g_px_grad, _g_py_grad):
            return _scale(px_grad, g_scores), _scale(py_grad, g_scores), None, None

        return (values, px_grad, py_grad), grad

    return scores, scores_and_grads


def band_scores(px, py, starts, boundary, S, modified):
    return _band_pair(S, modified)[0](px, py, starts, boundary)


def band_scores_and_grads(px, py, starts, boundary, S, modified):
    return _band_pair(S, modified)[1](px, py, starts, boundary)
