"""The JAX backend adapter of xla_rnnt._rnnt (jax.numpy / lax)."""

import functools

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from . import _ffi
from . import mutual_information as _mi
from .logsoftmax_gather import logsoftmax_gather as _logsoftmax_gather


def asarray(x):
    return jnp.asarray(x)


def shape(x):
    return tuple(x.shape)


def batch_size(x):
    return x.shape[0]


def dtype_name(x):
    return jnp.dtype(x.dtype).name


def cast(x, dtype):
    return x.astype(dtype)


def reshape(x, shape):
    return jnp.reshape(x, shape)


def transpose(x, perm):
    return jnp.transpose(x, perm)


def concat(xs, axis):
    return jnp.concatenate(xs, axis=axis)


def full_like(x, value):
    return jnp.full(x.shape, value, x.dtype)


def full(shape, value, dtype):
    """shape: a tuple of ints (entry 0 may be batch_size(x))."""
    return jnp.full(shape, value, dtype)


def broadcast_to(x, shape):
    return jnp.broadcast_to(x, shape)


def arange(n, dtype):
    return jnp.arange(n, dtype=dtype)


def max(x, axis, keepdims=False):  # noqa: A001
    return jnp.max(x, axis=axis, keepdims=keepdims)


def min(x, axis, keepdims=False):  # noqa: A001
    return jnp.min(x, axis=axis, keepdims=keepdims)


def sum(x, axis, keepdims=False):  # noqa: A001
    return jnp.sum(x, axis=axis, keepdims=keepdims)


def mean(x, axis, keepdims=False):
    return jnp.mean(x, axis=axis, keepdims=keepdims)


def minimum(a, b):
    return jnp.minimum(a, b)


def maximum(a, b):
    return jnp.maximum(a, b)


def clip(x, low, high):
    return jnp.clip(x, low, high)


def where(cond, a, b):
    # Python scalars take the dtype of the other operand.
    if not hasattr(a, "dtype"):
        a = jnp.asarray(a, b.dtype)
    if not hasattr(b, "dtype"):
        b = jnp.asarray(b, a.dtype)
    return jnp.where(cond, a, b)


def exp(x):
    return jnp.exp(x)


def log(x):
    return jnp.log(x)


@functools.lru_cache(maxsize=None)
def _cuda_has_tf32():
    try:
        devices = jax.devices("cuda")
    except RuntimeError:
        return False
    return bool(devices) and all(
        float(getattr(d, "compute_capability", 0) or 0) >= 8.0 for d in devices
    )


def _highest(a, b):
    return jnp.matmul(a, b, precision=lax.Precision.HIGHEST)


def _tf32_x3(a, b):
    return jnp.matmul(a, b, precision=lax.DotAlgorithmPreset.TF32_TF32_F32_X3)


def matmul(a, b):
    # float32-accurate products: the normalizers of the simple loss are logs
    # of them. On CUDA GPUs with TF32 (compute capability >= 8.0), three TF32
    # passes are as accurate there and faster (simple loss at 32,500,100,500
    # on an H200: -0.1 ms with a host sync per call, 0-0.06 ms back to back;
    # notes/measurements.md); elsewhere HIGHEST.
    if a.dtype == jnp.float32 and b.dtype == jnp.float32 and _cuda_has_tf32():
        return lax.platform_dependent(a, b, cuda=_tf32_x3, default=_highest)
    return _highest(a, b)


def log_sigmoid(x):
    return jax.nn.log_sigmoid(x)


def stop_gradient(x):
    return lax.stop_gradient(x)


@jax.custom_vjp
def _clamp_grad(x, bound):
    return x


def _clamp_grad_fwd(x, bound):
    return x, bound


def _clamp_grad_bwd(bound, g):
    b = bound.astype(g.dtype)
    return jnp.clip(g, -b, b), jnp.zeros_like(bound)


_clamp_grad.defvjp(_clamp_grad_fwd, _clamp_grad_bwd)


@functools.partial(jax.custom_vjp, nondiff_argnums=(1,))
def _clamp_grad_static(x, bound):
    return x


def _clamp_grad_static_fwd(x, bound):
    return x, None


def _clamp_grad_static_bwd(bound, _, g):
    return (jnp.clip(g, -bound, bound),)


_clamp_grad_static.defvjp(_clamp_grad_static_fwd, _clamp_grad_static_bwd)


def clamp_grad(x, clamp):
    """x, with its gradient clipped to [-clamp, clamp] (clamp: a Python float,
    exact in the gradient's dtype, or a scalar array, e.g. divided by a
    symbolic batch size)."""
    if isinstance(clamp, (int, float)):
        return _clamp_grad_static(x, float(clamp))
    return _clamp_grad(x, jnp.asarray(clamp))


def take(x, idx):
    """x[idx] along axis 0."""
    return jnp.take(x, idx, axis=0)


# Gradients of the gathers below without the scatter-add that autodiff makes
# of a gather (atomics on GPUs: slow, not deterministic):
# notes/scatter_free_gradients.md.


def _is_float(x):
    return jnp.issubdtype(x.dtype, jnp.floating)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2,))
def _take_along_last(x, idx, n):
    return jnp.take_along_axis(x, idx, axis=-1)


def _take_along_last_fwd(x, idx, n):
    return _take_along_last(x, idx, n), idx


def _take_along_last_bwd(n, idx, g):
    # A compare and select per element of x and index k; idx is [..., 1] in
    # the core, one select, which XLA fuses with the rest of the gradient.
    hits = idx[..., None] == jnp.arange(n, dtype=idx.dtype)  # [..., K, n]
    return jnp.sum(jnp.where(hits, g[..., None], jnp.zeros((), g.dtype)), axis=-2), None


_take_along_last.defvjp(_take_along_last_fwd, _take_along_last_bwd)


def take_along_last(x, idx):
    """out[..., k] = x[..., idx[..., k]]; idx has x's leading dims. Gradient:
    selects."""
    if not _is_float(x):
        return jnp.take_along_axis(x, idx, axis=-1)
    return _take_along_last(x, idx, x.shape[-1])


def _sum_by_index(idx, g, n):
    """out [B, n, Q]: out[b, v] = sum of g[b, i] over the i with idx[b, i] == v
    (idx [B, I] int, g [B, I, Q], I < n). The sum over equal indices is a
    matmul with their [I, I] equality matrix (exact products by 0 or 1; HIGHEST,
    so a lone index gives g itself), then row v takes the sum of an index equal
    to v: a gather, and 0 where there is none."""
    same = (idx[:, :, None] == idx[:, None, :]).astype(g.dtype)
    sums = _highest(same, g)  # [B, I, Q]
    hits = idx[:, None, :] == jnp.arange(n, dtype=idx.dtype)[None, :, None]  # [B, n, I]
    rows = jnp.take_along_axis(sums, jnp.argmax(hits, axis=2)[:, :, None], axis=1)
    return jnp.where(jnp.any(hits, axis=2)[:, :, None], rows, jnp.zeros((), g.dtype))


def _gather_batched_plain(x, idx, axis):
    return jax.vmap(lambda xb, ib: jnp.take(xb, ib, axis=axis - 1))(x, idx)


@functools.partial(jax.custom_vjp, nondiff_argnums=(2, 3))
def _gather_batched(x, idx, axis, item_shape):
    return _gather_batched_plain(x, idx, axis)


def _gather_batched_fwd(x, idx, axis, item_shape):
    return _gather_batched_plain(x, idx, axis), idx


def _gather_batched_bwd(axis, item_shape, idx, g):
    # x [B, *pre, N, *post], g [B, *pre, *I, *post]: g as [B, I, pre * post],
    # summed by index into [B, N, pre * post], then back to x's layout.
    B = g.shape[0]
    pre, N, post = item_shape[: axis - 1], item_shape[axis - 1], item_shape[axis:]
    P, Q = int(np.prod(pre)), int(np.prod(post))
    idx = jnp.reshape(idx, (B, -1))
    g = jnp.transpose(jnp.reshape(g, (B, P, idx.shape[1], Q)), (0, 2, 1, 3))
    dx = _sum_by_index(idx, jnp.reshape(g, (B, idx.shape[1], P * Q)), N)
    dx = jnp.transpose(jnp.reshape(dx, (B, N, P, Q)), (0, 2, 1, 3))
    return jnp.reshape(dx, (B, *item_shape)), None


_gather_batched.defvjp(_gather_batched_fwd, _gather_batched_bwd)


def _fixed_order_gather(take, axis, grad_call):
    """The gather take(x, idx, fill_value) (linear in x, idx indexing x's
    `axis` as jnp.take does: negative from the end, "fill" outside) with the
    gradient grad_call(x, idx, g), a custom call that sums in a fixed order (no
    scatter). That gradient is itself differentiable in g: its transpose is
    the gather, an index outside [0, n) adding nothing and getting a zero
    cotangent; so gradients of gradients work."""

    @jax.custom_vjp
    def grad(x, idx, g):
        return grad_call(x, idx, g)

    def grad_fwd(x, idx, g):
        return grad_call(x, idx, g), idx

    def grad_bwd(idx, ct):
        return None, None, take(ct, idx, 0)

    grad.defvjp(grad_fwd, grad_bwd)

    @jax.custom_vjp
    def gather(x, idx):
        return take(x, idx, None)

    def fwd(x, idx):
        return take(x, idx, None), (x, idx)

    def bwd(residuals, g):
        x, idx = residuals
        # jnp.take reads idx in [-n, 0) from the end and fills below -n; the
        # custom calls drop what is outside [0, n): wrapped once here and
        # below -n sent to n, the gradient (and its transpose's take, which
        # would wrap again) follows the forward.
        n = x.shape[axis]
        idx = jnp.where(idx < 0, jnp.where(idx < -n, n, idx + n), idx)
        return grad(x, idx, g), None

    gather.defvjp(fwd, bwd)
    return gather


def _take_rows(x, idx, fill_value=None):
    """x [B, N, Q] at idx [B, T, R]: [B, T, R, Q]."""
    return jax.vmap(lambda xb, ib: jnp.take(xb, ib, axis=0, fill_value=fill_value))(x, idx)


def _take_symbols(x, idx, fill_value=None):
    """x [B, T, V] at idx [B, S]: [B, S, T] (out[b, s, t] = x[b, t, idx[b, s]])."""
    taken = jax.vmap(lambda xb, ib: jnp.take(xb, ib, axis=1, fill_value=fill_value))(x, idx)
    return jnp.transpose(taken, (0, 2, 1))


# lm at the pruning windows (cc/gather_rows_grad.h) and am at the symbols
# (cc/gather_symbols_grad.h).
_gather_rows = _fixed_order_gather(_take_rows, 1, _ffi.gather_rows_grad)
_gather_symbols = _fixed_order_gather(_take_symbols, 2, _ffi.gather_symbols_grad)


def gather_batched(x, idx, axis):
    """Per item b: take(x[b], idx[b], axis - 1); shape
    x.shape[:axis] + idx.shape[1:] + x.shape[axis + 1:]. Gradient without a
    scatter where each item has fewer indices than x has entries along axis
    (am at the symbols), and for rows of x [B, N, Q] at windows idx [B, T, R]
    (lm at the pruning windows: the custom call cc/gather_rows_grad.h, summed
    in a fixed order); otherwise (float16/bfloat16 windows) autodiff's."""
    if not _is_float(x):
        return _gather_batched_plain(x, idx, axis)
    if 0 < int(np.prod(idx.shape[1:])) < x.shape[axis]:
        return _gather_batched(x, idx, axis, tuple(x.shape[1:]))
    if (
        axis == 1
        and x.ndim == idx.ndim == 3
        and x.dtype in (jnp.float32, jnp.float64)
        and idx.dtype == jnp.int32
    ):
        return _gather_rows(x, idx)
    return _gather_batched_plain(x, idx, axis)


def gather_symbols(x, idx):
    """x [B, T, V] at idx [B, S] as [B, S, T]: out[b, s, t] = x[b, t, idx[b, s]].
    Gradient (float32, float64): the custom call cc/gather_symbols_grad.h, one
    fixed-order pass; otherwise gather_batched's."""
    if x.dtype in (jnp.float32, jnp.float64) and idx.dtype == jnp.int32:
        return _gather_symbols(x, idx)
    return jnp.transpose(gather_batched(x, idx, 2), (0, 2, 1))


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
    """Whether jit places computations on a GPU by default (decided at trace time)."""
    return jax.default_backend() == "gpu"


def logsoftmax_gather(logits, symbols, blank, hat):
    """(px, py): log_softmax(logits) (hat: HAT's log-probabilities) at symbols
    (int32, -inf outside [0, C)) and at blank, one fused pass
    (cc/logsoftmax_gather.h)."""
    return _logsoftmax_gather(logits, symbols, blank, hat)


def same_batch(names, arrays):
    """arrays: under jit every shape is known at trace time (jax.export's
    symbolic batch sizes are checked by JAX itself), so the trace-time check
    has already compared them."""
    return arrays
