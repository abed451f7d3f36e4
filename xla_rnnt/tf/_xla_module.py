"""Call a typed XLA FFI custom call (api_version 4) from TensorFlow.

TensorFlow has no Python API for typed FFI custom calls. The one door that takes
them is the ``XlaCallModule`` op (the op jax2tf uses): it receives a StableHLO
module, and XLA runs whatever handler is registered under the custom call's
target name. This module writes that StableHLO by hand (plain strings, no JAX,
no MLIR bindings) and calls the op.

Handlers are registered into TF's own FFI registry (separate from JAX's) by
``xla_rnnt.tf._registry``, for platform "Host" (CPU) and "CUDA".

Unknown dimensions: the module is emitted with dynamic (``?``) dimensions and
``jax.uses_shape_polymorphism = true``. ``XlaCallModule`` then refines it to the
runtime shapes each time XLA compiles it, so one TF trace serves every size.
Result dimensions that depend on operand dimensions (:class:`Dim`) are computed
in the module with ``stablehlo.get_dimension_size`` and handed to the custom call
as shape operands listed in ``indices_of_shape_operands`` (jax.export's
convention); shape refinement folds them to constants and drops them, so the
handler never sees them.

Errors you may meet. They come when XLA compiles or runs the module: at the call
when eager, at the first run of a ``tf.function``, never at trace time (the FFI
C API has no lookup, so a missing handler cannot be detected earlier):

* ``NotFoundError: No FFI handler registered for <target> on a platform Host
  (canonical host)`` (or CUDA): nothing registered ``<target>`` into TF's
  registry in this process, e.g. after loading a SavedModel in a fresh process.
  Register, then call again; no reload or retrace is needed.
* ``InvalidArgumentError: [execute] Wrong number of arguments: expected 1 but
  got 2``, ``... Wrong number of attributes: expected 3 but got 2 with name(s):
  offset, scale``, ``... Failed to decode all FFI handler operands (bad operands
  at: 0) Diagnostics: Wrong buffer dtype: expected F32 but got F64`` (also
  ``Wrong scalar data type`` for an attribute; positions count the binding
  order): the call does not match the handler's ``Ffi::Bind()``.
* ``NotFoundError: The current platform CPU is not among the platforms required
  by the module: [CUDA]``: TF placed the op on a device missing from
  ``platforms``.
* At registration, not here: ``handler's API version (0.5) is incompatible with
  the framework's API version (0.2)``: build handlers against TF's own headers
  (``tensorflow/include/xla/ffi/api``, FFI 0.2 in TF 2.21).
"""

from __future__ import annotations

import functools
import re
from typing import Mapping, NamedTuple, Sequence, Union

import numpy as np
import tensorflow as tf
from tensorflow.compiler.tf2xla.python import xla as _tfxla

__all__ = ["Dim", "ffi_call", "module_text"]

# XlaCallModule version 10 is what jax2tf emits today and the highest TF 2.21
# accepts (>= 9 honours `jax.uses_shape_polymorphism`; >= 5 takes `platforms`).
_CALL_MODULE_VERSION = min(10, _tfxla.call_module_maximum_supported_version())


class Dim(NamedTuple):
    """A result dimension equal to ``operands[operand].shape[axis] + offset``.

    Resolved at trace time when that operand dimension is static, otherwise
    computed in the module from the runtime shape.
    """

    operand: int
    axis: int
    offset: int = 0


ResultSpec = tuple[Sequence[Union[int, Dim]], tf.DType]
AttrValue = Union[bool, int, float, str, np.generic]

# StableHLO element types. Signed integers are signless in StableHLO (i32);
# unsigned ones are spelled ui32.
_MLIR_DTYPES = {
    tf.bool: "i1",
    tf.int8: "i8",
    tf.int16: "i16",
    tf.int32: "i32",
    tf.int64: "i64",
    tf.uint8: "ui8",
    tf.uint16: "ui16",
    tf.uint32: "ui32",
    tf.uint64: "ui64",
    tf.float16: "f16",
    tf.bfloat16: "bf16",
    tf.float32: "f32",
    tf.float64: "f64",
    tf.complex64: "complex<f32>",
    tf.complex128: "complex<f64>",
}

# The module goes to XlaCallModule as portable StableHLO bytecode (VHLO), the
# form with a compatibility guarantee: a SavedModel holding it stays loadable by
# later TF releases, whose StableHLO text syntax may change. 1.3.0 is the first
# VHLO version with a dictionary `backend_config` (typed FFI attributes); a
# SavedModel written with it loads in any TF from then on. Without TF's
# StableHLO bindings the text is passed instead (XlaCallModule parses either).
_VHLO_FLOOR = "1.3.0"
try:
    from tensorflow.compiler.mlir.stablehlo import stablehlo as _stablehlo
except ImportError:  # not in every TF build
    _stablehlo = None


def _serialize(text: str) -> str | bytes:
    if _stablehlo is None:
        return text
    # Old targets leave the VHLO window after some years; never go below it.
    lower = _stablehlo.get_minimum_version()
    target = _VHLO_FLOOR if _stablehlo.get_smaller_version(lower, _VHLO_FLOOR) == lower else lower
    return _stablehlo.serialize_portable_artifact_str(text, target)


# XlaCallModule's platform names -> what `platforms` may contain. FFI
# registration uses other names ("Host", "CUDA").
_PLATFORMS = ("CPU", "CUDA", "ROCM", "TPU")

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_$.]*\Z")

# A shape is a tuple of ints, None for a dimension unknown at trace time.
_Shape = tuple[Union[int, None], ...]


def _tensor_type(shape: Sequence[int | None], dtype: str) -> str:
    dims = "".join(("?" if d is None else str(d)) + "x" for d in shape)
    return f"tensor<{dims}{dtype}>"


def _layout(rank: int) -> str:
    # Row-major ("{rank-1, ..., 0}") is what handlers assume; spelled out so
    # layout assignment cannot pick another one for the custom call.
    if rank == 0:
        return "dense<> : tensor<0xindex>"
    minor_to_major = ", ".join(str(i) for i in reversed(range(rank)))
    return f"dense<[{minor_to_major}]> : tensor<{rank}xindex>"


def _attr(name: str, value: AttrValue) -> str:
    """One entry of the FFI attribute dictionary (``backend_config``)."""
    if not _IDENT.match(name):
        raise ValueError(f"attribute name {name!r} is not a bare MLIR identifier")
    # bool before int: bool is an int subclass.
    if isinstance(value, (bool, np.bool_)):
        return f"{name} = {'true' if value else 'false'}"
    if isinstance(value, np.generic):
        dtype = tf.as_dtype(value.dtype)
        if dtype.is_floating:
            return _float_attr(name, value)
        if dtype.is_integer:
            return f"{name} = {int(value)} : {_MLIR_DTYPES[dtype]}"
    elif isinstance(value, int):
        return f"{name} = {value} : i64"
    elif isinstance(value, float):
        return _float_attr(name, np.float32(value))
    elif isinstance(value, str):
        # MLIR strings are bytes; escape all but printable ASCII as \XX.
        escaped = "".join(
            chr(b) if 0x20 <= b < 0x7F and b not in b'"\\' else f"\\{b:02X}"
            for b in value.encode()
        )
        return f'{name} = "{escaped}"'
    raise TypeError(
        f"attribute {name!r}: unsupported value {value!r} "
        f"({type(value).__name__}); use bool, int, float, str or a numpy scalar"
    )


def _float_attr(name: str, value: np.generic) -> str:
    # The hexadecimal bit pattern is exact; decimal text may round.
    bits = np.asarray(value).view(f"u{value.itemsize}").item()
    return f"{name} = 0x{bits:0{2 * value.itemsize}X} : {_MLIR_DTYPES[tf.as_dtype(value.dtype)]}"


def _canon_results(
    results: Sequence[ResultSpec],
) -> tuple[tuple[tuple[int | Dim, ...], tf.DType], ...]:
    out = []
    for dims, dtype in results:
        canon = []
        for d in dims:
            if isinstance(d, Dim):
                canon.append(Dim(int(d.operand), int(d.axis), int(d.offset)))
            elif isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d >= 0:
                canon.append(int(d))
            else:
                raise TypeError(f"result dimension {d!r}: expected a non-negative int or Dim")
        out.append((tuple(canon), tf.as_dtype(dtype)))
    return tuple(out)


@functools.lru_cache(maxsize=1024)
def _serialized(*key) -> tuple[str | bytes, tuple[tf.TensorShape, ...]]:
    text, shapes = _build(*key)
    return _serialize(text), shapes


def _build(
    target: str,
    operands: tuple[tuple[_Shape, tf.DType], ...],
    results: tuple[tuple[tuple[int | Dim, ...], tf.DType], ...],
    attributes: tuple[tuple[str, str], ...],
    platforms: tuple[str, ...],
) -> tuple[str, tuple[tf.TensorShape, ...]]:
    """Returns (module text, static result shapes)."""
    lines: list[str] = []
    ops_types = [_tensor_type(s, _MLIR_DTYPES[t]) for s, t in operands]
    polymorphic = any(d is None for s, _ in operands for d in s)

    # Resolve result dims: an int is static; a Dim is static if its operand
    # axis is, else it names an SSA value computed below.
    dim_values: dict[tuple[int, int], str] = {}  # (operand, axis) -> %value
    counter = iter(range(1 << 30))

    def fresh() -> str:
        return f"%{next(counter)}"

    def arg(i: int) -> str:
        return f"%arg{i + (1 if len(platforms) > 1 else 0)}"

    res_shapes: list[list[int | None]] = []
    res_dims: list[list[int | Dim]] = []
    for dims, dtype in results:
        if dtype not in _MLIR_DTYPES:
            raise TypeError(f"unsupported result dtype {dtype!r}")
        shape: list[int | None] = []
        resolved: list[int | Dim] = []
        for d in dims:
            if isinstance(d, Dim):
                if not 0 <= d.operand < len(operands):
                    raise ValueError(f"{d}: no operand {d.operand}")
                rank = len(operands[d.operand][0])
                axis = d.axis + rank if d.axis < 0 else d.axis
                if not 0 <= axis < rank:
                    raise ValueError(f"{d}: operand {d.operand} has rank {rank}")
                size = operands[d.operand][0][axis]
                if size is not None:
                    if size + d.offset < 0:
                        raise ValueError(f"{d} is {size + d.offset} < 0")
                    d = size + d.offset
                else:
                    d = Dim(d.operand, axis, d.offset)
            shape.append(None if isinstance(d, Dim) else d)
            resolved.append(d)
        res_shapes.append(shape)
        res_dims.append(resolved)
    res_types = [_tensor_type(s, _MLIR_DTYPES[t]) for s, (_, t) in zip(res_shapes, results)]

    # Shape operands: jax's convention is one 1-D i32 shape tensor per result,
    # for every result as soon as any result has a dynamic dimension.
    call_operands = [arg(i) for i in range(len(operands))]
    call_types = list(ops_types)
    call_layouts = [_layout(len(s)) for s, _ in operands]
    shape_indices: list[int] = []
    if any(d is None for s in res_shapes for d in s):
        for dims in res_dims:
            pieces = []
            for d in dims:
                if isinstance(d, Dim):
                    key = (d.operand, d.axis)
                    if key not in dim_values:
                        dim_values[key] = fresh()
                        lines.append(
                            f"{dim_values[key]} = stablehlo.get_dimension_size {arg(d.operand)}, "
                            f"dim = {d.axis} : ({ops_types[d.operand]}) -> tensor<i32>"
                        )
                    size = dim_values[key]
                    if d.offset:
                        c, size = fresh(), fresh()
                        lines.append(f"{c} = stablehlo.constant dense<{d.offset}> : tensor<i32>")
                        lines.append(
                            f"{size} = stablehlo.add {dim_values[key]}, {c} : tensor<i32>"
                        )
                    v = fresh()
                    lines.append(
                        f"{v} = stablehlo.reshape {size} : (tensor<i32>) -> tensor<1xi32>"
                    )
                else:
                    v = fresh()
                    lines.append(f"{v} = stablehlo.constant dense<{d}> : tensor<1xi32>")
                pieces.append(v)
            if not pieces:
                v = fresh()
                lines.append(f"{v} = stablehlo.constant dense<> : tensor<0xi32>")
            elif len(pieces) == 1:
                v = pieces[0]
            else:
                v = fresh()
                lines.append(
                    f"{v} = stablehlo.concatenate {', '.join(pieces)}, dim = 0 : "
                    f"({', '.join(['tensor<1xi32>'] * len(pieces))}) -> tensor<{len(pieces)}xi32>"
                )
            shape_indices.append(len(call_operands))
            call_operands.append(v)
            call_types.append(f"tensor<{len(dims)}xi32>")
            call_layouts.append(_layout(1))

    config = ", ".join(entry for _, entry in attributes)
    call_attrs = [
        "api_version = 4 : i32",
        f"backend_config = {{{config}}}",
    ]
    if shape_indices:
        call_attrs.append(
            f"indices_of_shape_operands = dense<[{', '.join(map(str, shape_indices))}]> "
            f": tensor<{len(shape_indices)}xi64>"
        )
    call_attrs.append(f"operand_layouts = [{', '.join(call_layouts)}]")
    call_attrs.append(f"result_layouts = [{', '.join(_layout(len(s)) for s in res_shapes)}]")

    n = len(results)
    out = fresh()
    lines.append(
        f"{out}{':' + str(n) if n > 1 else ''} = stablehlo.custom_call @{target}"
        f"({', '.join(call_operands)}) {{{', '.join(call_attrs)}}} : "
        f"({', '.join(call_types)}) -> ({', '.join(res_types)})"
    )
    outs = [f"{out}#{i}" for i in range(n)] if n > 1 else [out]
    lines.append(f"return {', '.join(outs)} : {', '.join(res_types)}")

    # With several platforms XlaCallModule passes the platform index first.
    # The handler name is the same on every platform, so it goes unused.
    args = [f"{arg(i)}: {t}" for i, t in enumerate(ops_types)]
    if len(platforms) > 1:
        args.insert(0, '%arg0: tensor<i32> {jax.global_constant = "_platform_index"}')
    module_attrs = ["mhlo.num_partitions = 1 : i32", "mhlo.num_replicas = 1 : i32"]
    if polymorphic:
        module_attrs.insert(0, "jax.uses_shape_polymorphism = true")
    text = "\n".join(
        [
            f"module @{_module_name(target)} attributes {{{', '.join(module_attrs)}}} {{",
            f"  func.func public @main({', '.join(args)}) -> ({', '.join(res_types)}) {{",
        ]
        + [f"    {l}" for l in lines]
        + ["  }", "}", ""]
    )
    return text, tuple(tf.TensorShape(s) for s in res_shapes)


def _module_name(target: str) -> str:
    return "ffi_" + re.sub(r"[^A-Za-z0-9_]", "_", target)


def _canon_call(
    target: str,
    operands: Sequence[tf.Tensor],
    results: Sequence[ResultSpec],
    attributes: Mapping[str, AttrValue],
    platforms: Sequence[str],
):
    if not _IDENT.match(target):
        raise ValueError(f"target {target!r} is not a bare MLIR symbol name")
    platforms = tuple(p.upper() for p in platforms)
    for p in platforms:
        if p not in _PLATFORMS:
            raise ValueError(f"platform {p!r} is not one of {_PLATFORMS}")
    if not platforms:
        raise ValueError("need at least one platform")
    if not results:
        raise ValueError("need at least one result")
    sig = []
    for i, x in enumerate(operands):
        if x.shape.rank is None:
            raise ValueError(f"operand {i} has unknown rank; XlaCallModule needs the rank")
        if x.dtype not in _MLIR_DTYPES:
            raise TypeError(f"operand {i}: unsupported dtype {x.dtype!r}")
        sig.append((tuple(x.shape.as_list()), x.dtype))
    attrs = tuple(sorted((k, _attr(k, v)) for k, v in attributes.items()))
    return target, tuple(sig), _canon_results(results), attrs, platforms


def module_text(
    target: str,
    operands: Sequence[tf.Tensor | tf.TensorSpec],
    results: Sequence[ResultSpec],
    attributes: Mapping[str, AttrValue] = {},
    platforms: Sequence[str] = ("CPU", "CUDA"),
) -> str:
    """The StableHLO text :func:`ffi_call` would emit (for debugging and tests)."""
    return _build(*_canon_call(target, operands, results, attributes, platforms))[0]


def ffi_call(
    target: str,
    operands: Sequence[tf.Tensor],
    results: Sequence[ResultSpec],
    attributes: Mapping[str, AttrValue] = {},
    platforms: Sequence[str] = ("CPU", "CUDA"),
) -> list[tf.Tensor]:
    """Calls the FFI handler registered as ``target`` in TF's registry.

    Args:
      target: handler name, as registered with ``XLA_FFI_Handler_Register``.
      operands: tensors of known rank; any dimension may be unknown.
      results: ``(dims, dtype)`` per result; each dim is an int or a :class:`Dim`.
      attributes: FFI attributes: bool -> ``i1`` (``Attr<bool>``), int -> ``i64``,
        float -> ``f32``, str -> string; a numpy scalar keeps its own type
        (``np.float64(x)`` -> ``f64``, ``np.int32(x)`` -> ``i32``).
      platforms: XlaCallModule platforms the module may run on ("CPU", "CUDA").
        The device TF places the op on must be among them.

    Works eagerly, in ``tf.function`` and under ``jit_compile=True``. It has no
    gradient: wrap it in ``tf.custom_gradient``. See the module docstring for the
    errors a missing handler gives.
    """
    operands = [tf.convert_to_tensor(x) for x in operands]
    key = _canon_call(target, operands, results, attributes, platforms)
    # Cached per (target, operand signature, results, attributes, platforms), so
    # a retrace costs a dictionary lookup.
    module, shapes = _serialized(*key)
    return list(
        _tfxla.call_module(
            operands,
            version=_CALL_MODULE_VERSION,
            module=module,
            Tout=[t for _, t in key[2]],
            Sout=list(shapes),
            platforms=list(key[4]),
        )
    )


_CHECK_PLATFORMS = ("CPU", "CUDA")


def batch_check_text(names: Sequence[str], operands: Sequence[tuple[_Shape, tf.DType]]) -> str:
    """The module :func:`batch_check` emits, for operands given as (shape, dtype)."""
    types = [_tensor_type(s, _MLIR_DTYPES[t]) for s, t in operands]
    # %arg0 is the platform index XlaCallModule passes with several platforms.
    lines = [
        f"%b{i} = stablehlo.get_dimension_size %arg{i + 1}, dim = 0 : ({t}) -> tensor<i32>"
        for i, t in enumerate(types)
    ]
    for i in range(1, len(names)):
        # XlaCallModule evaluates shape assertions when it refines the module to
        # the actual shapes: at compile time under jit_compile, else at the call.
        lines += [
            f"%eq{i} = stablehlo.compare EQ, %b0, %b{i}, SIGNED : (tensor<i32>, tensor<i32>) -> "
            "tensor<i1>",
            f"stablehlo.custom_call @shape_assertion(%eq{i}, %b{i}, %b0) {{api_version = 2 : i32, "
            f'error_message = "{names[i]} has batch size {{0}} but {names[0]} has batch size '
            f'{{1}}", has_side_effect = true}} : (tensor<i1>, tensor<i32>, tensor<i32>) -> ()',
        ]
    lines.append("return %b0 : tensor<i32>")
    args = ", ".join(
        ['%arg0: tensor<i32> {jax.global_constant = "_platform_index"}']
        + [f"%arg{i + 1}: {t}" for i, t in enumerate(types)]
    )
    text = "\n".join(
        [
            "module @batch_check attributes {jax.uses_shape_polymorphism = true, "
            "mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {",
            f"  func.func public @main({args}) -> tensor<i32> {{",
        ]
        + [f"    {l}" for l in lines]
        + ["  }", "}", ""]
    )
    return text


@functools.lru_cache(maxsize=256)
def _batch_check_module(names: tuple[str, ...], operands: tuple[tuple[_Shape, tf.DType], ...]):
    return _serialize(batch_check_text(names, operands))


def batch_check(names: Sequence[str], operands: Sequence[tf.Tensor]) -> tf.Tensor:
    """The batch size (axis 0) of ``operands[0]``, failing with
    ``InvalidArgumentError: <name> has batch size 3 but <name 0> has batch size 2``
    when the operands' batch sizes differ; for sizes unknown at trace time.
    Needs no handler: XlaCallModule checks shape assertions itself."""
    for name in names:
        if not _IDENT.match(name):
            raise ValueError(f"name {name!r} is not a bare identifier")
    sig = tuple((tuple(x.shape.as_list()), x.dtype) for x in operands)
    (size,) = _tfxla.call_module(
        list(operands),
        version=_CALL_MODULE_VERSION,
        module=_batch_check_module(tuple(names), sig),
        Tout=[tf.int32],
        Sout=[tf.TensorShape([])],
        platforms=list(_CHECK_PLATFORMS),
    )
    return size
