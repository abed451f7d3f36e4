"""The JAX backend adapter of xla_rnnt._rnnt (jax.numpy / lax)."""

import functools

import jax
import jax.numpy as jnp
from jax import lax

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


def take_along_last(x, idx):
    """out[..., k] = x[..., idx[..., k]]; idx has x's leading dims."""
    return jnp.take_along_axis(x, idx, axis=-1)


def gather_batched(x, idx, axis):
    """Per item b: take(x[b], idx[b], axis - 1); shape
    x.shape[:axis] + idx.shape[1:] + x.shape[axis + 1:]."""
    return jax.vmap(lambda xb, ib: jnp.take(xb, ib, axis=axis - 1))(x, idx)


def mi_scores(px, py, boundary):
    """scores [B] of the recursion, differentiable in px and py."""
    return _mi.scores(px, py, boundary)


def mi_scores_and_grads(px, py, boundary):
    """(scores, px_grad, py_grad); the occupations are constants for autodiff."""
    return _mi.scores_and_grads(px, py, boundary)


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
