"""The TF side of the custom calls: typed wrappers (importing it registers the
handlers into TF).

Result shapes are written in terms of operand dimensions (Dim), so an unknown
batch size traces once and serves every batch size.
"""
import tensorflow as tf

from . import _registry
from ._xla_module import Dim, ffi_call

_registry.register()

# px, py, boundary are operands 0, 1, 2 of every mi_* call below.
_B = Dim(0, 0)
_LATTICE = (_B, Dim(1, 1), Dim(1, 2, 1))  # [B, S+1, T+1]


def _like(operand, rank):
    return tuple(Dim(operand, axis) for axis in range(rank))


def mi_forward(px, py, boundary):
    """(scores [B], p [B, S+1, T+1]) of the recursion (cc/mutual_information.h)."""
    return ffi_call("xla_rnnt_mi_forward", [px, py, boundary],
                    [((_B,), px.dtype), (_LATTICE, px.dtype)])


def _handoff(py):
    """The backward's workspace g [B, ceil((S+1)/32), T+1] (S is static)."""
    return (_B, (py.shape[1] + 31) // 32, Dim(1, 2, 1))


def mi_forward_backward(px, py, boundary):
    """(scores, px_grad, py_grad): scores and their gradient for a unit cotangent."""
    scores, px_grad, py_grad, _p, _g = ffi_call(
        "xla_rnnt_mi_forward_backward", [px, py, boundary],
        [((_B,), px.dtype), (_like(0, 3), px.dtype), (_like(1, 3), px.dtype),
         (_LATTICE, px.dtype), (_handoff(py), px.dtype)])
    return scores, px_grad, py_grad


def mi_backward(px, py, boundary, p):
    """(px_grad, py_grad) for a unit cotangent, from p of mi_forward."""
    px_grad, py_grad, _g = ffi_call(
        "xla_rnnt_mi_backward", [px, py, boundary, p],
        [(_like(0, 3), px.dtype), (_like(1, 3), px.dtype), (_handoff(py), px.dtype)])
    return px_grad, py_grad


def full_boundary(px, S, T):
    """[B, 4] rows (0, 0, S, T) with B read from px at run time."""
    return tf.tile(tf.constant([[0, 0, S, T]], tf.int32), tf.stack([tf.shape(px)[0], 1]))


def logsoftmax_gather(logits, symbols, blank):
    """(px, py, normalizers), each shaped like symbols [...], for logits [..., C]."""
    rows = (_like(1, len(symbols.shape)), logits.dtype)
    return ffi_call("xla_rnnt_logsoftmax_gather", [logits, symbols], [rows, rows, rows],
                    attributes={"blank": int(blank)})


def logsoftmax_gather_grad(logits, symbols, normalizers, px_grad, py_grad, blank):
    """logits_grad [..., C] for the cotangents px_grad, py_grad of px, py."""
    (logits_grad,) = ffi_call(
        "xla_rnnt_logsoftmax_gather_grad", [logits, symbols, normalizers, px_grad, py_grad],
        [(_like(0, len(logits.shape)), logits.dtype)], attributes={"blank": int(blank)})
    return logits_grad
