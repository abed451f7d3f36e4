"""The JAX side of the custom calls, derived from their declarations in
xla_rnnt/_targets.py.

Every call is wrapped (see notes/distributed.md) in:

* ``jax.experimental.custom_partitioning`` tells the SPMD partitioner (Shardy,
  or GSPMD where it is still switched on) that the recursion is independent per
  batch item (and the log-softmax gather per row of logits): operands sharded
  over their leading (batch) axes give results sharded the same way, each
  device running the same handler on its local batch, with no all-gather of
  px/py/boundary or logits. The S/T (and class) axes are ``need_replication``
  factors: an operand sharded there is gathered along them only. On one
  device the wrapper lowers to the plain custom call.
* ``jax.custom_batching.custom_vmap`` gives jax.vmap what ffi_call's
  ``vmap_method="broadcast_all"`` gave it before (custom_partitioning has no
  batching rule): every operand gets the mapped axis in front and the same
  call runs again, the handlers flattening leading axes into the batch.
* ``jax.jit``, so that an eager call on sharded arrays is partitioned too.
"""

import functools
import math

import jax
import jax.numpy as jnp
from jax.experimental.custom_partitioning import custom_partitioning
from jax.sharding import NamedSharding, PartitionSpec

from .. import _targets
from . import _registry

_registry.register()


def _result_shapes(target, *args):
    """ShapeDtypeStructs of target's results (xla_rnnt/_targets.py) for args."""
    shapes = target.result_shapes([x.shape for x in args])
    dtype = args[target.dtype_operand].dtype
    return tuple(jax.ShapeDtypeStruct(shape, dtype) for shape in shapes)


def _batch_spec(mesh, shape, lead):
    """The PartitionSpec entries of shape's first `lead` axes that the
    partitioner should keep: those of `shape.sharding` that divide the axis
    evenly (padding a shard would hand the handler made-up boundary rows)."""
    sharding = getattr(shape, "sharding", None)
    if not isinstance(sharding, NamedSharding) or lead == 0:
        return (None,) * lead
    spec = tuple(sharding.spec) + (None,) * (len(shape.shape) - len(sharding.spec))
    out, used = [], set()
    for size, entry in zip(shape.shape[:lead], spec[:lead]):
        axes = () if entry is None else (entry,) if isinstance(entry, str) else tuple(entry)
        if not axes or used.intersection(axes):
            out.append(None)
            continue
        if size % math.prod(mesh.shape[a] for a in axes):
            out.append(None)
            continue
        used.update(axes)
        out.append(entry)
    return tuple(out)


def _shardings(mesh, arg_shapes, result_avals, trailing):
    """Batch-sharded shardings for operands and results, from operand 0's
    sharding; operand 0 has `trailing` non-batch axes."""
    lead = len(arg_shapes[0].shape) - trailing
    batch = _batch_spec(mesh, arg_shapes[0], lead)

    def make(x):
        return NamedSharding(mesh, PartitionSpec(*batch, *(None,) * (len(x.shape) - lead)))

    return tuple(make(a) for a in arg_shapes), tuple(make(r) for r in result_avals)


def _partitioned(target, **attributes):
    """custom_partitioning + custom_vmap wrapper of one target (a
    _targets.Target); `attributes` are the handler's static FFI attributes."""
    attributes = target.attribute_values(attributes)
    trailing = target.trailing

    def raw_call(*args):
        # No vmap_method: jax.vmap never reaches this call (custom_vmap below).
        return jax.ffi.ffi_call(target.name, _result_shapes(target, *args))(*args, **attributes)

    @custom_partitioning
    def call(*args):
        return raw_call(*args)

    def partition(mesh, arg_shapes, result_shape):
        arg_shardings, result_shardings = _shardings(mesh, arg_shapes, result_shape, trailing)
        # raw_call gets the local shards: the batch axes only are split.
        return mesh, raw_call, result_shardings, arg_shardings

    def infer_sharding_from_operands(mesh, arg_shapes, result_shape):  # GSPMD only
        return _shardings(mesh, arg_shapes, result_shape, trailing)[1]

    call.def_partition(
        partition=partition,
        infer_sharding_from_operands=infer_sharding_from_operands,
        sharding_rule=target.sharding_rule,
        need_replication_factors=target.replicated,
    )

    @jax.custom_batching.custom_vmap
    def batched(*args):
        return call(*args)

    @batched.def_vmap
    def _vmap_rule(axis_size, in_batched, *args):
        # Mapped axes arrive in front; give every operand one (the handlers
        # flatten leading axes into the batch), then call again: nested vmaps
        # come back here, a sharded caller reaches the partitioner.
        args = [
            x if b else jnp.broadcast_to(x, (axis_size, *x.shape))
            for x, b in zip(args, in_batched)
        ]
        out = batched(*args)
        return out, tuple(True for _ in out)

    # jit: an eager call on sharded arrays is partitioned too (not gathered
    # by op-by-op dispatch); inside an outer jit it is inlined.
    return jax.jit(batched)


_mi_forward = _partitioned(_targets.MI_FORWARD)
_mi_forward_backward = _partitioned(_targets.MI_FORWARD_BACKWARD)


def mi_forward(px, py, boundary):
    """scores [B] of the recursion (cc/mutual_information.h)."""
    scores, _p = _mi_forward(px, py, boundary)
    return scores


def mi_forward_backward(px, py, boundary):
    """(scores [B], px_grad, py_grad): scores and their gradient for ans_grad = 1."""
    scores, px_grad, py_grad, _p, _g = _mi_forward_backward(px, py, boundary)
    return scores, px_grad, py_grad


@functools.lru_cache(maxsize=None)
def _gather_calls(blank, hat):
    """The (forward, gradient) calls for one blank and hat (static attributes)."""
    return (
        _partitioned(_targets.LOGSOFTMAX_GATHER, blank=blank, hat=hat),
        _partitioned(_targets.LOGSOFTMAX_GATHER_GRAD, blank=blank, hat=hat),
    )


def logsoftmax_gather(logits, symbols, blank, hat):
    """(px, py, normalizers), each [...] for logits [..., C] and int32 symbols
    [...] (cc/logsoftmax_gather.h); hat: the HAT factorisation."""
    return _gather_calls(blank, hat)[0](logits, symbols)


def logsoftmax_gather_grad(logits, symbols, normalizers, px_grad, py_grad, blank, hat):
    """logits_grad [..., C] for the cotangents px_grad, py_grad of px, py."""
    (logits_grad,) = _gather_calls(blank, hat)[1](logits, symbols, normalizers, px_grad, py_grad)
    return logits_grad


_gather_rows_grad = _partitioned(_targets.GATHER_ROWS_GRAD)
_gather_symbols_grad = _partitioned(_targets.GATHER_SYMBOLS_GRAD)


@functools.lru_cache(maxsize=None)
def _band_calls(S, modified):
    """The (forward, forward-backward, backward) calls of the band recursion
    for one S and modified (static attributes)."""
    return tuple(
        _partitioned(target, S=S, modified=modified)
        for target in (
            _targets.BAND_FORWARD,
            _targets.BAND_FORWARD_BACKWARD,
            _targets.BAND_BACKWARD,
        )
    )


def band_forward(px, py, starts, boundary, S, modified):
    """(scores [B], split [B, T, R], final_split [B]) of the band recursion
    (cc/band_recursion.h); split and final_split: the backward's workspace."""
    return _band_calls(S, modified)[0](px, py, starts, boundary)


def band_forward_backward(px, py, starts, boundary, S, modified):
    """(scores [B], px_grad, py_grad [B, T, R]): scores and their gradient for
    ans_grad = 1."""
    scores, px_grad, py_grad, _split, _final = _band_calls(S, modified)[1](
        px, py, starts, boundary
    )
    return scores, px_grad, py_grad


def band_backward(starts, boundary, split, final_split, S, modified):
    """(px_grad, py_grad) for ans_grad = 1, from the workspace of band_forward."""
    return _band_calls(S, modified)[2](starts, boundary, split, final_split)


def gather_rows_grad(x, idx, g):
    """x_grad [..., N, Q]: the gradient of x[..., idx[..., t, r], :] for its
    cotangent g [..., T, R, Q], summed in a fixed order (cc/gather_rows_grad.h)."""
    x_grad, _sorted = _gather_rows_grad(x, idx, g)
    return x_grad


def gather_symbols_grad(x, idx, g):
    """x_grad [..., T, V]: the gradient of x[..., t, idx[..., s]] taken as
    [..., S, T] for its cotangent g, summed in a fixed order
    (cc/gather_symbols_grad.h)."""
    x_grad, _links = _gather_symbols_grad(x, idx, g)
    return x_grad
