"""The TensorFlow backend adapter of xla_rnnt._rnnt.

Works eagerly, in tf.function and under jit_compile; the batch axis may be
unknown at trace time (batch_size returns a scalar tensor then)."""

import numpy as np
import tensorflow as tf
from tensorflow.compiler.tf2xla.python import xla as _tfxla
from tensorflow.compiler.xla import xla_data_pb2

from . import _ffi
from . import mutual_information as _mi
from ._xla_module import batch_check as _batch_check
from .logsoftmax_gather import logsoftmax_gather as _logsoftmax_gather

_HIGHEST = xla_data_pb2.PrecisionConfig(
    operand_precision=[xla_data_pb2.PrecisionConfig.HIGHEST] * 2
)


def asarray(x):
    return tf.convert_to_tensor(x)


def shape(x):
    return tuple(x.shape.as_list())


def batch_size(x):
    return x.shape[0] if x.shape[0] is not None else tf.shape(x)[0]


def dtype_name(x):
    return x.dtype.name


def _shape(shape):
    """A shape of ints and scalar tensors (a dynamic batch size) for TF ops."""
    if any(isinstance(d, (tf.Tensor, tf.Variable)) for d in shape):
        return tf.stack([tf.cast(d, tf.int32) for d in shape])
    return list(shape)


def cast(x, dtype):
    return tf.cast(x, dtype)


def reshape(x, shape):
    return tf.reshape(x, _shape(shape))


def transpose(x, perm):
    return tf.transpose(x, perm)


def concat(xs, axis):
    return tf.concat(xs, axis=axis)


def full(shape, value, dtype):
    dims = _shape(shape)
    if isinstance(dims, list) and not tf.executing_eagerly():
        return _splat(value, dtype, dims)
    return tf.fill(dims, tf.constant(value, dtype))


def full_like(x, value):
    if x.shape.is_fully_defined() and not tf.executing_eagerly():
        return _splat(value, x.dtype, x.shape)
    return tf.fill(tf.shape(x), tf.constant(value, x.dtype))


def _splat(value, dtype, shape):
    """One Const op holding a single value (three for tf.fill in a trace);
    tf2xla emits it as a broadcast of the scalar, as it does tf.fill."""
    return tf.constant(value, dtype, shape)


def broadcast_to(x, shape):
    return tf.broadcast_to(x, _shape(shape))


def arange(n, dtype):
    return tf.range(n, dtype=dtype)


def max(x, axis, keepdims=False):  # noqa: A001
    return tf.reduce_max(x, axis=axis, keepdims=keepdims)


def min(x, axis, keepdims=False):  # noqa: A001
    return tf.reduce_min(x, axis=axis, keepdims=keepdims)


def sum(x, axis, keepdims=False):  # noqa: A001
    return tf.reduce_sum(x, axis=axis, keepdims=keepdims)


def mean(x, axis, keepdims=False):
    return tf.reduce_mean(x, axis=axis, keepdims=keepdims)


def minimum(a, b):
    return tf.minimum(a, b)


def maximum(a, b):
    return tf.maximum(a, b)


def clip(x, low, high):
    return tf.clip_by_value(x, low, high)


def where(cond, a, b):
    # Python scalars take the dtype of the other operand.
    if not tf.is_tensor(a):
        a = tf.constant(a, b.dtype)
    if not tf.is_tensor(b):
        b = tf.constant(b, a.dtype)
    return tf.where(cond, a, b)


def exp(x):
    return tf.exp(x)


def log(x):
    return tf.math.log(x)


def _dot_highest(a, b, a_contract, b_contract):
    """Batched dot (batch axis 0) at HIGHEST precision."""
    dims = xla_data_pb2.DotDimensionNumbers(
        lhs_contracting_dimensions=[a_contract],
        rhs_contracting_dimensions=[b_contract],
        lhs_batch_dimensions=[0],
        rhs_batch_dimensions=[0],
    )
    return _tfxla.dot_general(a, b, dims, _HIGHEST, preferred_element_type=a.dtype)


@tf.custom_gradient
def matmul(a, b):
    """a [N, M, K] @ b [N, K, L], float32-accurate whatever the user's TF32
    setting: the normalizers of the simple loss are logs of these products, and
    tf.linalg.matmul uses TensorFloat-32 on GPUs that have it unless the user
    turned it off globally (gradients 4-7e-4 off the float64 ones on an H200;
    JAX asks for 3xTF32). The dot carries its own precision instead."""

    def grad(g):  # [N, M, L]
        return _dot_highest(g, b, 2, 2), tf.transpose(_dot_highest(g, a, 1, 1), (0, 2, 1))

    return _dot_highest(a, b, 2, 1), grad


def log_sigmoid(x):
    return tf.math.log_sigmoid(x)


def stop_gradient(x):
    return tf.stop_gradient(x)


def clamp_grad(x, clamp):
    """x, with its gradient clipped to [-clamp, clamp] (clamp: a Python float,
    exact in the gradient's dtype, or a scalar tensor, e.g. divided by a batch
    size unknown at trace time)."""

    @tf.custom_gradient
    def identity(x):
        def grad(g):
            if tf.is_tensor(clamp):
                bound = tf.cast(clamp, g.dtype)
            else:
                bound = tf.constant(clamp, g.dtype)
            return tf.clip_by_value(g, -bound, bound)

        return tf.identity(x), grad

    return identity(x)


def take(x, idx):
    """x[idx] along axis 0."""
    return tf.gather(x, idx)


# Gradients of the gathers below without the scatter-add (an unsorted segment
# sum) that autodiff makes of a gather (atomics on GPUs: slow, not
# deterministic): notes/scatter_free_gradients.md. Where the scatter stays,
# _gather gives TF's gradient from a small graph.


def take_along_last(x, idx):
    """out[..., k] = x[..., idx[..., k]]; idx has x's leading dims. Gradient:
    selects."""
    rank = len(x.shape)
    if not x.dtype.is_floating:
        return tf.gather(x, idx, axis=rank - 1, batch_dims=rank - 1)
    n = x.shape[-1]

    @tf.custom_gradient
    def gather(x):
        def grad(g):
            # A compare and select per element of x and index k; idx is [..., 1]
            # in the core, one select, which XLA fuses with the rest of the gradient.
            hits = idx[..., None] == tf.range(n, dtype=idx.dtype)  # [..., K, n]
            return tf.reduce_sum(tf.where(hits, g[..., None], tf.zeros((), g.dtype)), axis=-2)

        return tf.gather(x, idx, axis=rank - 1, batch_dims=rank - 1), grad

    return gather(x)


def _sum_by_index(idx, g, n):
    """out [B, n, Q]: out[b, v] = sum of g[b, i] over the i with idx[b, i] == v
    (idx [B, I] int, g [B, I, Q], I < n). The sum over equal indices is a
    matmul with their [I, I] equality matrix (exact products by 0 or 1; HIGHEST,
    so a lone index gives g itself), then row v takes the sum of an index equal
    to v: a gather, and 0 where there is none."""
    same = tf.cast(idx[:, :, None] == idx[:, None, :], g.dtype)
    sums = _dot_highest(same, g, 2, 1)  # [B, I, Q]
    hits = idx[:, None, :] == tf.range(n, dtype=idx.dtype)[None, :, None]  # [B, n, I]
    first = tf.argmax(tf.cast(hits, tf.int32), axis=2, output_type=tf.int32)
    rows = tf.gather(sums, first, axis=1, batch_dims=1)
    return tf.where(tf.reduce_any(hits, axis=2)[:, :, None], rows, tf.zeros((), g.dtype))


def gather_batched(x, idx, axis):
    """Per item b: take(x[b], idx[b], axis - 1); shape
    x.shape[:axis] + idx.shape[1:] + x.shape[axis + 1:]. Gradient without a
    scatter where each item has fewer indices than x has entries along axis
    (am at the symbols), and for rows of x [B, N, Q] at windows idx [B, T, R]
    (lm at the pruning windows: the custom call cc/gather_rows_grad.h, summed
    in a fixed order); otherwise (float16/bfloat16 windows) TF's (_gather)."""
    item_shape = x.shape[1:].as_list()
    n_idx = int(np.prod(idx.shape[1:]))
    if not x.dtype.is_floating:
        return _gather(x, idx, axis=axis, batch_dims=1)
    if not 0 < n_idx < item_shape[axis - 1]:
        if (
            axis == 1
            and len(x.shape) == len(idx.shape) == 3
            and x.dtype in (tf.float32, tf.float64)
            and tf.as_dtype(idx.dtype) == tf.int32
        ):
            return _gather_rows(x, idx)
        return _gather(x, idx, axis=axis, batch_dims=1)
    pre, N, post = item_shape[: axis - 1], item_shape[axis - 1], item_shape[axis:]
    P, Q = int(np.prod(pre)), int(np.prod(post))

    @tf.custom_gradient
    def gather(x):
        def grad(g):
            # x [B, *pre, N, *post], g [B, *pre, *I, *post]: g as [B, I, pre * post],
            # summed by index into [B, N, pre * post], then back to x's layout.
            B = tf.shape(g)[0]
            g = tf.transpose(tf.reshape(g, [B, P, n_idx, Q]), (0, 2, 1, 3))
            dx = _sum_by_index(tf.reshape(idx, [B, n_idx]), tf.reshape(g, [B, n_idx, P * Q]), N)
            dx = tf.transpose(tf.reshape(dx, [B, N, P, Q]), (0, 2, 1, 3))
            return tf.reshape(dx, [B, *item_shape])

        return tf.gather(x, idx, axis=axis, batch_dims=1), grad

    return gather(x)


def _fixed_order_gather(x, idx, take, axis, grad_call):
    """The gather take(x, idx) (linear in x, along x's `axis`) with the
    gradient grad_call(x, idx, g), a custom call that sums in a fixed order (no
    scatter). That gradient is itself differentiable in g: its transpose is
    the gather, an index outside [0, n) adding nothing and getting a zero
    cotangent; so gradients of gradients work."""

    @tf.custom_gradient
    def fixed_order_grad(g):
        def grad(ct):
            n = tf.shape(ct)[axis]
            inside = (idx >= 0) & (idx < n)
            taken = take(ct, tf.clip_by_value(idx, 0, n - 1))  # idx.shape + trailing
            return tf.where(inside[..., None], taken, tf.zeros((), ct.dtype))

        return grad_call(x, idx, g), grad

    @tf.custom_gradient
    def gather(x):
        return take(x, idx), fixed_order_grad

    return gather(x)


def _take_rows(x, idx):
    """x [B, N, Q] at idx [B, T, R]: [B, T, R, Q]."""
    return tf.gather(x, idx, axis=1, batch_dims=1)


def _take_symbols(x, idx):
    """x [B, T, V] at idx [B, S]: [B, S, T] (out[b, s, t] = x[b, t, idx[b, s]])."""
    return tf.transpose(tf.gather(x, idx, axis=2, batch_dims=1), (0, 2, 1))


def _gather_rows(x, idx):
    """Rows x[b, idx[b, t, r], :] of x [B, N, Q] at windows idx [B, T, R]; the
    gradient from the custom call cc/gather_rows_grad.h."""
    return _fixed_order_gather(x, idx, _take_rows, 1, _ffi.gather_rows_grad)


def gather_symbols(x, idx):
    """x [B, T, V] at idx [B, S] as [B, S, T]: out[b, s, t] = x[b, t, idx[b, s]].
    Gradient (float32, float64): the custom call cc/gather_symbols_grad.h, one
    fixed-order pass; otherwise gather_batched's."""
    if x.dtype not in (tf.float32, tf.float64) or tf.as_dtype(idx.dtype) != tf.int32:
        return tf.transpose(gather_batched(x, idx, 2), (0, 2, 1))
    return _fixed_order_gather(x, idx, _take_symbols, 2, _ffi.gather_symbols_grad)


def _gather(x, idx, axis, batch_dims):
    """tf.gather(x, idx, axis=axis, batch_dims=batch_dims), with the gradient
    TF computes for it built from the static shapes: TF's own gradient of a
    batched gather is 120-175 graph ops of shape arithmetic, and the pruned
    pipeline's four were 60% of its gradient's trace time."""
    if not x.dtype.is_floating:
        return tf.gather(x, idx, axis=axis, batch_dims=batch_dims)

    @tf.custom_gradient
    def gather(x):
        def grad(g):
            return _gather_grad(x, idx, g, axis, batch_dims)

        return tf.gather(x, idx, axis=axis, batch_dims=batch_dims), grad

    return gather(x)


def _gather_grad(x, idx, g, axis, batch_dims):
    """x's gradient for the cotangent g of _gather, as TF's _GatherV2Grad
    computes it: g's index axes moved before those between the batch axes and
    the gathered one, summed into the rows they were read from (the indices
    offset per batch item), the axes moved back."""
    dims = _dims(x)
    lead, mid, n, inner = dims[:batch_dims], dims[batch_dims:axis], dims[axis], dims[axis + 1 :]
    n_idx = len(idx.shape) - batch_dims
    g = _swap_blocks(g, batch_dims, len(mid), n_idx)  # lead, index axes, mid, inner
    batches = _prod(lead)
    offsets = tf.range(0, batches * n, n, dtype=idx.dtype)
    rows = tf.math.unsorted_segment_sum(
        tf.reshape(g, _shape([-1, *mid, *inner])),
        tf.reshape(idx + tf.reshape(offsets, _shape([*lead] + [1] * n_idx)), [-1]),
        batches * n,
    )
    rows = tf.reshape(rows, _shape([*lead, n, *mid, *inner]))
    return _swap_blocks(rows, batch_dims, 1, len(mid))  # lead, mid, n, inner


def _swap_blocks(x, start, a, b):
    """x with its axes [start, start + a) and the b axes after them swapped."""
    if not a or not b:
        return x
    axes = list(range(len(x.shape)))
    first, second = axes[start : start + a], axes[start + a : start + a + b]
    return tf.transpose(x, axes[:start] + second + first + axes[start + a + b :])


def _dims(x):
    """x's shape, a scalar tensor where a dimension is unknown at trace time."""
    return [d if d is not None else tf.shape(x)[i] for i, d in enumerate(x.shape.as_list())]


def _prod(dims):
    out = 1
    for d in dims:
        out = out * d
    return out


def mi_scores(px, py, boundary):
    """scores [B] of the recursion, differentiable in px and py."""
    return _mi.scores(px, py, boundary)


def mi_scores_and_grads(px, py, boundary):
    """(scores, px_grad, py_grad); the occupations are constants for autodiff."""
    return _mi.scores_and_grads(px, py, boundary)


def band_scores(px, py, starts, boundary, S, modified):
    """scores [B] of the band recursion (cc/band_recursion.h) on the windows
    starts [B, T] of px, py [B, T, R], differentiable in px and py."""
    return _mi.band_scores(px, py, starts, boundary, S, modified)


def band_scores_and_grads(px, py, starts, boundary, S, modified):
    """(scores, px_grad, py_grad [B, T, R]); the gradients are constants for autodiff."""
    return _mi.band_scores_and_grads(px, py, starts, boundary, S, modified)


def default_device_is_gpu():
    """Whether TF has a GPU, where it places ops by default (trace time)."""
    return bool(tf.config.list_logical_devices("GPU"))


def logsoftmax_gather(logits, symbols, blank, hat):
    """(px, py): log_softmax(logits) (hat: HAT's log-probabilities) at symbols
    (int32, -inf outside [0, C)) and at blank, one fused pass
    (cc/logsoftmax_gather.h)."""
    return _logsoftmax_gather(logits, symbols, blank, hat)


def same_batch(names, arrays):
    """arrays, checked at run time to share their batch size where it is unknown
    at trace time (known sizes were compared at trace time): an identity after
    a check that names the arguments, which XLA removes."""
    if len(arrays) < 2 or all(x.shape[0] is not None for x in arrays):
        return arrays
    check = _batch_check(names, arrays)
    with tf.control_dependencies([check]):
        return [tf.identity(x) for x in arrays]
