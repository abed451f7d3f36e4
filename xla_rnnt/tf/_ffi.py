"""The TF side of the custom calls, derived from their declarations in
xla_rnnt/_targets.py (importing it registers the handlers into TF).

Result dims are Dim formulas of operand dims where the table's are plain
sizes (so an unknown batch size traces once and serves every batch size), and
static ints where a formula divides (the handoff rows; S is always static).
"""

import tensorflow as tf

from .. import _targets
from . import _registry
from ._xla_module import Dim, ffi_call

_registry.register()


def _results(target, operands):
    """[(dims, dtype)] of target's results for these operands."""
    lead = len(operands[0].shape) - target.trailing
    dtype = operands[target.dtype_operand].dtype
    results = []
    for result in target.results:
        dims = [Dim(0, axis) for axis in range(lead)]
        for size in result.trailing:
            if size.divisor == 1:
                dims.append(Dim(size.operand, size.axis, size.offset))
                continue
            known = operands[size.operand].shape[size.axis]
            if known is None:
                raise ValueError(
                    f"{target.name}: axis {size.axis} of "
                    f"{target.operands[size.operand]} must be known at trace time"
                )
            dims.append((known + size.offset) // size.divisor)
        results.append((tuple(dims), dtype))
    return results


def call(target, *operands, **attributes):
    """The results of custom call `target` (a _targets.Target) as a list."""
    values = target.attribute_values(attributes)
    operands = [tf.convert_to_tensor(x) for x in operands]
    return ffi_call(target.name, operands, _results(target, operands), attributes=values)


def mi_forward(px, py, boundary):
    """(scores [B], p [B, S+1, T+1]) of the recursion (cc/mutual_information.h)."""
    return tuple(call(_targets.MI_FORWARD, px, py, boundary))


def mi_forward_backward(px, py, boundary):
    """(scores, px_grad, py_grad): scores and their gradient for a unit cotangent."""
    scores, px_grad, py_grad, _p, _g = call(_targets.MI_FORWARD_BACKWARD, px, py, boundary)
    return scores, px_grad, py_grad


def mi_backward(px, py, boundary, p):
    """(px_grad, py_grad) for a unit cotangent, from p of mi_forward."""
    px_grad, py_grad, _g = call(_targets.MI_BACKWARD, px, py, boundary, p)
    return px_grad, py_grad


def band_forward(px, py, starts, boundary, S, modified):
    """(scores [B], split [B, T, R], final_split [B]) of the band recursion
    (cc/band_recursion.h); split and final_split: the backward's workspace."""
    return tuple(call(_targets.BAND_FORWARD, px, py, starts, boundary, S=S, modified=modified))


def band_forward_backward(px, py, starts, boundary, S, modified):
    """(scores, px_grad, py_grad): scores and their gradient for a unit cotangent."""
    scores, px_grad, py_grad, _split, _final = call(
        _targets.BAND_FORWARD_BACKWARD, px, py, starts, boundary, S=S, modified=modified
    )
    return scores, px_grad, py_grad


def band_backward(starts, boundary, split, final_split, S, modified):
    """(px_grad, py_grad) for a unit cotangent, from the workspace of band_forward."""
    return tuple(
        call(_targets.BAND_BACKWARD, starts, boundary, split, final_split, S=S, modified=modified)
    )


def logsoftmax_gather(logits, symbols, blank, hat):
    """(px, py, normalizers), each shaped like symbols [...], for logits [..., C];
    hat: the HAT factorisation (cc/logsoftmax_gather.h)."""
    return tuple(call(_targets.LOGSOFTMAX_GATHER, logits, symbols, blank=blank, hat=hat))


def logsoftmax_gather_grad(logits, symbols, normalizers, px_grad, py_grad, blank, hat):
    """logits_grad [..., C] for the cotangents px_grad, py_grad of px, py."""
    (logits_grad,) = call(
        _targets.LOGSOFTMAX_GATHER_GRAD,
        logits,
        symbols,
        normalizers,
        px_grad,
        py_grad,
        blank=blank,
        hat=hat,
    )
    return logits_grad


def gather_rows_grad(x, idx, g):
    """x_grad [..., N, Q]: the gradient of x[..., idx[..., t, r], :] for its
    cotangent g [..., T, R, Q], summed in a fixed order (cc/gather_rows_grad.h)."""
    x_grad, _sorted = call(_targets.GATHER_ROWS_GRAD, x, idx, g)
    return x_grad


def gather_symbols_grad(x, idx, g):
    """x_grad [..., T, V]: the gradient of x[..., t, idx[..., s]] taken as
    [..., S, T] for its cotangent g, summed in a fixed order
    (cc/gather_symbols_grad.h)."""
    x_grad, _links = call(_targets.GATHER_SYMBOLS_GRAD, x, idx, g)
    return x_grad
