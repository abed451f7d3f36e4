"""The JAX side of the custom calls: registration and typed ffi_call wrappers."""
import jax
import jax.numpy as jnp

from .. import _native

_native.register_jax()


def _call(target, results, *operands):
    # broadcast_all: jax.vmap adds leading axes to every operand, and the
    # handlers flatten leading axes into the batch.
    return jax.ffi.ffi_call(target, results, vmap_method="broadcast_all")(*operands)


def mi_forward(px, py, boundary):
    """scores [B] of the recursion (cc/mutual_information.h)."""
    *lead, S, _ = px.shape
    T = py.shape[-1]
    scores, _p = _call("xla_rnnt_mi_forward",
                       (jax.ShapeDtypeStruct(tuple(lead), px.dtype),
                        jax.ShapeDtypeStruct((*lead, S + 1, T + 1), px.dtype)),
                       px, py, boundary)
    return scores


def mi_forward_backward(px, py, boundary):
    """(scores [B], px_grad, py_grad): scores and their gradient for ans_grad = 1."""
    *lead, S, _ = px.shape
    T = py.shape[-1]
    lattice = jax.ShapeDtypeStruct((*lead, S + 1, T + 1), px.dtype)
    scores, px_grad, py_grad, _p, _g = _call(
        "xla_rnnt_mi_forward_backward",
        (jax.ShapeDtypeStruct(tuple(lead), px.dtype), jax.ShapeDtypeStruct(px.shape, px.dtype),
         jax.ShapeDtypeStruct(py.shape, py.dtype), lattice, lattice),
        px, py, boundary)
    return scores, px_grad, py_grad


def full_boundary(B, S, T):
    """[B, 4] rows (0, 0, S, T): the whole lattice."""
    return jnp.broadcast_to(jnp.array([0, 0, S, T], jnp.int32), (B, 4))
