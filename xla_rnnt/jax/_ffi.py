"""The JAX side of the custom calls: typed ffi_call wrappers.

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
import numpy as np
from jax.experimental.custom_partitioning import custom_partitioning
from jax.sharding import NamedSharding, PartitionSpec

from . import _registry

_registry.register()


def _forward_results(px, py, boundary):
    *lead, S, _ = px.shape
    T = py.shape[-1]
    return (jax.ShapeDtypeStruct(tuple(lead), px.dtype),
            jax.ShapeDtypeStruct((*lead, S + 1, T + 1), px.dtype))


def _forward_backward_results(px, py, boundary):
    *lead, S, _ = px.shape
    T = py.shape[-1]
    # g: the backward's band-edge rows (cc/mutual_information.h, handoff_rows).
    return (jax.ShapeDtypeStruct(tuple(lead), px.dtype), jax.ShapeDtypeStruct(px.shape, px.dtype),
            jax.ShapeDtypeStruct(py.shape, py.dtype),
            jax.ShapeDtypeStruct((*lead, S + 1, T + 1), px.dtype),
            jax.ShapeDtypeStruct((*lead, (S + 32) // 32, T + 1), px.dtype))


# Shardy rules: "..." are the batch axes, shared by every operand and result;
# every other factor must be replicated: s = S, r = S+1, t = T, x = px's last
# axis (T+1 or T), u = the lattices' T+1, f = boundary's 4, h = the handoff
# rows of g, c = the classes.
_RULES = {
    "xla_rnnt_mi_forward": "... s x, ... r t, ... f -> ..., ... r u",
    "xla_rnnt_mi_forward_backward":
        "... s x, ... r t, ... f -> ..., ... s x, ... r t, ... r u, ... h u",
    "xla_rnnt_logsoftmax_gather": "... c, ... -> ..., ..., ...",
    "xla_rnnt_logsoftmax_gather_grad": "... c, ..., ..., ..., ... -> ... c",
}
_LATTICE_FACTORS = ("s", "x", "r", "t", "f", "u")
_TRAILING = {  # per target: (its replicated factors, operand 0's non-batch rank)
    "xla_rnnt_mi_forward": (_LATTICE_FACTORS, 2),
    "xla_rnnt_mi_forward_backward": (_LATTICE_FACTORS + ("h",), 2),
    "xla_rnnt_logsoftmax_gather": (("c",), 1),
    "xla_rnnt_logsoftmax_gather_grad": (("c",), 1),
}


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


def _partitioned(target, results_fn, **attributes):
    """custom_partitioning + custom_vmap wrapper of one target; `attributes`
    are the handler's (static) FFI attributes."""
    factors, trailing = _TRAILING[target]

    def raw_call(*args):
        # No vmap_method: jax.vmap never reaches this call (custom_vmap below).
        return jax.ffi.ffi_call(target, results_fn(*args))(*args, **attributes)

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
        sharding_rule=_RULES[target],
        need_replication_factors=factors)

    @jax.custom_batching.custom_vmap
    def batched(*args):
        return call(*args)

    @batched.def_vmap
    def _vmap_rule(axis_size, in_batched, *args):
        # Mapped axes arrive in front; give every operand one (the handlers
        # flatten leading axes into the batch), then call again: nested vmaps
        # come back here, a sharded caller reaches the partitioner.
        args = [x if b else jnp.broadcast_to(x, (axis_size, *x.shape))
                for x, b in zip(args, in_batched)]
        out = batched(*args)
        return out, tuple(True for _ in out)

    # jit: an eager call on sharded arrays is partitioned too (not gathered
    # by op-by-op dispatch); inside an outer jit it is inlined.
    return jax.jit(batched)


_mi_forward = _partitioned("xla_rnnt_mi_forward", _forward_results)
_mi_forward_backward = _partitioned("xla_rnnt_mi_forward_backward", _forward_backward_results)


def mi_forward(px, py, boundary):
    """scores [B] of the recursion (cc/mutual_information.h)."""
    scores, _p = _mi_forward(px, py, boundary)
    return scores


def mi_forward_backward(px, py, boundary):
    """(scores [B], px_grad, py_grad): scores and their gradient for ans_grad = 1."""
    scores, px_grad, py_grad, _p, _g = _mi_forward_backward(px, py, boundary)
    return scores, px_grad, py_grad


def full_boundary(B, S, T):
    """[B, 4] rows (0, 0, S, T): the whole lattice."""
    return jnp.broadcast_to(jnp.array([0, 0, S, T], jnp.int32), (B, 4))


def _gather_results(logits, symbols):
    rows = jax.ShapeDtypeStruct(symbols.shape, logits.dtype)
    return rows, rows, rows


def _gather_grad_results(logits, *_):
    return jax.ShapeDtypeStruct(logits.shape, logits.dtype)


@functools.lru_cache(maxsize=None)
def _gather_calls(blank):
    """The (forward, gradient) calls for one blank (a static attribute)."""
    return (_partitioned("xla_rnnt_logsoftmax_gather", _gather_results, blank=np.int64(blank)),
            _partitioned("xla_rnnt_logsoftmax_gather_grad", _gather_grad_results,
                         blank=np.int64(blank)))


def logsoftmax_gather(logits, symbols, blank):
    """(px, py, normalizers), each [...] for logits [..., C] and int32 symbols
    [...] (cc/logsoftmax_gather.h)."""
    return _gather_calls(blank)[0](logits, symbols)


def logsoftmax_gather_grad(logits, symbols, normalizers, px_grad, py_grad, blank):
    """logits_grad [..., C] for the cotangents px_grad, py_grad of px, py."""
    return _gather_calls(blank)[1](logits, symbols, normalizers, px_grad, py_grad)
