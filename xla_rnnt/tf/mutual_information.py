"""mutual_information_recursion for TensorFlow: the custom calls behind
tf.custom_gradient. Works eagerly, in tf.function and under jit_compile."""
import tensorflow as tf

from .. import _checks
from . import _ffi


def _scale(grad, g):
    return grad * tf.cast(g, grad.dtype)[:, None, None]


@tf.custom_gradient
def _scores(px, py, boundary):
    # TF cannot tell at forward time whether a gradient will be asked for, so
    # the forward keeps only p and the occupations are computed on demand.
    scores, p = _ffi.mi_forward(px, py, boundary)

    def grad(g):
        px_grad, py_grad = _ffi.mi_backward(px, py, boundary, p)
        return _scale(px_grad, g), _scale(py_grad, g), None

    return scores, grad


@tf.custom_gradient
def _scores_and_grads(px, py, boundary):
    scores, px_grad, py_grad = _ffi.mi_forward_backward(px, py, boundary)

    def grad(g_scores, _g_px_grad, _g_py_grad):
        # The occupations are constants for differentiation (as in fast_rnnt).
        return _scale(px_grad, g_scores), _scale(py_grad, g_scores), None

    return (scores, px_grad, py_grad), grad


def prepare_inputs(px, py, boundary):
    """Checks shapes/dtypes; returns float32/64 px, py and an int32 boundary."""
    px, py = tf.convert_to_tensor(px), tf.convert_to_tensor(py)
    if boundary is not None:
        boundary = tf.convert_to_tensor(boundary)
    _, S, T, _ = _checks.check_mutual_information(
        tuple(px.shape), px.dtype.name, tuple(py.shape), py.dtype.name,
        None if boundary is None else tuple(boundary.shape),
        None if boundary is None else boundary.dtype.name)
    if px.dtype in (tf.float16, tf.bfloat16):
        # Half precision diverges in the recursion: compute in float32.
        px, py = tf.cast(px, tf.float32), tf.cast(py, tf.float32)
    if boundary is None:
        boundary = _ffi.full_boundary(px, S, T)
    else:  # saturate before narrowing, so that 2**32 + 1 cannot wrap into a valid row
        boundary = tf.cast(tf.clip_by_value(boundary, tf.constant(-1, boundary.dtype),
                                            tf.constant(2**31 - 1, boundary.dtype)), tf.int32)
    return px, py, boundary


@tf.autograph.experimental.do_not_convert  # nothing to convert (see losses.py)
def mutual_information_recursion(px, py, boundary=None, return_grad=False):
    """The recursion under every RNN-T loss here (fast_rnnt's API).

    Args:
      px: [B, S, T+1] (regular) or [B, S, T] (modified) log-weights of the
        transitions that emit symbol s (from (s, t) to (s+1, t), or to
        (s+1, t+1) when modified). B may be unknown at trace time.
      py: [B, S+1, T], log-weights of the transitions from (s, t) to (s, t+1).
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
      and zero gradients. Invalid boundary rows raise InvalidArgumentError on
      CPU; on GPU (no host sync possible) they give a NaN score and zero
      gradients.
    """
    px, py, boundary = prepare_inputs(px, py, boundary)
    if return_grad:
        scores, px_grad, py_grad = _scores_and_grads(px, py, boundary)
        return scores, (px_grad, py_grad)
    return _scores(px, py, boundary)
